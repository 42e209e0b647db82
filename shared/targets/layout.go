package targets

import (
	"hash/fnv"
	"slices"
	"sort"
)

// A stored target list is planned in shards, each by its own planner
// invocation (docs/scale.md). The layout is computed here, once, when a
// list is imported, so every store lays a list out alike:
//
//   - a schedule of at most ShardSize targets is one shard;
//   - a larger one is split first into Groups groups by an FNV-1a hash of
//     the target ID (the same hash and count as the results' run shards in
//     DynamoDB, so that a shard's previous results are one key range of one
//     run shard), and each group into equal ranges of target IDs, as many
//     in every group, so that no shard holds more than ShardSize targets.
//
// A target's rank is its place among its schedule's targets of the same
// host (import order at first; see rank for re-imports): the planner paces
// the job of rank k of a host k / rate after the tick, whichever shard
// plans it, so the fleet-wide pacing holds across shards as in one planner.

// Groups is how many hash groups a large schedule's targets are split into
// first. It equals the DynamoDB adapter's RunShards (a test checks).
const Groups = 8

// ShardSize is the most targets a shard holds when its schedule's layout is
// computed. Ten thousand jobs are 1,000 SendMessageBatch calls: about 2.5 s
// at 8 in parallel and 20 ms each, well inside the planner's timeout.
const ShardSize = 10_000

// AllGroups is the Group of the single shard of a small schedule: every
// target, whatever its hash.
const AllGroups = -1

// Shard is one part of a schedule's target list, planned by one planner
// invocation: the targets of Group (or of every group) whose IDs are in
// [From, To), an empty bound being open.
type Shard struct {
	Schedule string `json:"schedule"`
	Index    int    `json:"index"`
	Group    int    `json:"group"`
	From     string `json:"from,omitempty"`
	To       string `json:"to,omitempty"`
	// Count is how many targets the shard held when the list was imported.
	Count int `json:"count"`
}

// Holds reports whether the target ID belongs to the shard.
func (s Shard) Holds(id string) bool {
	return (s.Group == AllGroups || s.Group == Group(id)) && id >= s.From && (s.To == "" || id < s.To)
}

// Layout is how one schedule's stored targets are split into shards.
type Layout struct {
	Schedule string  `json:"schedule"`
	Shards   []Shard `json:"shards"`
}

// Count is how many targets the layout held when it was computed.
func (l Layout) Count() int {
	n := 0
	for _, s := range l.Shards {
		n += s.Count
	}
	return n
}

// ShardOf is the index of the shard that holds id, or -1 when no shard of
// the layout does.
func (l Layout) ShardOf(id string) int {
	g := Group(id)
	for _, s := range l.Shards {
		if (s.Group == AllGroups || s.Group == g) && id >= s.From && (s.To == "" || id < s.To) {
			return s.Index
		}
	}
	return -1
}

// Group is the hash group of a target ID: FNV-1a, modulo Groups.
func Group(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % Groups)
}

// ListOption adjusts PlanList.
type ListOption func(*listConfig)

type listConfig struct{ shardSize int }

// WithShardSize lays schedules out in shards of at most n targets instead of
// ShardSize: for tests and benchmarks that need many shards of a small
// list (n ≥ 1).
func WithShardSize(n int) ListOption {
	return func(c *listConfig) { c.shardSize = max(1, n) }
}

// Stored is an entry where a list keeps it: its shard in its schedule's
// layout and its rank among the targets of its schedule and host.
type Stored struct {
	Entry
	Shard int
	Rank  int
}

// Change is what turns one stored list into another: what
// cronless targets import writes, and prints with --dry-run.
type Change struct {
	// Added, Changed and Removed are the IDs whose entries are new, differ
	// or are gone, each sorted.
	Added, Changed, Removed []string
	// Put are the targets to write: added, changed, or with a new shard or
	// rank. Delete are the stored targets to delete: removed, or moved to
	// another shard or schedule (written under their new key by Put).
	Put    []Stored
	Delete []Stored
	// Layouts are the new layouts of every schedule with stored targets;
	// Dropped are the schedules that had stored targets and have none now.
	Layouts map[string]Layout
	Dropped []string
}

// Empty reports whether the change writes nothing.
func (c Change) Empty() bool {
	return len(c.Put) == 0 && len(c.Delete) == 0 && len(c.Dropped) == 0 && len(c.Layouts) == 0
}

// PlanList computes the change that makes the stored list (current, laid
// out as layouts) hold exactly entries, in their order (the import file's;
// IDs unique, entries validated). A schedule keeps its shard boundaries as
// long as it needs as many shards and none grows past 1.5 × ShardSize, so
// that adding or removing a few targets moves no others.
//
// A million targets are planned in one pass per schedule that places each
// entry, then one that counts what to write and one that writes it into
// slices of that size: the change is the bulk of what PlanList allocates.
func PlanList(current []Stored, layouts map[string]Layout, entries []Entry, opts ...ListOption) Change {
	cfg := listConfig{shardSize: ShardSize}
	for _, o := range opts {
		o(&cfg)
	}
	schedules, bySchedule := groupBySchedule(entries)
	old := make(map[string]int, len(current)) // ID to index in current
	for j, s := range current {
		old[s.ID] = j
	}
	var ch Change
	ch.Layouts = make(map[string]Layout, len(schedules))
	hosts := hostNames{}
	ranks := make([]int, len(entries))
	shard := make([]int, len(entries))
	for _, sched := range schedules {
		idx := bySchedule[sched]
		l := layout(sched, entries, idx, layouts[sched], cfg.shardSize)
		if prev, ok := layouts[sched]; !ok || !sameLayout(prev, l) {
			ch.Layouts[sched] = l
		}
		rank(entries, idx, current, old, hosts, ranks)
		for _, i := range idx {
			shard[i] = l.ShardOf(entries[i].ID)
		}
	}

	// What each entry needs, counted, then written in schedule order.
	const added, changed, moved, put = 1, 2, 4, 8
	need := make([]uint8, len(entries))
	kept := make([]bool, len(current)) // current[j] is in entries
	var nAdded, nChanged, nMoved, nPut int
	for i, e := range entries {
		j, had := old[e.ID]
		if !had {
			need[i] = added | put
			nAdded++
			nPut++
			continue
		}
		kept[j] = true
		o := &current[j]
		if !o.Entry.Equal(e) {
			need[i] |= changed | put
			nChanged++
		}
		if o.Schedule != e.Schedule || o.Shard != shard[i] {
			need[i] |= moved
			nMoved++
		}
		if o.Shard != shard[i] || o.Rank != ranks[i] {
			need[i] |= put
		}
		if need[i]&put != 0 {
			nPut++
		}
	}
	nRemoved := 0
	for _, s := range current {
		if !kept[old[s.ID]] {
			nRemoved++
		}
	}
	ch.Added = withRoom[string](nAdded)
	ch.Changed = withRoom[string](nChanged)
	ch.Removed = withRoom[string](nRemoved)
	ch.Put = withRoom[Stored](nPut)
	ch.Delete = withRoom[Stored](nMoved + nRemoved)
	for _, sched := range schedules {
		for _, i := range bySchedule[sched] {
			e := entries[i]
			switch {
			case need[i]&added != 0:
				ch.Added = append(ch.Added, e.ID)
			case need[i]&changed != 0:
				ch.Changed = append(ch.Changed, e.ID)
			}
			if need[i]&moved != 0 {
				ch.Delete = append(ch.Delete, current[old[e.ID]])
			}
			if need[i]&put != 0 {
				ch.Put = append(ch.Put, Stored{Entry: e, Shard: shard[i], Rank: ranks[i]})
			}
		}
	}
	for _, s := range current {
		if !kept[old[s.ID]] {
			ch.Removed = append(ch.Removed, s.ID)
			ch.Delete = append(ch.Delete, s)
		}
	}
	for sched := range layouts {
		if _, ok := bySchedule[sched]; !ok {
			ch.Dropped = append(ch.Dropped, sched)
		}
	}
	slices.Sort(ch.Added)
	slices.Sort(ch.Changed)
	slices.Sort(ch.Removed)
	slices.Sort(ch.Dropped)
	return ch
}

// withRoom is an empty slice with room for n, nil when n is 0 (as a
// change's lists of nothing have always been).
func withRoom[T any](n int) []T {
	if n == 0 {
		return nil
	}
	return make([]T, 0, n)
}

// groupBySchedule returns the schedules of entries in the order they first
// appear, and the indices of each one's entries, in list order (slices of
// one array).
func groupBySchedule(entries []Entry) ([]string, map[string][]int) {
	count := map[string]int{}
	var schedules []string
	for _, e := range entries {
		if _, ok := count[e.Schedule]; !ok {
			schedules = append(schedules, e.Schedule)
		}
		count[e.Schedule]++
	}
	all := make([]int, 0, len(entries))
	by := make(map[string][]int, len(schedules))
	for _, sched := range schedules {
		by[sched] = all[len(all) : len(all) : len(all)+count[sched]]
		all = all[:len(all)+count[sched]]
	}
	for i, e := range entries {
		by[e.Schedule] = append(by[e.Schedule], i)
	}
	return schedules, by
}

// layout lays out one schedule's entries (entries[i] for i in idx),
// keeping prev's boundaries when they still fit.
func layout(schedule string, entries []Entry, idx []int, prev Layout, size int) Layout {
	n := len(idx)
	if n <= size {
		return Layout{Schedule: schedule, Shards: []Shard{{Schedule: schedule, Index: 0, Group: AllGroups, Count: n}}}
	}
	per := make([]int, Groups) // targets, then shards, of each group
	for _, i := range idx {
		per[Group(entries[i].ID)]++
	}
	groups := make([][]string, Groups) // slices of one array
	all := make([]string, 0, n)
	for g, c := range per {
		groups[g] = all[len(all) : len(all) : len(all)+c]
		all = all[:len(all)+c]
	}
	for _, i := range idx {
		g := Group(entries[i].ID)
		groups[g] = append(groups[g], entries[i].ID)
	}
	for g, ids := range groups {
		per[g] = max(1, (len(ids)+size-1)/size)
	}
	if kept, ok := keep(prev, groups, per, size); ok {
		return kept
	}
	l := Layout{Schedule: schedule, Shards: make([]Shard, 0, Groups)}
	for g, ids := range groups {
		sort.Strings(ids)
		from := ""
		for j := range per[g] {
			lo, hi := j*len(ids)/per[g], (j+1)*len(ids)/per[g]
			s := Shard{Schedule: schedule, Index: len(l.Shards), Group: g, From: from, Count: hi - lo}
			if j < per[g]-1 {
				s.To = ids[hi] // hi < len(ids): a group of n > size splits into ranges of at least size/2
			}
			from = s.To
			l.Shards = append(l.Shards, s)
		}
	}
	return l
}

// keep returns prev with its counts redone for the IDs of each group, when
// prev splits every group into as many shards as per says and none grows
// past 1.5 × size.
func keep(prev Layout, groups [][]string, per []int, size int) (Layout, bool) {
	have := make([]int, Groups)
	for _, s := range prev.Shards {
		if s.Group == AllGroups {
			return Layout{}, false
		}
		have[s.Group]++
	}
	if !slices.Equal(have, per) {
		return Layout{}, false
	}
	kept := Layout{Schedule: prev.Schedule, Shards: slices.Clone(prev.Shards)}
	for i := range kept.Shards {
		kept.Shards[i].Count = 0
	}
	for _, ids := range groups {
		for _, id := range ids {
			i := kept.ShardOf(id)
			if i < 0 {
				return Layout{}, false
			}
			kept.Shards[i].Count++
		}
	}
	for _, s := range kept.Shards {
		if s.Count > size*3/2 {
			return Layout{}, false
		}
	}
	return kept, true
}

// sameLayout reports whether two layouts split alike and count alike.
func sameLayout(a, b Layout) bool {
	return a.Schedule == b.Schedule && slices.Equal(a.Shards, b.Shards)
}
