package storetest

import (
	"fmt"
	"testing"

	"github.com/cronless/cronless/shared/targets"
)

// testShardTail: ShardTail returns the last n targets of a shard, in ID
// order, as ShardTargets returns them; all of them when n is the shard's
// count or more, none for 0. The list is laid out in small shards (hash
// groups split into ID ranges), so that a shard's neighbours in the key
// space hold other shards' targets.
func testShardTail(t *testing.T, newStore func(t *testing.T) ListStore) {
	s := newStore(t)
	var entries []targets.Entry
	for i := range 120 {
		// Import order is not ID order.
		id := fmt.Sprintf("t-%03d", (i*37)%120)
		entries = append(entries, targets.Entry{ID: id, URL: "https://example.com/" + id, Schedule: "hourly"})
	}
	ch := targets.PlanList(nil, nil, entries, targets.WithShardSize(10))
	if err := s.ApplyTargets(t.Context(), ch, nil); err != nil {
		t.Fatalf("ApplyTargets: %v", err)
	}
	shards := ch.Layouts["hourly"].Shards
	ranges := 0
	for _, sh := range shards {
		if sh.From != "" || sh.To != "" {
			ranges++
		}
	}
	if ranges == 0 {
		t.Fatalf("layout %s: want ID ranges", asJSON(shards))
	}
	for _, sh := range shards {
		all := shardTargets(t, s, sh)
		if len(all) != sh.Count || sh.Count == 0 {
			t.Fatalf("ShardTargets(%d) holds %d targets, want the layout's %d (> 0)", sh.Index, len(all), sh.Count)
		}
		for _, n := range []int{0, 1, sh.Count - 1, sh.Count, sh.Count + 5} {
			got, err := s.ShardTail(t.Context(), sh, n)
			if err != nil {
				t.Fatalf("ShardTail(shard %d, %d): %v", sh.Index, n, err)
			}
			if got == nil {
				t.Errorf("ShardTail(shard %d, %d) = nil, want an empty slice at least", sh.Index, n)
			}
			want := all[len(all)-min(max(n, 0), len(all)):]
			checkStoredList(t, fmt.Sprintf("ShardTail(shard %d, %d)", sh.Index, n), got, want)
		}
	}
}
