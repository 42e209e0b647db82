package targets

import (
	"slices"
	"strings"
)

// rank sets ranks[i] to the rank of entries[i] among its schedule's entries
// of its host, for each i of idx (one schedule's entries, in list order). A
// target that stays on its schedule and host keeps its rank (current[old[ID]]),
// so that a re-import with a few targets added or removed rewrites only
// those: new ones take the lowest free ranks. The gaps removed targets leave
// are idle seconds in the host's pacing, so when they pass a quarter of the
// host's targets the host is ranked afresh, in list order.
func rank(entries []Entry, idx []int, current []Stored, old map[string]int, hosts hostNames, ranks []int) {
	// The schedule's entries grouped by host, hosts in the order they first
	// appear, in one array: byHost[start[h]:start[h+1]] are host h's.
	number := map[string]int{}
	var count []int
	host := make([]int, len(idx)) // host[k] is the number of idx[k]'s host
	for k, i := range idx {
		h := hosts.of(entries[i].URL)
		n, ok := number[h]
		if !ok {
			n = len(count)
			number[h] = n
			count = append(count, 0)
		}
		host[k] = n
		count[n]++
	}
	start := make([]int, len(count)+1)
	for n, c := range count {
		start[n+1] = start[n] + c
	}
	byHost := make([]int, len(idx))
	next := slices.Clone(start[:len(count)])
	for k, i := range idx {
		byHost[next[host[k]]] = i
		next[host[k]]++
	}

	var used []bool // used[r]: rank r is taken, reused from host to host
	for n := range count {
		group := byHost[start[n]:start[n+1]]
		h := hosts.of(entries[group[0]].URL)
		// A rank at or past limit would have the host ranked afresh anyway.
		limit := len(group) + len(group)/4
		used = slices.Grow(used[:0], limit)[:limit]
		clear(used)
		top, afresh := -1, false
		for _, i := range group {
			ranks[i] = -1
			j, had := old[entries[i].ID]
			if !had {
				continue
			}
			o := &current[j]
			if o.Schedule != entries[i].Schedule || o.Rank < 0 || (o.URL != entries[i].URL && hosts.of(o.URL) != h) {
				continue
			}
			if o.Rank >= limit {
				afresh = true
				break
			}
			if !used[o.Rank] {
				ranks[i], used[o.Rank] = o.Rank, true
				top = max(top, o.Rank)
			}
		}
		if !afresh {
			free := 0 // fewer than len(group) ranks are taken while one is free to give
			for _, i := range group {
				if ranks[i] < 0 {
					for used[free] {
						free++
					}
					ranks[i], used[free] = free, true
					top = max(top, free)
				}
			}
			afresh = top+1 > limit
		}
		if afresh {
			for k, i := range group {
				ranks[i] = k
			}
		}
	}
}

// hostNames remembers the host (Target.Host) of each scheme and authority
// it has seen, so that ranking a million targets on a thousand hosts parses
// a thousand URLs, not a million (each parse allocates a url.URL).
type hostNames map[string]string

// of is Target{URL: raw}.Host() for a URL that parses (every validated
// entry's): the host is in the authority, which url.Parse ends at the first
// /, ? or # after the scheme's "://", and reads alike in "scheme://authority".
func (h hostNames) of(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || scheme == "" || strings.IndexFunc(scheme, notLetter) >= 0 {
		return Target{URL: raw}.Host()
	}
	key := raw
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		key = raw[:len(scheme)+len("://")+end]
	}
	if name, ok := h[key]; ok {
		return name
	}
	name := Target{URL: key}.Host()
	h[key] = name
	return name
}

func notLetter(r rune) bool { return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') }
