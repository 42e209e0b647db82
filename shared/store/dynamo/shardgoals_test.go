package dynamo

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo/dynamometer"
	"github.com/cronless/cronless/shared/store/storetest"
	"github.com/cronless/cronless/shared/targets"
)

// The sharded planner's read (issue 16): at a million targets, about 100
// shards of 10,000 plan within seconds of each other.
const (
	// plannerShards is how many shards read at once, and plannerWindow
	// the seconds they read in (no shard takes over 10 s).
	plannerShards, plannerWindow = 100, 10.0
)

// TestGoalsShardedPlanner measures what one shard's planner invocation
// reads: the layouts, the schedule's recent runs, the shard's targets and
// their validators in the previous run (ShardPrevious), for two shards of
// one hash group, after two runs
// with a result of each (realistic product pages, storetest.ProductPage).
// It checks the read units per target against issue 15's planner budget
// (at most 0.1 RRU a target; issue 16: 1 RRU per 10 targets a tick), and
// the busiest partition key when plannerShards shards read within
// plannerWindow seconds, against a partition's 3,000 RCU a second: a
// shard's own key (TL#<schedule>#<shard>) is read by that shard alone, a
// run's GSI1 shard by the shards of its group (plannerShards / Groups), the
// layouts and GSI1 RUNS by every shard. The layout item is a million
// targets' (plannerShards shards), so its read is what it would be.
//
//	CRONLESS_STANDINS=required go test -run 'TestGoalsShardedPlanner$' -v ./shared/store/dynamo/
func TestGoalsShardedPlanner(t *testing.T) {
	// A quarter of a full shard, so that the test loads dynalite in
	// seconds: the per-target units are then an upper bound, since each
	// query's floor (half a unit) and the layout and runs reads are spread
	// over fewer targets than in a shard of targets.ShardSize.
	const perShard = targets.ShardSize / 4
	client := dynalite(t)
	name := newTable(t, client)
	loader := New(client, name)
	var clock frozen
	m := dynamometer.New(client, []*dynamodb.CreateTableInput{TableInput(name)}, dynamometer.WithLabel(itemKind), dynamometer.WithClock(clock.clock()))
	s := New(m, name, WithClock(clock.clock()))

	// Two shards of group 0, split at the middle of its IDs.
	var ids []string
	for i := 0; len(ids) < 2*perShard; i++ {
		if id := fmt.Sprintf("shop-%07d", i); targets.Group(id) == 0 {
			ids = append(ids, id)
		}
	}
	l := millionLayout("hourly", ids[perShard])
	var put []targets.Stored
	host := map[string]int{}
	for _, id := range ids {
		e := entry(id, "hourly")
		put = append(put, targets.Stored{Entry: e, Shard: l.ShardOf(id), Rank: host[e.Host()]})
		host[e.Host()]++
	}
	if err := loader.ApplyTargets(t.Context(), targets.Change{Put: put, Layouts: map[string]targets.Layout{"hourly": l}}, nil); err != nil {
		t.Fatal(err)
	}
	var runs []store.Run
	var results []job.Result
	for tick := range 2 {
		runs = append(runs, store.Run{ID: storetest.RunID(tick), Schedule: "hourly", ScheduledAt: storetest.Tick(tick), Planned: len(ids)})
		for i, id := range ids {
			results = append(results, storetest.ProductPage(id, tick, 1000*i+tick))
		}
	}
	if err := loader.Import(t.Context(), runs, results); err != nil {
		t.Fatal(err)
	}

	// The planner's read at tick 2 (the two runs before it complete), and
	// at tick 3 after a run whose results lack each shard's first and last
	// targets: the worst case, in which the older run is read over the
	// whole shard too.
	measurePlanner(t, s, m, &clock, l, 2, perShard, 0)
	var partial []job.Result
	for i, id := range ids {
		if i%perShard != 0 && i%perShard != perShard-1 {
			partial = append(partial, storetest.ProductPage(id, 2, 1000*i+2))
		}
	}
	if err := loader.Import(t.Context(), []store.Run{{ID: storetest.RunID(2), Schedule: "hourly", ScheduledAt: storetest.Tick(2), Planned: len(ids)}}, partial); err != nil {
		t.Fatal(err)
	}
	measurePlanner(t, s, m, &clock, l, 3, perShard, 2)
}

// measurePlanner reads as the planner of tick's first two shards of l
// (each of perShard targets) does, and checks the read units per target
// and the busiest key. older is how many targets of each shard have their
// validators from the older run.
func measurePlanner(t *testing.T, s *Store, m *dynamometer.Meter, clock *frozen, l targets.Layout, tick, perShard, older int) {
	t.Helper()
	before := storetest.Tick(tick)
	clock.set(before)
	m.Reset()
	planned := 0
	for _, sh := range l.Shards[:2] {
		if _, err := s.TargetLayouts(t.Context()); err != nil {
			t.Fatal(err)
		}
		runIDs, err := s.RecentRuns(t.Context(), "hourly", before, store.PreviousRuns)
		if err != nil || len(runIDs) != 2 || runIDs[0] != storetest.RunID(tick-1) {
			t.Fatalf("RecentRuns: %v, %v; want 2, %s first", runIDs, err, storetest.RunID(tick-1))
		}
		sts, err := s.ShardTargets(t.Context(), sh)
		if err != nil || len(sts) != perShard {
			t.Fatalf("ShardTargets %d: %d, %v; want %d", sh.Index, len(sts), err, perShard)
		}
		shardIDs := make([]string, len(sts))
		for i, st := range sts {
			shardIDs[i] = st.ID
		}
		vs, err := s.ShardPrevious(t.Context(), sh, runIDs, shardIDs)
		if err != nil || len(vs) != perShard {
			t.Fatalf("ShardPrevious %d: %d validators, %v; want %d", sh.Index, len(vs), err, perShard)
		}
		n := 0
		for _, v := range vs {
			if v.RunID == runIDs[1] {
				n++
			}
		}
		if n != older {
			t.Fatalf("ShardPrevious %d: %d validators of the older run, want %d", sh.Index, n, older)
		}
		planned += len(sts)
	}
	for label, u := range m.ByLabel() {
		t.Logf("tick %d: %s items: %.1f RRU (%.4f per target)", tick, label, u.Read, u.Read/float64(planned))
	}
	perTarget := m.Total().Read / float64(planned)
	t.Logf("tick %d: a shard's planner reads %.4f RRU per target (%d targets in 2 shards)", tick, perTarget, planned)
	if perTarget > goalPlannerRRU {
		t.Errorf("tick %d: the sharded planner reads %.4f RRU per target, want at most %.1f", tick, perTarget, goalPlannerRRU)
	}

	// Each key's units per shard that read it (at a full shard's size),
	// times the shards that read it at a million targets, over the window.
	perGroup := math.Ceil(plannerShards / float64(targets.Groups))
	var hot dynamometer.PartitionSecond
	var hotRCU float64
	for k, u := range m.PerSecond() {
		readers := 1.0 // a shard's own targets
		switch {
		case k.Key == pkLayouts || k.Key == gsiRuns:
			readers = plannerShards
		case k.Target == IndexGSI1:
			readers = perGroup
		}
		measured := 2.0 // both shards read every key but their own
		if strings.HasPrefix(k.Key, prefixTargetList) {
			measured = 1
		}
		// A shard's targets and their results are read in proportion to
		// its size: scaled up to a full shard's.
		scale := 1.0
		if k.Key != pkLayouts && k.Key != gsiRuns {
			scale = float64(targets.ShardSize) / float64(perShard)
		}
		if rcu := u.Read / measured * scale * readers / plannerWindow; rcu > hotRCU {
			hot, hotRCU = k, rcu
		}
	}
	t.Logf("tick %d: hottest key when %d shards read in %.0f s: %s %q %.0f RCU/s", tick, plannerShards, plannerWindow, hot.Target, hot.Key, hotRCU)
	if hotRCU > goalKeyRCU {
		t.Errorf("tick %d: partition key %s %q takes %.0f RCU/s when %d shards plan in %.0f s, want at most %.0f", tick, hot.Target, hot.Key, hotRCU, plannerShards, plannerWindow, goalKeyRCU)
	}
}

// millionLayout is the layout of a million targets of schedule: each
// group split into plannerShards / Groups shards. Group 0's first two hold
// the IDs the test stores (split between them; all below shop-5000000);
// the other bounds are made up.
func millionLayout(schedule, split string) targets.Layout {
	per := int(math.Ceil(plannerShards / float64(targets.Groups)))
	bound := func(g, j int) string {
		if g == 0 && j == 1 {
			return split
		}
		return fmt.Sprintf("shop-%07d", 5_000_000+j*100_000)
	}
	l := targets.Layout{Schedule: schedule}
	for g := range targets.Groups {
		for j := range per {
			sh := targets.Shard{Schedule: schedule, Index: len(l.Shards), Group: g, Count: targets.ShardSize}
			if j > 0 {
				sh.From = bound(g, j)
			}
			if j < per-1 {
				sh.To = bound(g, j+1)
			}
			l.Shards = append(l.Shards, sh)
		}
	}
	return l
}

// TestGoalsPlanParts measures what recording a tick of a million targets'
// plan parts costs (plannerShards parts of targets.ShardSize IDs of one
// hash group each, as a shard plans them), and checks that no partition
// key takes over 1,000 WCU a second when they are put within
// plannerWindow seconds: each part is its own key, and the run's item
// takes one small update per part.
//
//	CRONLESS_STANDINS=required go test -run 'TestGoalsPlanParts$' -v ./shared/store/dynamo/
func TestGoalsPlanParts(t *testing.T) {
	client := dynalite(t)
	var clock frozen
	clock.set(storetest.Tick(0))
	s, m := simulatedStore(t, client, &clock)
	run := store.Run{ID: storetest.RunID(0), Schedule: "hourly", ScheduledAt: storetest.Tick(0), Shards: plannerShards}
	if _, err := s.PutRun(t.Context(), run); err != nil {
		t.Fatal(err)
	}
	byGroup := make([][]string, targets.Groups)
	for i := range plannerShards * targets.ShardSize {
		id := fmt.Sprintf("shop-%07d", i)
		byGroup[targets.Group(id)] = append(byGroup[targets.Group(id)], id)
	}
	m.Reset()
	largest := 0
	for sh := range plannerShards {
		ids := byGroup[sh%targets.Groups]
		from := (sh / targets.Groups) * targets.ShardSize % max(1, len(ids)-targets.ShardSize)
		p := store.PlanPart{RunID: run.ID, Shard: sh, Planned: targets.ShardSize, Targets: ids[from : from+targets.ShardSize]}
		if created, err := s.PutPlanPart(t.Context(), p); err != nil || !created {
			t.Fatalf("PutPlanPart %d: %v, %v", sh, created, err)
		}
		largest = max(largest, dynamometer.ItemSize(rawItem(t, client, s.table, partKey(run.ID, sh))))
	}
	total := m.Total()
	var hot dynamometer.PartitionSecond
	var hotW float64
	for k, u := range m.PerSecond() {
		if u.Write > hotW {
			hot, hotW = k, u.Write
		}
	}
	wcu := hotW / plannerWindow
	t.Logf("a part of %d targets: %.1f WRU (largest item %d B); the run's item and its GSI1 entry %.1f WRU a part",
		targets.ShardSize, total.Write/plannerShards, largest, m.ByLabel()["run"].Write/plannerShards)
	t.Logf("hottest key when %d parts are put in %.0f s: %s %q %.0f WCU/s", plannerShards, plannerWindow, hot.Target, hot.Key, wcu)
	if wcu > goalKeyWCU {
		t.Errorf("partition key %s %q takes %.0f WCU/s when %d parts are put in %.0f s, want at most %.0f", hot.Target, hot.Key, wcu, plannerShards, plannerWindow, goalKeyWCU)
	}
	got, err := s.Run(t.Context(), run.ID)
	if err != nil || got.Planned != plannerShards*targets.ShardSize || got.PlannedShards != plannerShards || len(got.Targets) != got.Planned {
		t.Errorf("Run: planned %d, %d of %d shards, %d targets, %v; want %d, all", got.Planned, got.PlannedShards, got.Shards, len(got.Targets), err, plannerShards*targets.ShardSize)
	}
}
