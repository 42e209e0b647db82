package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/targets"
)

// relayoutSize is the shard size the lists of testRelayoutInterrupted are
// laid out with: small enough that a hundred targets are some 24 shards.
var relayoutSize = targets.WithShardSize(4)

// relayoutLists are three lists laid out in shards of relayoutSize:
// before, 96 targets of schedule hourly (t000 to t095) and two of weekly;
// after, before's even hourly IDs only (fewer shards, other bounds) and
// no weekly; grown, after's, 48 new hourly IDs and a new weekly target
// (about as many shards as before, so that the shards of before's removed
// targets are laid out again).
func relayoutLists() (before, after, grown []targets.Entry) {
	e := func(id, schedule string, i int) targets.Entry {
		return targets.Entry{ID: id, URL: fmt.Sprintf("https://shop%d.example/%s", i%3, id), Schedule: schedule}
	}
	for i := range 96 {
		before = append(before, e(fmt.Sprintf("t%03d", i), "hourly", i))
		if i%2 == 0 {
			after = append(after, e(fmt.Sprintf("t%03d", i), "hourly", i))
		}
	}
	before = append(before, e("w1", "weekly", 1), e("w2", "weekly", 2))
	grown = slices.Clone(after)
	for i := 1; i < 96; i += 2 {
		grown = append(grown, e(fmt.Sprintf("u%03d", i), "hourly", i))
	}
	grown = append(grown, e("w3", "weekly", 3))
	return before, after, grown
}

// testRelayoutInterrupted: an import that lays a schedule out anew and
// drops another, cut short once its layouts are written, is finished by
// importing the same file again (ApplyTargets finishes an interrupted
// apply even when the change it is given is empty), and no target it
// removed comes back when a later import lays the schedules out as they
// were, whether the same file was imported in between or not.
func testRelayoutInterrupted(t *testing.T, newStore func(t *testing.T) ListStore) {
	before, after, grown := relayoutLists()
	full := targets.PlanList(nil, nil, before, relayoutSize)
	ch := targets.PlanList(full.Put, full.Layouts, after, relayoutSize)
	checkRelayoutLists(t, full, ch, grown)

	cuts := []struct {
		name string
		cut  func(t *testing.T, s ListStore)
	}{
		{"cancelled once its layouts are written", func(t *testing.T, s ListStore) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			written := len(ch.Put) + len(ch.Layouts)
			err := s.ApplyTargets(ctx, ch, func(n int) {
				if n >= written {
					cancel()
				}
			})
			if err == nil {
				t.Fatalf("ApplyTargets cancelled after its %d puts and layouts (of %d items) returned no error", written, written+len(ch.Delete)+len(ch.Dropped))
			}
		}},
		{"its dropped layouts written before its deletes", func(t *testing.T, s ListStore) {
			apply(t, s, targets.Change{Put: ch.Put, Layouts: ch.Layouts, Dropped: ch.Dropped})
		}},
	}
	resumes := []struct {
		name  string
		lists [][]targets.Entry
	}{
		{"the same file, then a grown one", [][]targets.Entry{after, grown}},
		{"a grown one", [][]targets.Entry{grown}},
	}
	for _, cut := range cuts {
		for _, resume := range resumes {
			t.Run(cut.name+", then "+resume.name, func(t *testing.T) {
				s := newStore(t)
				apply(t, s, full)
				cut.cut(t, s)
				for _, entries := range resume.lists {
					current, layouts := eachTarget(t, s), layoutsOf(t, s)
					next := targets.PlanList(current, layouts, entries, relayoutSize)
					// Applied even when empty (cronless targets import
					// then writes nothing else): it finishes the cut.
					apply(t, s, next)
					want, wantLayouts := applied(current, layouts, next)
					checkHolds(t, s, entries, want, wantLayouts, relayoutSize)
					checkGone(t, s, before, entries)
				}
			})
		}
	}
}

// checkRelayoutLists fails unless the lists exercise what
// testRelayoutInterrupted is for: ch lays hourly out in fewer shards and
// drops weekly, and some hourly target ch removes is stored under a shard
// index whose new bounds do not hold it, and which the grown list's layout
// gives back bounds that do.
func checkRelayoutLists(t *testing.T, full, ch targets.Change, grown []targets.Entry) {
	t.Helper()
	old, shrunk := full.Layouts["hourly"], ch.Layouts["hourly"]
	if len(shrunk.Shards) == 0 || len(shrunk.Shards) >= len(old.Shards) || !slices.Equal(ch.Dropped, []string{"weekly"}) {
		t.Fatalf("the re-import lays hourly out in %d shards (from %d) and drops %q; want fewer shards and weekly dropped",
			len(shrunk.Shards), len(old.Shards), ch.Dropped)
	}
	kept, keptLayouts := applied(full.Put, full.Layouts, ch)
	regrown, ok := targets.PlanList(kept, keptLayouts, grown, relayoutSize).Layouts["hourly"]
	if !ok {
		t.Fatal("the grown list keeps hourly's layout; want it laid out anew")
	}
	for _, st := range ch.Delete {
		if st.Schedule == "hourly" && shrunk.ShardOf(st.ID) != st.Shard && regrown.ShardOf(st.ID) == st.Shard && !slices.ContainsFunc(grown, func(e targets.Entry) bool { return e.ID == st.ID }) {
			return
		}
	}
	t.Fatal("no removed hourly target is under a shard the re-import's bounds do not hold it in and the grown list's do")
}

// checkGone fails unless StoredTarget finds none of the targets of before
// that entries does not list.
func checkGone(t *testing.T, s ListStore, before, entries []targets.Entry) {
	t.Helper()
	for _, e := range before {
		if slices.ContainsFunc(entries, func(k targets.Entry) bool { return k.ID == e.ID }) {
			continue
		}
		if st, err := s.StoredTarget(t.Context(), e.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("StoredTarget(%q) after its removal: %s, %v; want ErrNotFound", e.ID, asJSON(st), err)
		}
	}
}
