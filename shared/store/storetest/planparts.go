package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/targets"
)

// part is the plan part of shard of the i-th hourly tick, for ids.
func part(i, shard int, ids ...string) store.PlanPart {
	return store.PlanPart{RunID: runID(i), Shard: shard, Planned: len(ids), Targets: ids}
}

func putPart(t *testing.T, s ListStore, p store.PlanPart) bool {
	t.Helper()
	created, err := s.PutPlanPart(t.Context(), p)
	if err != nil {
		t.Fatalf("PutPlanPart(%s, shard %d): %v", p.RunID, p.Shard, err)
	}
	return created
}

// listedRun is Runs' entry of run id.
func listedRun(t *testing.T, s ListStore, id string) store.Run {
	t.Helper()
	runs, err := s.Runs(t.Context(), 0)
	if err != nil {
		t.Fatalf("Runs: %v", err)
	}
	for _, r := range runs {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("Runs does not list run %s", id)
	return store.Run{}
}

// checkPlan fails unless run id reads, by Run and in Runs, with planned
// jobs, shards, plannedShards and (by Run only) targets.
func checkPlan(t *testing.T, s ListStore, id string, planned, shards, plannedShards int, targets []string) {
	t.Helper()
	got := getRun(t, s, id)
	if got.Planned != planned || got.Shards != shards || got.PlannedShards != plannedShards || !slices.Equal(got.Targets, targets) {
		t.Errorf("Run(%s): planned %d, shards %d, planned shards %d, targets %q; want %d, %d, %d, %q",
			id, got.Planned, got.Shards, got.PlannedShards, short(got.Targets), planned, shards, plannedShards, short(targets))
	}
	listed := listedRun(t, s, id)
	if listed.Planned != planned || listed.Shards != shards || listed.PlannedShards != plannedShards || listed.Targets != nil {
		t.Errorf("Runs lists %s: planned %d, shards %d, planned shards %d, %d targets; want %d, %d, %d, no targets",
			id, listed.Planned, listed.Shards, listed.PlannedShards, len(listed.Targets), planned, shards, plannedShards)
	}
}

// testPlanParts: a run's plan parts add to its own plan, the first part of
// each shard only, and nothing of another run's.
func testPlanParts(t *testing.T, newStore func(t *testing.T) ListStore) {
	s := newStore(t)
	putRun(t, s, store.Run{ID: runID(0), Schedule: "hourly", ScheduledAt: tick(0), Planned: 2, Targets: []string{"own-1", "own-2"}, Shards: 4})
	checkPlan(t, s, runID(0), 2, 4, 0, []string{"own-1", "own-2"})

	tests := []struct {
		name        string
		part        store.PlanPart
		wantCreated bool
	}{
		{"shard 2 first", part(0, 2, "e", "f", "g"), true},
		{"shard 0", part(0, 0, "a", "b"), true},
		{"shard 0 again, other targets", part(0, 0, "z"), false},
		{"shard 0 again, the same", part(0, 0, "a", "b"), false},
		{"a shard that planned nothing", part(0, 3), true},
		{"another run's shard 1", part(1, 1, "other"), true},
	}
	for _, tt := range tests {
		if got := putPart(t, s, tt.part); got != tt.wantCreated {
			t.Errorf("PutPlanPart(%s): created %v, want %v", tt.name, got, tt.wantCreated)
		}
	}
	checkPlan(t, s, runID(0), 7, 4, 3, []string{"own-1", "own-2", "a", "b", "e", "f", "g"})
	putPart(t, s, part(0, 1, "c", "d"))
	checkPlan(t, s, runID(0), 9, 4, 4, []string{"own-1", "own-2", "a", "b", "c", "d", "e", "f", "g"})

	// A second PutRun keeps the first's shards, as it keeps its plan.
	if putRun(t, s, store.Run{ID: runID(0), Schedule: "hourly", ScheduledAt: tick(0), Planned: 1, Targets: []string{"x"}, Shards: 9}) {
		t.Errorf("second PutRun: created = true, want false")
	}
	checkPlan(t, s, runID(0), 9, 4, 4, []string{"own-1", "own-2", "a", "b", "c", "d", "e", "f", "g"})

	// Results count against the summed plan as they do against a plan of
	// one PutRun.
	putResult(t, s, okResult("a", 0, "h"))
	putResult(t, s, failedResult("e", 0))
	checkRun(t, getRun(t, s, runID(0)), store.Run{ID: runID(0), Schedule: "hourly", ScheduledAt: tick(0), Planned: 9, Succeeded: 1, Failed: 1})
}

// testPlanPartsBeforeRun: parts can be recorded before their run's
// PutRun (a shard's planner overtook it, or a result created the run);
// they count once the run is planned.
func testPlanPartsBeforeRun(t *testing.T, newStore func(t *testing.T) ListStore) {
	tests := []struct {
		name    string
		result  bool // a result creates the run first
		own     []string
		shards  int
		parts   []store.PlanPart
		planned int
		targets []string
	}{
		{"parts, then the run", false, []string{"own"}, 2, []store.PlanPart{part(0, 1, "c"), part(0, 0, "a", "b")}, 4, []string{"own", "a", "b", "c"}},
		{"a run of shards only", false, nil, 2, []store.PlanPart{part(0, 0, "a"), part(0, 1, "b")}, 2, []string{"a", "b"}},
		{"a result, parts, then the run", true, []string{"own"}, 1, []store.PlanPart{part(0, 0, "a")}, 2, []string{"own", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			if tt.result {
				putResult(t, s, okResult("a", 0, "h"))
			}
			for _, p := range tt.parts {
				putPart(t, s, p)
			}
			putRun(t, s, store.Run{ID: runID(0), Schedule: "hourly", ScheduledAt: tick(0), Planned: len(tt.own), Targets: tt.own, Shards: tt.shards})
			checkPlan(t, s, runID(0), tt.planned, tt.shards, len(tt.parts), tt.targets)
			wantDone := 0
			if tt.result {
				wantDone = 1
			}
			if got := getRun(t, s, runID(0)); got.Done() != wantDone {
				t.Errorf("Run(%s) counts %d results, want %d", runID(0), got.Done(), wantDone)
			}
		})
	}
}

// testPlanPartRejected: PutPlanPart refuses a part CheckPlanPart refuses,
// and records nothing of it.
func testPlanPartRejected(t *testing.T, newStore func(t *testing.T) ListStore) {
	tests := []struct {
		name string
		part store.PlanPart
	}{
		{"no run ID", store.PlanPart{Shard: 0, Planned: 1, Targets: []string{"a"}}},
		{"a negative shard", store.PlanPart{RunID: runID(0), Shard: -1, Planned: 1, Targets: []string{"a"}}},
		{"fewer targets than planned", store.PlanPart{RunID: runID(0), Shard: 0, Planned: 2, Targets: []string{"a"}}},
		{"more targets than planned", store.PlanPart{RunID: runID(0), Shard: 0, Planned: 1, Targets: []string{"a", "b"}}},
		{"an empty ID", store.PlanPart{RunID: runID(0), Shard: 0, Planned: 2, Targets: []string{"a", ""}}},
		{"a line break", store.PlanPart{RunID: runID(0), Shard: 0, Planned: 2, Targets: []string{"a", "b\nc"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			putRun(t, s, store.Run{ID: runID(0), Schedule: "hourly", ScheduledAt: tick(0), Shards: 1})
			if _, err := s.PutPlanPart(t.Context(), tt.part); err == nil {
				t.Errorf("PutPlanPart(%+v): no error", tt.part)
			}
			checkPlan(t, s, runID(0), 0, 1, 0, nil)
			// The shard can still record a valid part.
			if !putPart(t, s, part(0, 0, "a")) {
				t.Errorf("PutPlanPart of a valid part after a rejected one: created = false, want true")
			}
		})
	}
}

// testPlanPartsConcurrent: the parts of one run, each put two or three
// times from 16 goroutines beside the run's own PutRun, are each recorded
// once and counted once.
func testPlanPartsConcurrent(t *testing.T, newStore func(t *testing.T) ListStore) {
	const (
		shards  = 16
		perPart = 5
		writers = 16
	)
	s := newStore(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	run := store.Run{ID: runID(0), Schedule: "hourly", ScheduledAt: tick(0), Planned: 1, Targets: []string{"own"}, Shards: shards}
	var (
		ops     []*store.PlanPart // nil: the PutRun
		wantIDs = []string{"own"}
	)
	for sh := range shards {
		var ids []string
		for i := range perPart {
			ids = append(ids, fmt.Sprintf("t-%02d-%d", sh, i))
		}
		wantIDs = append(wantIDs, ids...)
		p := part(0, sh, ids...)
		for range 2 + rng.IntN(2) {
			ops = append(ops, &p)
		}
	}
	ops = append(ops, nil, nil)
	rng.Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })

	var (
		mu      sync.Mutex
		created = map[int]int{}
		wg      sync.WaitGroup
		work    = make(chan *store.PlanPart)
	)
	for range writers {
		wg.Go(func() {
			for p := range work {
				if p == nil {
					if _, err := s.PutRun(t.Context(), run); err != nil {
						t.Errorf("PutRun: %v", err)
					}
					continue
				}
				c, err := s.PutPlanPart(t.Context(), *p)
				if err != nil {
					t.Errorf("PutPlanPart(shard %d): %v", p.Shard, err)
					continue
				}
				if c {
					mu.Lock()
					created[p.Shard]++
					mu.Unlock()
				}
			}
		})
	}
	for _, o := range ops {
		work <- o
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for sh := range shards {
		if created[sh] != 1 {
			t.Errorf("shard %d's part reported created %d times, want once", sh, created[sh])
		}
	}
	checkPlan(t, s, run.ID, 1+shards*perPart, shards, shards, wantIDs)
}

// testRecentRuns: a schedule's most recent runs before a time, newest
// first.
func testRecentRuns(t *testing.T, newStore func(t *testing.T) ListStore) {
	s := newStore(t)
	daily := func(i int) string { return job.RunID("daily", tick(i)) }
	for _, i := range []int{3, 0, 4, 1, 2} {
		putRun(t, s, store.Run{ID: runID(i), Schedule: "hourly", ScheduledAt: tick(i)})
	}
	for _, i := range []int{1, 3} {
		putRun(t, s, store.Run{ID: daily(i), Schedule: "daily", ScheduledAt: tick(i)})
	}
	tests := []struct {
		schedule string
		before   time.Time
		n        int
		want     []string
	}{
		{"hourly", tick(3), 2, []string{runID(2), runID(1)}},
		{"hourly", tick(3), 10, []string{runID(2), runID(1), runID(0)}},
		{"hourly", tick(9), 1, []string{runID(4)}},
		{"hourly", tick(3).Add(time.Nanosecond), 1, []string{runID(3)}},
		{"hourly", tick(0), 2, nil},
		{"daily", tick(9), 2, []string{daily(3), daily(1)}},
		{"daily", tick(2), 2, []string{daily(1)}},
		{"weekly", tick(9), 2, nil},
	}
	for _, tt := range tests {
		got, err := s.RecentRuns(t.Context(), tt.schedule, tt.before, tt.n)
		if err != nil {
			t.Fatalf("RecentRuns(%s, %v, %d): %v", tt.schedule, tt.before, tt.n, err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("RecentRuns(%s, %v, %d) = %q, want %q", tt.schedule, tt.before, tt.n, got, tt.want)
		}
	}
}

// withValidators is r with an ETag and a Last-Modified.
func withValidators(r job.Result, etag string) job.Result {
	r.ETag, r.LastModified = etag, "Sat, 01 Mar 2025 10:00:00 GMT"
	return r
}

// validatorsOf are r's validators.
func validatorsOf(r job.Result) store.Validators {
	return store.Validators{TargetID: r.TargetID, RunID: r.RunID, ScheduledAt: r.ScheduledAt, URL: r.URL, Status: r.Status,
		ETag: r.ETag, LastModified: r.LastModified, ContentHash: r.ContentHash, RulesHash: r.RulesHash}
}

// checkShardPrevious fails unless ShardPrevious(sh, runIDs, ids) is want.
func checkShardPrevious(t *testing.T, s ListStore, sh targets.Shard, runIDs, ids []string, want []store.Validators) {
	t.Helper()
	got, err := s.ShardPrevious(t.Context(), sh, runIDs, ids)
	if err != nil {
		t.Fatalf("ShardPrevious(%s/%d, %q): %v", sh.Schedule, sh.Index, runIDs, err)
	}
	if len(got) != len(want) {
		t.Errorf("ShardPrevious(%s/%d, %q) =\n%s\nwant\n%s", sh.Schedule, sh.Index, runIDs, asJSON(got), asJSON(want))
		return
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.ScheduledAt.Equal(w.ScheduledAt) {
			t.Errorf("ShardPrevious[%d].ScheduledAt = %v, want %v", i, g.ScheduledAt, w.ScheduledAt)
		}
		g.ScheduledAt, w.ScheduledAt = time.Time{}, time.Time{}
		if g != w {
			t.Errorf("ShardPrevious(%s/%d, %q)[%d]:\n got %s\nwant %s", sh.Schedule, sh.Index, runIDs, i, asJSON(g), asJSON(w))
		}
	}
}

// testShardPrevious: the validators of a small schedule's one shard come
// from the runs asked for only, each target's newest result there, and
// never of a target the shard does not hold.
func testShardPrevious(t *testing.T, newStore func(t *testing.T) ListStore) {
	s := newStore(t)
	var entries []targets.Entry
	for _, id := range []string{"a", "b", "c", "d"} {
		entries = append(entries, targets.Entry{ID: id, URL: "https://example.com/" + id, Schedule: "hourly"})
	}
	sh := targets.PlanList(nil, nil, entries).Layouts["hourly"].Shards[0]
	ids := []string{"a", "b", "c", "d"}

	a0 := withValidators(okResult("a", 0, "A0"), `"a0"`)
	a1 := withValidators(okResult("a", 1, "A1"), `"a1"`)
	a1.RulesHash = rulesB
	b0, b1 := okResult("b", 0, "B0"), failedResult("b", 1)
	c0 := withValidators(okResult("c", 0, "C0"), `"c0"`)
	a2 := withValidators(okResult("a", 2, "A2"), `"a2"`)
	// own is a target of targets.yaml planned beside the shards: its
	// results are in the same runs, and the shard does not hold it.
	own0, own1 := okResult("own", 0, "O0"), okResult("own", 1, "O1")
	for _, r := range []job.Result{a0, b0, c0, own0, a1, b1, own1, a2} {
		putResult(t, s, r)
	}
	tests := []struct {
		name   string
		runIDs []string
		want   []store.Validators
	}{
		{"the newer run's, and the older run's where it has none", []string{runID(1), runID(0)},
			[]store.Validators{validatorsOf(a1), validatorsOf(b1), validatorsOf(c0)}},
		{"the runs asked for only", []string{runID(0)},
			[]store.Validators{validatorsOf(a0), validatorsOf(b0), validatorsOf(c0)}},
		{"a later pair", []string{runID(2), runID(1)}, []store.Validators{validatorsOf(a2), validatorsOf(b1)}},
		{"a run without results", []string{runID(7)}, nil},
		{"no runs", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkShardPrevious(t, s, sh, tt.runIDs, ids, tt.want)
		})
	}
}

// testShardPreviousRange: the validators of a range shard of a large
// schedule are of its own targets only: never of its neighbour in the same
// hash group, nor of another group's targets whose IDs fall in its range.
func testShardPreviousRange(t *testing.T, newStore func(t *testing.T) ListStore) {
	const group = 5
	var (
		entries []targets.Entry
		others  []string // IDs of other groups
	)
	for i := 0; len(entries) < targets.ShardSize+2000; i++ {
		id := fmt.Sprintf("t-%07d", i)
		if targets.Group(id) != group {
			if i%50 == 0 {
				others = append(others, id)
				entries = append(entries, targets.Entry{ID: id, URL: "https://example.com/" + id, Schedule: "hourly"})
			}
			continue
		}
		entries = append(entries, targets.Entry{ID: id, URL: "https://example.com/" + id, Schedule: "hourly"})
	}
	// The shards of the group: two ranges, split at upper.From.
	var lower, upper targets.Shard
	for _, sh := range targets.PlanList(nil, nil, entries).Layouts["hourly"].Shards {
		switch {
		case sh.Group == group && sh.From == "":
			lower = sh
		case sh.Group == group:
			upper = sh
		}
	}
	if lower.To == "" || upper.From != lower.To || upper.To != "" {
		t.Fatalf("group %d is laid out as %s and %s; want two ID ranges", group, asJSON(lower), asJSON(upper))
	}
	var ids, below []string
	for _, e := range entries {
		switch {
		case upper.Holds(e.ID):
			ids = append(ids, e.ID)
		case lower.Holds(e.ID):
			below = append(below, e.ID)
		}
	}
	slices.Sort(ids)
	slices.Sort(below)
	var between string // another group's ID inside upper's range
	for _, id := range others {
		if id > upper.From {
			between = id
			break
		}
	}
	if between == "" {
		t.Fatalf("no target of another group sorts after %s", upper.From)
	}

	s := newStore(t)
	first0 := withValidators(okResult(ids[0], 0, "F0"), `"f0"`)
	first1 := withValidators(okResult(ids[0], 1, "F1"), `"f1"`)
	mid0 := okResult(ids[len(ids)/2], 0, "M0")
	last1 := failedResult(ids[len(ids)-1], 1)
	for _, r := range []job.Result{
		first0, first1, mid0, last1,
		okResult(below[len(below)-1], 0, "N0"), okResult(below[len(below)-1], 1, "N1"), // the neighbour's last target
		okResult(between, 0, "O0"), okResult(between, 1, "O1"),
		okResult(ids[1], 2, "L2"), // a run not asked for
	} {
		putResult(t, s, r)
	}
	checkShardPrevious(t, s, upper, []string{runID(1), runID(0)}, ids,
		[]store.Validators{validatorsOf(first1), validatorsOf(mid0), validatorsOf(last1)})
	checkShardPrevious(t, s, upper, []string{runID(0)}, ids,
		[]store.Validators{validatorsOf(first0), validatorsOf(mid0)})
}
