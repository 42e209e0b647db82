package storetest

import (
	"cmp"
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

// ListStore is a store that holds a target list: what RunTargetList tests.
type ListStore interface {
	store.Store
	store.TargetList
}

// defaultListSize is how many targets the large list of RunTargetList
// holds unless ListSize says otherwise.
const defaultListSize = 25_000

// minListSize is the smallest large list that still has range shards (a
// hash group of more than targets.ShardSize targets).
const minListSize = 14_000

// ListSize sets how many targets RunTargetList's large list holds (25,000
// by default, at least 14,000, so that one hash group still splits into
// ID ranges): a slow server's tests may use fewer.
func ListSize(n int) Option {
	return func(c *config) { c.listSize = n }
}

// RunTargetList runs the contract suite of store.TargetList. newStore must
// return a new, empty store for each call (it is called once per subtest)
// and register its cleanup with t.Cleanup. Lists are laid out by
// targets.PlanList, as cronless targets import lays them out.
func RunTargetList(t *testing.T, newStore func(t *testing.T) ListStore, opts ...Option) {
	c := newConfig(opts)
	tests := []suiteTest[ListStore]{
		{"ListRoundTrip", testListRoundTrip},
		{"EmptyList", testEmptyList},
		{"EachTargetStops", testEachTargetStops},
		{"ShardTail", testShardTail},
		{"LargeList", func(t *testing.T, newStore func(t *testing.T) ListStore) {
			testLargeList(t, newStore, c.listSize)
		}},
		{"Reimport", testReimport},
		{"ReimportInterrupted", testReimportInterrupted},
		{"RelayoutInterrupted", testRelayoutInterrupted},
		{"PlanParts", testPlanParts},
		{"PlanPartsBeforeRun", testPlanPartsBeforeRun},
		{"PlanPartRejected", testPlanPartRejected},
		{"PlanPartsConcurrent", testPlanPartsConcurrent},
		{"RecentRuns", testRecentRuns},
		{"ShardPrevious", testShardPrevious},
		{"ShardPreviousRange", testShardPreviousRange},
	}
	runSuite(t, tests, newStore, c)
}

var (
	yes = true
	no  = false
)

// richEntries are targets with every setting of an entry, in import order:
// two schedules, three hosts (shop.example's targets rank 0, 1, 2 in
// hourly and 0 in daily), IDs whose byte order is not their import order
// (an upper-case and a non-ASCII one among them).
func richEntries() []targets.Entry {
	rules := map[string]job.Rule{
		"price": {CSS: ".price", Attr: "data-value", Regex: `[0-9]+\.[0-9]{2}`, Required: true},
		"tags":  {CSS: ".tag", All: true},
		"title": {CSS: "h1"},
	}
	return []targets.Entry{
		{ID: "shop-b", URL: "https://shop.example/b", Schedule: "hourly",
			Timeout: 45 * time.Second, UserAgent: "price-bot/2 (+https://example.org/bot)", Robots: &yes, Extract: "product"},
		{ID: "shop-a", URL: "https://shop.example/a?colour=red&size=m", Schedule: "hourly", Robots: &no, Rules: rules},
		{ID: "news", URL: "https://news.example/", Schedule: "hourly", Timeout: 1500 * time.Millisecond},
		{ID: "Shop-Z", URL: "https://shop.example/z", Schedule: "hourly"},
		{ID: "café-crème", URL: "https://café.example/crème", Schedule: "hourly", Extract: "menu"},
		{ID: "daily-2", URL: "https://shop.example/daily", Schedule: "daily", UserAgent: "daily-bot"},
		{ID: "daily-1", URL: "https://news.example/daily", Schedule: "daily", Rules: map[string]job.Rule{"h": {CSS: "h2", All: true}}},
	}
}

// testListRoundTrip: what an import writes reads back exactly, by shard,
// by ID and in export order.
func testListRoundTrip(t *testing.T, newStore func(t *testing.T) ListStore) {
	s := newStore(t)
	entries := richEntries()
	ch := targets.PlanList(nil, nil, entries)
	apply(t, s, ch)

	want := ch.Put // every target is new: Put holds each with its shard and rank
	if got := layoutsOf(t, s); !reflect.DeepEqual(got, ch.Layouts) {
		t.Errorf("TargetLayouts =\n%s\nwant\n%s", asJSON(got), asJSON(ch.Layouts))
	}
	for _, l := range ch.Layouts {
		for _, sh := range l.Shards {
			checkStoredList(t, fmt.Sprintf("ShardTargets(%s/%d)", sh.Schedule, sh.Index), shardTargets(t, s, sh), inShard(want, sh))
		}
	}
	for _, w := range want {
		got, err := s.StoredTarget(t.Context(), w.ID)
		if err != nil {
			t.Errorf("StoredTarget(%q): %v", w.ID, err)
			continue
		}
		checkStoredList(t, fmt.Sprintf("StoredTarget(%q)", w.ID), []targets.Stored{got}, []targets.Stored{w})
	}
	if _, err := s.StoredTarget(t.Context(), "shop-x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("StoredTarget of an unknown ID: error %v, want ErrNotFound", err)
	}
	checkStoredList(t, "EachTarget", eachTarget(t, s), exportOrder(want))
	// Ranks are per schedule and host, in import order.
	ranks := map[string]int{}
	for _, st := range eachTarget(t, s) {
		ranks[st.ID] = st.Rank
	}
	wantRanks := map[string]int{"shop-b": 0, "shop-a": 1, "news": 0, "Shop-Z": 2, "café-crème": 0, "daily-2": 0, "daily-1": 0}
	if !maps.Equal(ranks, wantRanks) {
		t.Errorf("ranks %v, want %v", ranks, wantRanks)
	}
	// A shard of a schedule without targets holds none.
	if got := shardTargets(t, s, targets.Shard{Schedule: "weekly", Index: 0, Group: targets.AllGroups}); len(got) != 0 {
		t.Errorf("ShardTargets of a schedule with no stored targets = %s, want none", asJSON(got))
	}
	// Importing the same list again finds nothing to do: everything read
	// back says what was written.
	if again := targets.PlanList(eachTarget(t, s), layoutsOf(t, s), entries); !again.Empty() {
		t.Errorf("the same list planned against the stored one: %s, want an empty change", asJSON(again))
	}
}

// testEmptyList: a store without a list has no layouts and no targets.
func testEmptyList(t *testing.T, newStore func(t *testing.T) ListStore) {
	s := newStore(t)
	if got := layoutsOf(t, s); len(got) != 0 {
		t.Errorf("TargetLayouts of an empty store = %s, want none", asJSON(got))
	}
	if got := eachTarget(t, s); len(got) != 0 {
		t.Errorf("EachTarget of an empty store = %s, want none", asJSON(got))
	}
	if _, err := s.StoredTarget(t.Context(), "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("StoredTarget in an empty store: error %v, want ErrNotFound", err)
	}
	// An empty change (an import of a file with no targets into an empty
	// store) writes nothing and fails not.
	apply(t, s, targets.PlanList(nil, nil, nil))
	if got := layoutsOf(t, s); len(got) != 0 {
		t.Errorf("TargetLayouts after an empty change = %s, want none", asJSON(got))
	}
}

// testEachTargetStops: an error from EachTarget's callback stops it and is
// returned.
func testEachTargetStops(t *testing.T, newStore func(t *testing.T) ListStore) {
	s := newStore(t)
	apply(t, s, targets.PlanList(nil, nil, richEntries()))
	stop := errors.New("stop")
	calls := 0
	err := s.EachTarget(t.Context(), func(targets.Stored) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Errorf("EachTarget with a callback that fails: error %v, want the callback's", err)
	}
	if calls != 2 {
		t.Errorf("EachTarget called the callback %d times, want 2 (it stops at its error)", calls)
	}
}

// largeEntries are n targets: a large hourly schedule whose targets are
// mostly of hash group 3 (so that the group splits into ID ranges), and a
// daily one of n/8 (one shard), on 50 hosts each.
func largeEntries(n int) []targets.Entry {
	const group = 3
	hourly := n - n/8
	es := make([]targets.Entry, 0, n)
	for i := 0; len(es) < hourly; i++ {
		id := fmt.Sprintf("h-%07d", i)
		if i >= 2000 && targets.Group(id) != group {
			continue
		}
		es = append(es, targets.Entry{ID: id, URL: fmt.Sprintf("https://shop%d.example/p/%d", i%50, i), Schedule: "hourly"})
	}
	for i := range n / 8 {
		es = append(es, targets.Entry{ID: fmt.Sprintf("d-%07d", i), URL: fmt.Sprintf("https://news%d.example/%d", i%50, i), Schedule: "daily"})
	}
	return es
}

// testLargeList: a list of more than targets.ShardSize targets is laid out
// in hash groups and ID ranges; every target reads back from exactly its
// shard, and each shard holds its layout's count.
func testLargeList(t *testing.T, newStore func(t *testing.T) ListStore, n int) {
	if n < minListSize {
		t.Fatalf("ListSize(%d): the large list needs at least %d targets to have range shards", n, minListSize)
	}
	s := newStore(t)
	entries := largeEntries(n)
	ch := targets.PlanList(nil, nil, entries)
	ranges := 0
	for _, sh := range ch.Layouts["hourly"].Shards {
		if sh.From != "" || sh.To != "" {
			ranges++
		}
	}
	if ranges == 0 || len(ch.Layouts["daily"].Shards) != 1 {
		t.Fatalf("the large list's layouts %s: want ID ranges in hourly and one shard in daily", asJSON(ch.Layouts))
	}

	var written []int
	if err := s.ApplyTargets(t.Context(), ch, func(n int) { written = append(written, n) }); err != nil {
		t.Fatalf("ApplyTargets(%d targets): %v", len(ch.Put), err)
	}
	if len(written) == 0 || !slices.IsSorted(written) || written[len(written)-1] < len(ch.Put) {
		t.Errorf("ApplyTargets reported progress %v, want counts that grow to at least %d", short(written), len(ch.Put))
	}

	if got := layoutsOf(t, s); !reflect.DeepEqual(got, ch.Layouts) {
		t.Errorf("TargetLayouts =\n%s\nwant\n%s", asJSON(got), asJSON(ch.Layouts))
	}
	byID := make(map[string]targets.Stored, len(ch.Put))
	for _, st := range ch.Put {
		byID[st.ID] = st
	}
	seen := make(map[string]int, len(entries))
	for _, sched := range []string{"daily", "hourly"} {
		for _, sh := range ch.Layouts[sched].Shards {
			got := shardTargets(t, s, sh)
			if len(got) != sh.Count {
				t.Errorf("ShardTargets(%s/%d) holds %d targets, want the layout's count %d", sched, sh.Index, len(got), sh.Count)
			}
			if !slices.IsSortedFunc(got, func(a, b targets.Stored) int { return cmp.Compare(a.ID, b.ID) }) {
				t.Errorf("ShardTargets(%s/%d) is not in ID order", sched, sh.Index)
			}
			for _, st := range got {
				seen[st.ID]++
				if !sh.Holds(st.ID) || st.Schedule != sched || st.Shard != sh.Index {
					t.Errorf("ShardTargets(%s/%d) returned %s (schedule %s, shard %d), which the shard does not hold",
						sched, sh.Index, st.ID, st.Schedule, st.Shard)
				} else if !sameStored(st, byID[st.ID]) {
					t.Errorf("ShardTargets(%s/%d): %s, want %s", sched, sh.Index, asJSON(st), asJSON(byID[st.ID]))
				}
			}
		}
	}
	for _, e := range entries {
		if seen[e.ID] != 1 {
			t.Errorf("target %s is in %d shards, want exactly 1", e.ID, seen[e.ID])
		}
	}
	all := eachTarget(t, s)
	if len(all) != len(entries) {
		t.Errorf("EachTarget read %d targets, want %d", len(all), len(entries))
	}
	if !slices.IsSortedFunc(all, exportCmp) {
		t.Errorf("EachTarget is not in schedule, shard, ID order")
	}
}
