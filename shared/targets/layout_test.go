package targets_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/cronless/cronless/shared/targets"
)

func listOf(n int, schedule string, from int) []targets.Entry {
	es := make([]targets.Entry, n)
	for i := range es {
		es[i] = targets.Entry{ID: fmt.Sprintf("t-%07d", from+i), URL: fmt.Sprintf("https://h%d.example.com/%d", (from+i)%7, from+i), Schedule: schedule}
	}
	return es
}

// apply is what a store does with a change: the result is the new list.
func apply(cur []targets.Stored, ch targets.Change) []targets.Stored {
	byID := map[string]targets.Stored{}
	for _, s := range cur {
		byID[s.ID] = s
	}
	for _, s := range ch.Delete {
		delete(byID, s.ID)
	}
	for _, s := range ch.Put {
		byID[s.ID] = s
	}
	var out []targets.Stored
	for _, s := range byID {
		out = append(out, s)
	}
	return out
}

// Every target is in exactly the one shard that holds it; no shard holds
// more than ShardSize; ranks count each host's targets in list order.
func TestPlanListLayout(t *testing.T) {
	for _, n := range []int{0, 1, targets.ShardSize, targets.ShardSize + 1, 95_000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			es := listOf(n, "hourly", 0)
			ch := targets.PlanList(nil, nil, es)
			if n == 0 {
				if !ch.Empty() {
					t.Fatalf("an empty list changes %+v", ch)
				}
				return
			}
			l := ch.Layouts["hourly"]
			if l.Count() != n {
				t.Fatalf("layout counts %d, want %d", l.Count(), n)
			}
			if n <= targets.ShardSize && (len(l.Shards) != 1 || l.Shards[0].Group != targets.AllGroups) {
				t.Fatalf("a list of %d is %d shards, want one of every group", n, len(l.Shards))
			}
			counts := make([]int, len(l.Shards))
			rank := map[string]int{}
			for i, s := range ch.Put {
				counts[s.Shard]++
				holders := 0
				for _, sh := range l.Shards {
					if sh.Holds(s.ID) {
						holders++
					}
				}
				if holders != 1 || !l.Shards[s.Shard].Holds(s.ID) {
					t.Fatalf("%s is held by %d shards (its own: %d)", s.ID, holders, s.Shard)
				}
				if want := rank[es[i].Host()]; s.Rank != want { // a first import ranks in list order
					t.Fatalf("%s has rank %d, want %d", s.ID, s.Rank, want)
				}
				rank[es[i].Host()]++
			}
			for i, sh := range l.Shards {
				if sh.Index != i || sh.Count != counts[i] || sh.Count > targets.ShardSize {
					t.Errorf("shard %d: %+v, holds %d", i, sh, counts[i])
				}
			}
		})
	}
}

// Re-importing with a few targets added and removed moves no other target
// to another shard, and the diff names exactly what changed.
func TestPlanListKeepsBoundaries(t *testing.T) {
	es := listOf(50_000, "hourly", 0)
	first := targets.PlanList(nil, nil, es)
	cur := apply(nil, first)

	next := append(slices.Clone(es[10:]), listOf(5, "hourly", 50_000)...) // 10 removed at the front, 5 added
	next[100].URL += "?v=2"                                               // one changed
	next[200].Schedule = "daily"                                          // one moved to another schedule
	ch := targets.PlanList(cur, first.Layouts, next)
	if len(ch.Added) != 5 || len(ch.Removed) != 10 || len(ch.Changed) != 2 {
		t.Fatalf("added %d, removed %d, changed %d; want 5, 10, 2", len(ch.Added), len(ch.Removed), len(ch.Changed))
	}
	if _, ok := ch.Layouts["hourly"]; ok && !slices.EqualFunc(ch.Layouts["hourly"].Shards, first.Layouts["hourly"].Shards,
		func(a, b targets.Shard) bool { return a.From == b.From && a.To == b.To && a.Group == b.Group }) {
		t.Errorf("the boundaries moved for a change of 17 targets")
	}
	moved := 0
	for _, d := range ch.Delete {
		if !slices.Contains(ch.Removed, d.ID) {
			moved++
		}
	}
	if moved != 1 {
		t.Errorf("%d targets deleted to move, want 1 (the one to daily)", moved)
	}
	// Kept targets keep their ranks: the puts are the 5 added and the 2
	// changed.
	if len(ch.Put) != 7 {
		t.Errorf("%d puts for a change of 17 targets, want 7", len(ch.Put))
	}
	after := apply(cur, ch)
	if len(after) != len(next) {
		t.Fatalf("the list holds %d after the change, want %d", len(after), len(next))
	}
	again := targets.PlanList(after, mergeLayouts(first.Layouts, ch), next)
	if !again.Empty() || len(again.Added)+len(again.Changed)+len(again.Removed) != 0 {
		t.Errorf("importing the same list again changes %d puts, %d deletes", len(again.Put), len(again.Delete))
	}

	// A schedule with no target left is dropped.
	gone := targets.PlanList(after, mergeLayouts(first.Layouts, ch), listOf(3, "hourly", 0))
	if !slices.Equal(gone.Dropped, []string{"daily"}) {
		t.Errorf("dropped %v, want [daily]", gone.Dropped)
	}
}

func mergeLayouts(old map[string]targets.Layout, ch targets.Change) map[string]targets.Layout {
	out := map[string]targets.Layout{}
	for k, v := range old {
		out[k] = v
	}
	for k, v := range ch.Layouts {
		out[k] = v
	}
	for _, k := range ch.Dropped {
		delete(out, k)
	}
	return out
}

// Ranks stay unique per host; a host that lost more than a quarter of its
// targets is ranked afresh, so its pacing has no long idle gaps.
func TestPlanListRanks(t *testing.T) {
	es := listOf(700, "hourly", 0) // 100 on each of 7 hosts
	first := targets.PlanList(nil, nil, es)
	cur := apply(nil, first)
	check := func(t *testing.T, list []targets.Stored, wantTop int) {
		t.Helper()
		seen := map[string]map[int]bool{}
		top := map[string]int{}
		for _, s := range list {
			h := s.Host()
			if seen[h] == nil {
				seen[h] = map[int]bool{}
			}
			if seen[h][s.Rank] {
				t.Fatalf("rank %d of %s given twice", s.Rank, h)
			}
			seen[h][s.Rank] = true
			top[h] = max(top[h], s.Rank)
		}
		for h, n := range top {
			if n+1 > wantTop {
				t.Errorf("%s ranks up to %d, want below %d", h, n, wantTop)
			}
		}
	}
	// 20 of each host's 100 go (a fifth): the gaps stay, nothing is rewritten.
	var kept []targets.Entry
	for i, e := range es {
		if i%5 != 0 {
			kept = append(kept, e)
		}
	}
	ch := targets.PlanList(cur, first.Layouts, kept)
	if len(ch.Put) != 0 {
		t.Errorf("removing a fifth rewrote %d targets", len(ch.Put))
	}
	cur = apply(cur, ch)
	check(t, cur, 100)
	// Half of what is left goes: each host is ranked afresh, 0 to 39.
	var half []targets.Entry
	for i, e := range kept {
		if i%2 == 0 {
			half = append(half, e)
		}
	}
	ch = targets.PlanList(cur, first.Layouts, half)
	cur = apply(cur, ch)
	check(t, cur, 40)
	// New targets take the free ranks.
	ch = targets.PlanList(cur, first.Layouts, append(half, listOf(7, "hourly", 5000)...))
	check(t, apply(cur, ch), 41)
}

// A smaller shard size (tests, benchmarks) splits a small list the same way.
func TestPlanListShardSize(t *testing.T) {
	ch := targets.PlanList(nil, nil, listOf(1000, "hourly", 0), targets.WithShardSize(50))
	l := ch.Layouts["hourly"]
	if len(l.Shards) < 1000/50 || l.Count() != 1000 {
		t.Fatalf("%d shards holding %d, want at least 20 holding 1000", len(l.Shards), l.Count())
	}
	for _, s := range l.Shards {
		if s.Count > 50 || s.Group == targets.AllGroups {
			t.Errorf("shard %+v: want at most 50 of one group", s)
		}
	}
}
