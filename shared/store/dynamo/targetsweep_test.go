package dynamo

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/cronless/cronless/shared/targets"
)

// TestApplyTargetsSweeps: an apply that shrinks a layout and drops a
// schedule, cancelled once its layouts are written, leaves items no layout
// places and a record of where; an apply of an empty change (what
// importing the same file again finds) deletes them by key and the record
// with them; then an empty change reads one small item, and a change that
// keeps every shard's bounds sweeps nothing.
func TestApplyTargetsSweeps(t *testing.T) {
	client := dynalite(t)
	s, m := meteredStore(t, client)
	size := targets.WithShardSize(4)
	var before, after []targets.Entry
	for i, e := range entries("hourly", "t", 0, 96) {
		before = append(before, e)
		if i%2 == 0 {
			after = append(after, e)
		}
	}
	before = append(before, entries("weekly", "w", 0, 2)...)
	full := targets.PlanList(nil, nil, before, size)
	if err := s.ApplyTargets(t.Context(), full, nil); err != nil {
		t.Fatal(err)
	}
	ch := targets.PlanList(full.Put, full.Layouts, after, size)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := s.ApplyTargets(ctx, ch, func(n int) {
		if n >= len(ch.Put)+len(ch.Layouts) {
			cancel()
		}
	}); err == nil {
		t.Fatal("ApplyTargets cancelled after its layouts returned no error")
	}
	// The partitions of every shard either layout has, and weekly's.
	partitions := map[string]bool{targetListPK("weekly", 0): true}
	for _, l := range []targets.Layout{full.Layouts["hourly"], ch.Layouts["hourly"]} {
		for _, sh := range l.Shards {
			partitions[targetListPK("hourly", sh.Index)] = true
		}
	}
	unplaced := func() []string {
		t.Helper()
		layouts, err := s.TargetLayouts(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for pk := range partitions {
			for _, it := range rawQuery(t, client, s.table, pk) {
				st, err := decodeStored(it)
				if err != nil {
					t.Fatal(err)
				}
				if layouts[st.Schedule].ShardOf(st.ID) != st.Shard {
					out = append(out, fmt.Sprintf("%s/%d/%s", st.Schedule, st.Shard, st.ID))
				}
			}
		}
		return out
	}
	if len(unplaced()) == 0 {
		t.Fatal("the cancelled apply left every item where a layout places it; the test needs some it did not delete")
	}
	if got := rawQuery(t, client, s.table, pkPending); len(got) == 0 {
		t.Fatal("the cancelled apply left no record of its shards to sweep")
	}

	m.Reset()
	if err := s.ApplyTargets(t.Context(), targets.Change{}, nil); err != nil {
		t.Fatal(err)
	}
	if left := unplaced(); len(left) > 0 {
		t.Errorf("after an empty change, %d items no layout places are stored: %s", len(left), strings.Join(left[:min(len(left), 10)], ", "))
	}
	if got := rawQuery(t, client, s.table, pkPending); len(got) != 0 {
		t.Errorf("after the sweep, %d records of shards to sweep are stored, want none", len(got))
	}
	deleted := 0
	for _, c := range m.Calls() {
		if c.Op == "BatchWriteItem" && c.Label == "stored target" {
			deleted += int(c.Total().Write)
		}
	}
	if deleted == 0 {
		t.Error("the sweep wrote no delete of a stored target")
	}

	m.Reset()
	if err := s.ApplyTargets(t.Context(), targets.Change{}, nil); err != nil {
		t.Fatal(err)
	}
	if calls := m.Calls(); len(calls) != 1 || calls[0].Op != "Query" || calls[0].Total().Read > 1 {
		t.Errorf("an empty change with nothing to sweep made %+v, want one Query of at most 1 RRU", calls)
	}

	// One target more keeps every shard's bounds (its count changes).
	layouts, err := s.TargetLayouts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	grown := targets.PlanList(allStored(t, s), layouts, append(after, entry("t-9999999", "hourly")), size)
	if len(grown.Layouts) != 1 || len(grown.Put) != 1 {
		t.Fatalf("adding a target changes %d layouts and puts %d targets, want 1 and 1", len(grown.Layouts), len(grown.Put))
	}
	m.Reset()
	if err := s.ApplyTargets(t.Context(), grown, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range m.Calls() {
		if c.Op == "Query" && c.Label == "stored target" {
			t.Errorf("a change that keeps every shard's bounds queried a shard: %+v", c)
		}
	}
}

// A first import sweeps nothing: its shards are new to the layout and
// hold its own puts alone, so re-reading them (a million items at scale)
// would find nothing to delete. (Its record of shards is still written
// first and deleted last, for an import cut short: TestApplyTargetsSweeps.)
func TestFirstImportSweepsNothing(t *testing.T) {
	s, m := meteredStore(t, dynalite(t))
	ch := targets.PlanList(nil, nil, entries("hourly", "t", 0, 40), targets.WithShardSize(4))
	if len(ch.Layouts["hourly"].Shards) < 2 {
		t.Fatalf("layout %+v: want several shards", ch.Layouts["hourly"])
	}
	if err := s.ApplyTargets(t.Context(), ch, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range m.Calls() {
		if c.Op == "Query" && c.Label == "stored target" {
			t.Errorf("a first import queried a shard: %+v", c)
		}
	}
	if got := allStored(t, s); len(got) != 40 {
		t.Errorf("%d targets stored, want 40", len(got))
	}
}
