package dynamo

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo/ddb"
	"github.com/cronless/cronless/shared/store/dynamo/dynamometer"
	"github.com/cronless/cronless/shared/store/storetest"
	"github.com/cronless/cronless/shared/targets"
)

func TestTargetListContract(t *testing.T) {
	client := dynalite(t)
	// The smallest large list that has range shards: dynalite writes a few
	// thousand items a second.
	storetest.RunTargetList(t, func(t *testing.T) storetest.ListStore { return newStore(t, client) }, storetest.ListSize(14_000))
}

// TestTargetListMeterMatchesDynalite runs the target list's contract
// through the meter, as TestMeterMatchesDynalite runs the store's, but its
// concurrent case.
func TestTargetListMeterMatchesDynalite(t *testing.T) {
	client := dynalite(t)
	var compared atomic.Int64
	storetest.RunTargetList(t, func(t *testing.T) storetest.ListStore {
		s, m := meteredStore(t, client)
		t.Cleanup(func() {
			if !t.Failed() {
				compared.Add(int64(checkReported(t, m.Calls())))
			}
		})
		return s
	}, storetest.LeaveOut("PlanPartsConcurrent", "the meter reads the old image before the write; concurrent writers change it in between"),
		storetest.LeaveOut("LargeList", "a load test (the meter reads every old image first); TestTargetListContract runs it on dynalite"),
		storetest.ListSize(14_000))
	if compared.Load() == 0 {
		t.Fatal("dynalite reported no consumed capacity to compare with")
	}
	t.Logf("%d calls' table units agree with dynalite's", compared.Load())
}

// TestGroupsAreRunShards: a large schedule's hash groups are the results'
// run shards, so a shard's previous results are one key range of one GSI1
// partition of each run (ShardPrevious).
func TestGroupsAreRunShards(t *testing.T) {
	if targets.Groups != RunShards {
		t.Fatalf("targets.Groups is %d, RunShards %d: a shard's results would span partitions", targets.Groups, RunShards)
	}
	rng := rand.New(rand.NewPCG(16, 1))
	for i := range 200_000 {
		id := fmt.Sprintf("shop-%07d", i)
		if i%2 == 1 {
			id = randomID(rng, 1+rng.IntN(128))
		}
		if g, s := targets.Group(id), shard(id, RunShards); g != s {
			t.Fatalf("target %q: group %d, run shard %d", id, g, s)
		}
	}
}

// randomID is an ID of n characters of those target IDs may hold.
func randomID(rng *rand.Rand, n int) string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[rng.IntN(len(chars))]
		if i == 0 {
			b[i] = chars[rng.IntN(62)]
		}
	}
	return string(b)
}

func entry(id, schedule string) targets.Entry {
	return targets.Entry{ID: id, URL: "https://shop.example.com/p/" + id, Schedule: schedule, Extract: "product"}
}

// TestStoredItem: a stored target's item holds its own settings under its
// shard's key, round-trips, and stays small.
func TestStoredItem(t *testing.T) {
	no := false
	tests := []struct {
		name     string
		st       targets.Stored
		pk, sk   string
		maxBytes int
	}{
		{"typical: an ID, a URL, a schedule and an extract name",
			targets.Stored{Entry: entry("shop-0012345", "hourly"), Shard: 12, Rank: 4711},
			"TL#hourly#12", "T#shop-0012345", 100},
		{"its own settings",
			targets.Stored{Entry: targets.Entry{ID: "a", URL: "https://a.example/", Schedule: "daily", Timeout: 45 * time.Second,
				UserAgent: "bot/1", Robots: &no, Rules: map[string]job.Rule{"title": {CSS: "h1"}, "links": {CSS: "a", Attr: "href", All: true}}}},
			"TL#daily#0", "T#a", 200},
		{"a long ID and URL", targets.Stored{Entry: targets.Entry{ID: strings.Repeat("x", 128), URL: "https://shop.example.com/" + strings.Repeat("y", 100), Schedule: "hourly", Extract: "product"}, Shard: 3},
			"TL#hourly#3", "T#" + strings.Repeat("x", 128), 350},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it, err := storedItem(tt.st)
			if err != nil {
				t.Fatal(err)
			}
			if it.Str(AttrPK) != tt.pk || it.Str(AttrSK) != tt.sk {
				t.Errorf("key %s, want %s %s", it.KeyString(), tt.pk, tt.sk)
			}
			if _, ok := it[AttrGSI1PK]; ok {
				t.Errorf("a stored target is in GSI1: %v", it)
			}
			if n := dynamometer.ItemSize(it); n > tt.maxBytes {
				t.Errorf("item of %d B, want at most %d", n, tt.maxBytes)
			} else {
				t.Logf("item of %d B", n)
			}
			got, err := decodeStored(it)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Entry.Equal(tt.st.Entry) || got.Shard != tt.st.Shard || got.Rank != tt.st.Rank {
				t.Errorf("decoded %+v, want %+v", got, tt.st)
			}
		})
	}
}

// storedList applies a list of n targets of schedule as an import would
// and returns its change.
func storedList(t *testing.T, s *Store, current []targets.Stored, layouts map[string]targets.Layout, es []targets.Entry) targets.Change {
	t.Helper()
	ch := targets.PlanList(current, layouts, es)
	if err := s.ApplyTargets(t.Context(), ch, nil); err != nil {
		t.Fatal(err)
	}
	return ch
}

func entries(schedule, prefix string, from, to int) []targets.Entry {
	var es []targets.Entry
	for i := from; i < to; i++ {
		es = append(es, entry(fmt.Sprintf("%s-%07d", prefix, i), schedule))
	}
	return es
}

func allStored(t *testing.T, s *Store) []targets.Stored {
	t.Helper()
	var out []targets.Stored
	if err := s.EachTarget(t.Context(), func(st targets.Stored) error { out = append(out, st); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestApplyTargetsKeys: a large list lands under its shards' keys, a shard
// is read by one Query of its own partition key, a target moved to
// another shard leaves no item under its old key, and a dropped
// schedule's layout goes.
func TestApplyTargetsKeys(t *testing.T) {
	client := dynalite(t)
	s, m := meteredStore(t, client)
	es := entries("hourly", "shop", 0, targets.ShardSize+500)
	es = append(es, entries("daily", "day", 0, 30)...)
	var progress []int
	ch := targets.PlanList(nil, nil, es)
	if err := s.ApplyTargets(t.Context(), ch, func(n int) { progress = append(progress, n) }); err != nil {
		t.Fatal(err)
	}
	if want := len(es) + 2; len(progress) == 0 || progress[len(progress)-1] != want || !slices.IsSorted(progress) {
		t.Errorf("progress ended at %v, want rising to %d (targets and layouts)", progress[max(0, len(progress)-3):], want)
	}
	layouts, err := s.TargetLayouts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(layouts["hourly"].Shards) != targets.Groups || len(layouts["daily"].Shards) != 1 {
		t.Fatalf("layouts %d and %d shards, want %d and 1", len(layouts["hourly"].Shards), len(layouts["daily"].Shards), targets.Groups)
	}
	total := 0
	for _, sh := range layouts["hourly"].Shards {
		m.Reset()
		sts, err := s.ShardTargets(t.Context(), sh)
		if err != nil {
			t.Fatal(err)
		}
		calls := m.Calls()
		if len(calls) == 0 || calls[0].Op != "Query" {
			t.Fatalf("shard %d read by %v, want Query", sh.Index, calls)
		}
		for _, c := range calls {
			if c.Op != "Query" || c.Items > sh.Count {
				t.Errorf("shard %d of %d targets: %s evaluated %d items", sh.Index, sh.Count, c.Op, c.Items)
			}
		}
		if len(sts) != sh.Count || !slices.IsSortedFunc(sts, func(a, b targets.Stored) int { return strings.Compare(a.ID, b.ID) }) {
			t.Errorf("shard %d: %d targets (sorted %v), want %d in ID order", sh.Index, len(sts), slices.IsSortedFunc(sts, func(a, b targets.Stored) int { return strings.Compare(a.ID, b.ID) }), sh.Count)
		}
		for _, st := range sts {
			if !sh.Holds(st.ID) || st.Shard != sh.Index {
				t.Errorf("shard %d returned %q (shard %d)", sh.Index, st.ID, st.Shard)
			}
		}
		total += len(sts)
	}
	if total != targets.ShardSize+500 {
		t.Errorf("the shards hold %d targets, want %d", total, targets.ShardSize+500)
	}

	// Move one daily target to hourly and drop the rest of daily.
	moved := entry("day-0000003", "hourly")
	next := append(entries("hourly", "shop", 0, targets.ShardSize+500), moved)
	current := allStored(t, s)
	ch2 := storedList(t, s, current, layouts, next)
	if !slices.Equal(ch2.Dropped, []string{"daily"}) {
		t.Fatalf("dropped %v, want daily", ch2.Dropped)
	}
	if _, found, err := s.getItem(t.Context(), ddb.Key(targetListPK("daily", 0), targetPK("day-0000003"))); err != nil || found {
		t.Errorf("the old item of a target moved to another schedule: found %v, %v", found, err)
	}
	if st, err := s.StoredTarget(t.Context(), moved.ID); err != nil || !st.Entry.Equal(moved) {
		t.Errorf("StoredTarget of the moved target: %+v, %v; want %+v", st, err, moved)
	}
	if _, err := s.StoredTarget(t.Context(), "day-0000004"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("StoredTarget of a removed target: %v, want not found", err)
	}
	if _, found, err := s.getItem(t.Context(), ddb.Key(pkLayouts, "daily")); err != nil || found {
		t.Errorf("the layout of a dropped schedule: found %v, %v", found, err)
	}
	// Applying the change again ends in the same list.
	if err := s.ApplyTargets(t.Context(), ch2, nil); err != nil {
		t.Fatal(err)
	}
	if got := allStored(t, s); len(got) != len(next) {
		t.Errorf("%d stored after applying the change twice, want %d", len(got), len(next))
	}
}

// TestApplyTargetsRejects: bad changes are refused before anything is
// written, naming what is wrong.
func TestApplyTargetsRejects(t *testing.T) {
	client := dynalite(t)
	s := newStore(t, client)
	l := targets.Layout{Schedule: "hourly", Shards: []targets.Shard{{Schedule: "hourly", Group: targets.AllGroups, Count: 1}}}
	tests := []struct {
		name string
		ch   targets.Change
		want string
	}{
		{"no ID", targets.Change{Put: []targets.Stored{{Entry: targets.Entry{URL: "https://a/", Schedule: "hourly"}}}}, "no ID"},
		{"schedule with #", targets.Change{Put: []targets.Stored{{Entry: entry("a", "h#1")}}}, `"h#1"`},
		{"negative shard", targets.Change{Delete: []targets.Stored{{Entry: entry("a", "hourly"), Shard: -1}}}, "negative"},
		{"layout of another schedule", targets.Change{Layouts: map[string]targets.Layout{"daily": l}}, `says schedule "hourly"`},
		{"dropped and laid out", targets.Change{Layouts: map[string]targets.Layout{"hourly": l}, Dropped: []string{"hourly"}}, "both dropped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := tt.ch
			ch.Put = append(ch.Put, targets.Stored{Entry: entry("ok", "hourly")})
			err := s.ApplyTargets(t.Context(), ch, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one saying %s", err, tt.want)
			}
			if _, found, _ := s.getItem(t.Context(), ddb.Key(targetListPK("hourly", 0), targetPK("ok"))); found {
				t.Errorf("a rejected change wrote a target")
			}
		})
	}
}

// seedResults stores one ProductPage-like result of each of ids in run i
// of schedule hourly (Import: no per-result calls).
func seedResults(t *testing.T, s *Store, i int, ids []string) string {
	t.Helper()
	run := store.Run{ID: job.RunID("hourly", tick(i)), Schedule: "hourly", ScheduledAt: tick(i), Planned: len(ids)}
	rs := make([]job.Result, len(ids))
	for j, id := range ids {
		rs[j] = okResult(id, i, fmt.Sprintf("sha256:%064d", i))
		rs[j].ETag = fmt.Sprintf(`"%s-%d"`, id, i)
	}
	if err := s.Import(t.Context(), []store.Run{run}, rs); err != nil {
		t.Fatal(err)
	}
	return run.ID
}

// TestShardPreviousKeyRange: a shard's validators are read from its key
// range of its group's partition of each run, newest run first; an older
// run only for what the newer lacks; To is the next shard's.
func TestShardPreviousKeyRange(t *testing.T) {
	client := dynalite(t)
	s, m := meteredStore(t, client)
	var all []string
	for i := range 400 {
		all = append(all, fmt.Sprintf("shop-%07d", i))
	}
	group := targets.Group(all[0])
	var inGroup []string
	for _, id := range all {
		if targets.Group(id) == group {
			inGroup = append(inGroup, id)
		}
	}
	// The shard: the group's IDs from the 5th to before the 25th.
	sh := targets.Shard{Schedule: "hourly", Index: 1, Group: group, From: inGroup[5], To: inGroup[25], Count: 20}
	ids := inGroup[5:25]
	older := seedResults(t, s, 0, all)
	newer := seedResults(t, s, 1, slices.DeleteFunc(slices.Clone(all), func(id string) bool { return id == ids[7] }))

	tests := []struct {
		name      string
		sh        targets.Shard
		runs, ids []string
		fromOlder []string // the IDs whose validators are the older run's
		maxItems  int      // items the queries may evaluate
	}{
		{"newest run has them all", sh, []string{newer}, slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == ids[7] }), nil, 21},
		{"older run for the one missing", sh, []string{newer, older}, ids, []string{ids[7]}, 22},
		{"a bound of the key space is open", targets.Shard{Schedule: "hourly", Group: group, To: inGroup[3]}, []string{older}, inGroup[:3], inGroup[:3], 4},
		{"a small schedule's shard reads every group", targets.Shard{Schedule: "hourly", Group: targets.AllGroups}, []string{newer}, all[:10], nil, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m.Reset()
			vs, err := s.ShardPrevious(t.Context(), tt.sh, tt.runs, tt.ids)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range vs {
				got = append(got, v.TargetID)
				wantRun := tt.runs[0]
				if slices.Contains(tt.fromOlder, v.TargetID) {
					wantRun = older
				}
				if v.RunID != wantRun || v.ETag != fmt.Sprintf(`"%s-%d"`, v.TargetID, map[string]int{older: 0, newer: 1}[wantRun]) || v.Status != job.StatusOK {
					t.Errorf("validators of %s: run %s, etag %s; want run %s's", v.TargetID, v.RunID, v.ETag, wantRun)
				}
			}
			if !slices.Equal(got, tt.ids) {
				t.Errorf("validators of %v, want %v", got, tt.ids)
			}
			items := 0
			for _, c := range m.Calls() {
				if c.Op != "Query" {
					t.Errorf("a %s call", c.Op)
				}
				items += c.Items
			}
			if items > tt.maxItems {
				t.Errorf("the queries evaluated %d items, want at most %d (the shard's key range)", items, tt.maxItems)
			}
		})
	}
}

// TestPlanPartItems: a part is an item of its own partition; a part of
// 15,000 long IDs fits, split over items under 400 KB when its gzip'd
// IDs do not fit one; Run returns its targets in order.
func TestPlanPartItems(t *testing.T) {
	client := dynalite(t)
	rng := rand.New(rand.NewPCG(16, 2))
	const n = targets.ShardSize * 3 / 2
	tests := []struct {
		name   string
		id     func(i int) string
		chunks bool
	}{
		{"typical IDs", func(i int) string { return fmt.Sprintf("shop-%07d", i) }, false},
		{"long similar IDs", func(i int) string {
			return fmt.Sprintf("%s-%07d", strings.Repeat("category-subcategory-product-", 4), i)
		}, false},
		{"128 random characters", func(int) string { return randomID(rng, 128) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, client)
			run := store.Run{ID: "hourly-1", Schedule: "hourly", ScheduledAt: tick(0), Planned: 1, Targets: []string{"own"}, Shards: 2}
			if _, err := s.PutRun(t.Context(), run); err != nil {
				t.Fatal(err)
			}
			ids := make([]string, n)
			for i := range ids {
				ids[i] = tt.id(i)
			}
			small := store.PlanPart{RunID: run.ID, Shard: 0, Planned: 2, Targets: []string{"a", "b"}}
			big := store.PlanPart{RunID: run.ID, Shard: 1, Planned: n, Targets: ids}
			for _, p := range []store.PlanPart{big, small} {
				if created, err := s.PutPlanPart(t.Context(), p); err != nil || !created {
					t.Fatalf("PutPlanPart %d: %v, %v", p.Shard, created, err)
				}
			}
			its := rawQuery(t, client, s.table, partPK(run.ID, 1))
			largest := 0
			for _, it := range its {
				largest = max(largest, dynamometer.ItemSize(it))
			}
			t.Logf("%d items, the largest %d B", len(its), largest)
			if largest > 400_000 {
				t.Errorf("an item of %d B: over DynamoDB's 400 KB", largest)
			}
			if chunked := len(its) > 1; chunked != tt.chunks {
				t.Errorf("%d items: chunked %v, want %v", len(its), chunked, tt.chunks)
			}
			got, err := s.Run(t.Context(), run.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Concat(run.Targets, small.Targets, ids)
			if got.Planned != len(want) || got.Shards != 2 || got.PlannedShards != 2 || !slices.Equal(got.Targets, want) {
				t.Errorf("run planned %d, shards %d/%d, %d targets (in order %v); want %d, 2/2, the own then the parts' in shard order",
					got.Planned, got.PlannedShards, got.Shards, len(got.Targets), slices.Equal(got.Targets, want), len(want))
			}
		})
	}
}

func rawQuery(t *testing.T, client *dynamodb.Client, table, pk string) []item {
	t.Helper()
	its, err := ddb.Query(t.Context(), client, &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ddb.S(pk)},
		ConsistentRead:            aws.Bool(true),
	}, 0, func(it ddb.Item) (item, error) { return it, nil })
	if err != nil {
		t.Fatal(err)
	}
	return its
}

// TestPlanPartCountsOnce: a part counts once in its run's planned count
// however often it is put, also when its writer stopped between the part
// and the run's sum, and whatever count a repeated put brings; a PutRun
// after the parts adds its own; a run whose parts alone exist is not a
// run yet.
func TestPlanPartCountsOnce(t *testing.T) {
	client := dynalite(t)
	errCrash := errors.New("crash")
	f := &failAPI{API: client}
	s := New(f, newTable(t, client))
	ctx := t.Context()
	run := store.Run{ID: "hourly-2", Schedule: "hourly", ScheduledAt: tick(1), Planned: 1, Targets: []string{"own"}, Shards: 3}
	part := func(sh, n int) store.PlanPart {
		p := store.PlanPart{RunID: run.ID, Shard: sh, Planned: n}
		for i := range n {
			p.Targets = append(p.Targets, fmt.Sprintf("s%d-%d", sh, i))
		}
		return p
	}
	// Shard 0 is put before the run: not a run yet.
	if created, err := s.PutPlanPart(ctx, part(0, 3)); err != nil || !created {
		t.Fatalf("PutPlanPart: %v, %v", created, err)
	}
	if _, err := s.Run(ctx, run.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Run of a run with a part alone: %v, want not found", err)
	}
	if created, err := s.PutRun(ctx, run); err != nil || !created {
		t.Fatalf("PutRun after a part: %v, %v", created, err)
	}
	// Shard 1's writer stops after its part, before the run's sum.
	f.fail = func(op string, in any) error {
		if u, ok := in.(*dynamodb.UpdateItemInput); ok && item(u.Key).Str(AttrSK) == skRun {
			return errCrash
		}
		return nil
	}
	if _, err := s.PutPlanPart(ctx, part(1, 5)); !errors.Is(err, errCrash) {
		t.Fatalf("PutPlanPart with a crash: %v", err)
	}
	f.fail = nil
	// Its retry (a redelivered shard message) completes it; a repeat with
	// another count keeps the first.
	for i, p := range []store.PlanPart{part(1, 5), part(1, 5), part(1, 2), part(0, 3)} {
		if created, err := s.PutPlanPart(ctx, p); err != nil || created {
			t.Fatalf("repeat %d of part %d: created %v, %v; want kept", i, p.Shard, created, err)
		}
	}
	if created, err := s.PutRun(ctx, run); err != nil || created {
		t.Fatalf("PutRun again: created %v, %v; want kept", created, err)
	}
	got, err := s.Run(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Concat(run.Targets, part(0, 3).Targets, part(1, 5).Targets)
	if got.Planned != 9 || got.Shards != 3 || got.PlannedShards != 2 || !slices.Equal(got.Targets, want) {
		t.Errorf("Run: planned %d, shards %d of %d, targets %v; want 9, 2 of 3, %v", got.Planned, got.PlannedShards, got.Shards, got.Targets, want)
	}
	runs, err := s.Runs(ctx, 0)
	if err != nil || len(runs) != 1 {
		t.Fatalf("Runs: %v, %v", runs, err)
	}
	if r := runs[0]; r.Planned != 9 || r.Shards != 3 || r.PlannedShards != 2 || r.Targets != nil {
		t.Errorf("Runs: planned %d, shards %d of %d, %d targets; want 9, 2 of 3, none", r.Planned, r.PlannedShards, r.Shards, len(r.Targets))
	}
}

// TestPutRunKeepsAnOldRun: a run item an older cronless planned (a
// planned count, no shards) is kept by a repeated PutRun.
func TestPutRunKeepsAnOldRun(t *testing.T) {
	client := dynalite(t)
	s := newStore(t, client)
	run := store.Run{ID: "hourly-3", Schedule: "hourly", ScheduledAt: tick(2), Planned: 4}
	old := runItem(run, tick(2), true)
	delete(old, attrShards)
	if _, err := client.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: old}); err != nil {
		t.Fatal(err)
	}
	if created, err := s.PutRun(t.Context(), store.Run{ID: run.ID, Schedule: "hourly", ScheduledAt: tick(2), Planned: 7}); err != nil || created {
		t.Fatalf("PutRun of an old run: created %v, %v; want kept", created, err)
	}
	if got, err := s.Run(t.Context(), run.ID); err != nil || got.Planned != 4 {
		t.Errorf("Run: planned %d, %v; want 4", got.Planned, err)
	}
}

// TestPartThenResult: a result of a run whose run item a plan part created
// (before PutRun) makes it a run, listed with its part's plan.
func TestPartThenResult(t *testing.T) {
	client := dynalite(t)
	s := newStore(t, client)
	r := okResult("a", 5, "sha256:"+strings.Repeat("a", 64))
	if _, err := s.PutPlanPart(t.Context(), store.PlanPart{RunID: r.RunID, Shard: 0, Planned: 2, Targets: []string{"a", "b"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutResult(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	got, err := s.Run(t.Context(), r.RunID)
	if err != nil || got.Planned != 2 || got.PlannedShards != 1 || got.Done() != 1 || got.Schedule != "hourly" || !got.ScheduledAt.Equal(r.ScheduledAt) {
		t.Errorf("Run: %+v, %v; want planned 2 in 1 shard, 1 result, of schedule hourly at %v", got, err, r.ScheduledAt)
	}
	if runs, err := s.Runs(t.Context(), 0); err != nil || len(runs) != 1 || runs[0].Planned != 2 {
		t.Errorf("Runs: %+v, %v; want the run, planned 2", runs, err)
	}
}
