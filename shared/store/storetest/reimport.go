package storetest

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/targets"
)

// reimportLists are a list and the one that replaces it: a target changed
// (a, its URL; d, its extract), one added (e), two removed (b, y), one
// moved to another schedule (m) and a schedule dropped (weekly). c is
// unchanged, b (of its host, before it) gone.
func reimportLists() (before, after []targets.Entry) {
	e := func(id, schedule, url string) targets.Entry {
		return targets.Entry{ID: id, URL: url, Schedule: schedule}
	}
	before = []targets.Entry{
		e("a", "hourly", "https://shop.example/a"),
		e("b", "hourly", "https://shop.example/b"),
		{ID: "c", URL: "https://shop.example/c", Schedule: "hourly", Robots: &no, Timeout: 20 * time.Second},
		{ID: "d", URL: "https://shop.example/d", Schedule: "hourly", Extract: "product"},
		e("m", "hourly", "https://news.example/m"),
		e("x", "daily", "https://news.example/x"),
		e("y", "daily", "https://news.example/y"),
		e("w1", "weekly", "https://blog.example/1"),
		e("w2", "weekly", "https://blog.example/2"),
	}
	after = []targets.Entry{
		e("a", "hourly", "https://shop.example/a?v=2"),
		{ID: "c", URL: "https://shop.example/c", Schedule: "hourly", Robots: &no, Timeout: 20 * time.Second},
		{ID: "d", URL: "https://shop.example/d", Schedule: "hourly", Rules: map[string]job.Rule{"title": {CSS: "h1"}}},
		e("e", "hourly", "https://shop.example/e"),
		e("x", "daily", "https://news.example/x"),
		e("m", "daily", "https://news.example/m"),
	}
	return before, after
}

// testReimport: importing a new list leaves exactly it stored, and
// applying the same change again changes nothing.
func testReimport(t *testing.T, newStore func(t *testing.T) ListStore) {
	s := newStore(t)
	before, after := reimportLists()
	apply(t, s, targets.PlanList(nil, nil, before))

	current, layouts := eachTarget(t, s), layoutsOf(t, s)
	ch := targets.PlanList(current, layouts, after)
	// What the stored list reads as decides the diff an import prints.
	for _, d := range []struct {
		what      string
		got, want []string
	}{
		{"added", ch.Added, []string{"e"}},
		{"changed", ch.Changed, []string{"a", "d", "m"}},
		{"removed", ch.Removed, []string{"b", "w1", "w2", "y"}},
		{"dropped", ch.Dropped, []string{"weekly"}},
	} {
		if !slices.Equal(d.got, d.want) {
			t.Errorf("re-import against the stored list: %s %q, want %q", d.what, d.got, d.want)
		}
	}
	apply(t, s, ch)
	want, wantLayouts := applied(current, layouts, ch)
	checkHolds(t, s, after, want, wantLayouts)
	for _, id := range []string{"b", "y", "w1"} {
		if _, err := s.StoredTarget(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("StoredTarget(%q) after its removal: error %v, want ErrNotFound", id, err)
		}
	}
	if got := shardTargets(t, s, targets.Shard{Schedule: "weekly", Index: 0, Group: targets.AllGroups}); len(got) != 0 {
		t.Errorf("ShardTargets of the dropped schedule = %s, want none", asJSON(got))
	}
	apply(t, s, ch)
	checkHolds(t, s, after, want, wantLayouts)
}

// testReimportInterrupted: an import cut short (some of its writes done)
// and run again, as the same change or planned afresh against what was
// stored, ends in the new list.
func testReimportInterrupted(t *testing.T, newStore func(t *testing.T) ListStore) {
	before, after := reimportLists()
	full := targets.PlanList(nil, nil, before)
	ch := targets.PlanList(full.Put, full.Layouts, after)
	if len(ch.Put) < 3 || len(ch.Delete) < 2 {
		t.Fatalf("the re-import puts %d and deletes %d targets; the cuts below need at least 3 and 2", len(ch.Put), len(ch.Delete))
	}
	cuts := []struct {
		name string
		done targets.Change
	}{
		{"after the first put", targets.Change{Put: ch.Put[:1]}},
		{"halfway through the puts", targets.Change{Put: ch.Put[:len(ch.Put)/2]}},
		{"before the layouts", targets.Change{Put: ch.Put}},
		{"halfway through the deletes", targets.Change{Put: ch.Put, Layouts: ch.Layouts, Delete: ch.Delete[:len(ch.Delete)/2]}},
		{"before the dropped schedules", targets.Change{Put: ch.Put, Layouts: ch.Layouts, Delete: ch.Delete}},
	}
	for _, cut := range cuts {
		for _, resume := range []string{"the same change", "planned again"} {
			t.Run(cut.name+", then "+resume, func(t *testing.T) {
				s := newStore(t)
				apply(t, s, full)
				apply(t, s, cut.done)
				want, wantLayouts := applied(full.Put, full.Layouts, ch)
				again := ch
				if resume == "planned again" {
					// Planned against what was stored, which may rank
					// the targets otherwise.
					current, layouts := eachTarget(t, s), layoutsOf(t, s)
					again = targets.PlanList(current, layouts, after)
					want, wantLayouts = applied(current, layouts, again)
				}
				apply(t, s, again)
				checkHolds(t, s, after, want, wantLayouts)
			})
		}
	}
}

// checkHolds fails unless s holds exactly entries, stored as want and
// laid out as wantLayouts, and unless importing entries again (planned
// with opts) finds nothing to do.
func checkHolds(t *testing.T, s ListStore, entries []targets.Entry, want []targets.Stored, wantLayouts map[string]targets.Layout, opts ...targets.ListOption) {
	t.Helper()
	all := eachTarget(t, s)
	byID := make(map[string]targets.Entry, len(all))
	for _, st := range all {
		byID[st.ID] = st.Entry
	}
	for _, e := range entries {
		if got, ok := byID[e.ID]; !ok || !got.Equal(e) {
			t.Errorf("stored %s: %s, want %s", e.ID, asJSON(got), asJSON(e))
		}
	}
	if len(all) != len(entries) {
		t.Errorf("EachTarget read %d targets, want the %d imported", len(all), len(entries))
	}
	if got := layoutsOf(t, s); !reflect.DeepEqual(got, wantLayouts) {
		t.Errorf("TargetLayouts =\n%s\nwant\n%s", asJSON(got), asJSON(wantLayouts))
	}
	checkStoredList(t, "EachTarget", all, exportOrder(want))
	for _, l := range wantLayouts {
		for _, sh := range l.Shards {
			checkStoredList(t, fmt.Sprintf("ShardTargets(%s/%d)", sh.Schedule, sh.Index), shardTargets(t, s, sh), inShard(want, sh))
		}
	}
	if again := targets.PlanList(all, layoutsOf(t, s), entries, opts...); !again.Empty() {
		t.Errorf("the list planned against the stored one: %s, want an empty change", asJSON(again))
	}
}

// applied is the list and layouts that applying ch to current and layouts
// leaves, as store.TargetList defines it: the puts by ID, the layouts, the
// deletes of targets still where ch found them, the dropped schedules.
func applied(current []targets.Stored, layouts map[string]targets.Layout, ch targets.Change) ([]targets.Stored, map[string]targets.Layout) {
	byID := make(map[string]targets.Stored, len(current))
	for _, st := range current {
		byID[st.ID] = st
	}
	for _, st := range ch.Put {
		byID[st.ID] = st
	}
	for _, d := range ch.Delete {
		if st, ok := byID[d.ID]; ok && st.Schedule == d.Schedule && st.Shard == d.Shard {
			delete(byID, d.ID)
		}
	}
	ls := maps.Clone(layouts)
	if ls == nil {
		ls = map[string]targets.Layout{}
	}
	maps.Copy(ls, ch.Layouts)
	for _, sched := range ch.Dropped {
		delete(ls, sched)
	}
	return slices.Collect(maps.Values(byID)), ls
}
