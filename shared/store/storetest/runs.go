package storetest

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
)

func testRunCounters(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	putRun(t, s, store.Run{ID: runID(0), Schedule: "hourly", ScheduledAt: tick(0), Planned: 6, CreatedAt: tick(0)})
	checkRun(t, getRun(t, s, runID(0)), store.Run{ID: runID(0), Schedule: "hourly", ScheduledAt: tick(0), Planned: 6})
	for _, r := range []job.Result{
		okResult("a", 0, "h"), okResult("b", 0, "h"), failedResult("c", 0),
		okResult("d", 0, "h"), failedResult("e", 0), okResult("a", 0, "h"),
	} {
		putResult(t, s, r)
	}
	got := getRun(t, s, runID(0))
	checkRun(t, got, store.Run{
		ID: runID(0), Schedule: "hourly", ScheduledAt: tick(0), Planned: 6, Succeeded: 3, Failed: 2,
	})
	if got.Done() != 5 {
		t.Errorf("Done() = %d, want 5", got.Done())
	}
	// Another run's results do not count here.
	putResult(t, s, okResult("a", 1, "h"))
	checkRun(t, getRun(t, s, runID(0)), got)
}

func testPutRunIdempotent(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	first := store.Run{ID: runID(0), Schedule: "hourly", ScheduledAt: tick(0), Planned: 3, CreatedAt: tick(0).Add(time.Second)}
	if !putRun(t, s, first) {
		t.Errorf("first PutRun: created = false, want true")
	}
	again := first
	again.Schedule, again.Planned, again.CreatedAt = "daily", 99, tick(5)
	if putRun(t, s, again) {
		t.Errorf("second PutRun: created = true, want false")
	}
	got := getRun(t, s, first.ID)
	checkRun(t, got, first)
	if !got.CreatedAt.Equal(first.CreatedAt) {
		t.Errorf("CreatedAt = %v, want the first PutRun's %v", got.CreatedAt, first.CreatedAt)
	}
}

func testResultBeforeRun(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	// The results messages overtook the planner's write. A result may
	// omit its schedule.
	a, b := okResult("a", 0, "h"), failedResult("b", 0)
	a.Schedule, b.Schedule = "", ""
	putResult(t, s, a)
	putResult(t, s, b)
	got := getRun(t, s, runID(0))
	if !got.ScheduledAt.Equal(tick(0)) || got.Planned != 0 || got.Succeeded != 1 || got.Failed != 1 {
		t.Errorf("run created by its results = %s, want scheduled at %v, planned 0, succeeded 1, failed 1",
			asJSON(got), tick(0))
	}
	// The planner's PutRun fills in what it knows and keeps the counters.
	if !putRun(t, s, store.Run{ID: runID(0), Schedule: "hourly", ScheduledAt: tick(0), Planned: 3}) {
		t.Errorf("PutRun after results: created = false, want true (it recorded the plan)")
	}
	if putRun(t, s, store.Run{ID: runID(0), Schedule: "hourly", ScheduledAt: tick(0), Planned: 7}) {
		t.Errorf("second PutRun: created = true, want false")
	}
	putResult(t, s, okResult("c", 0, "h"))
	checkRun(t, getRun(t, s, runID(0)), store.Run{
		ID: runID(0), Schedule: "hourly", ScheduledAt: tick(0), Planned: 3, Succeeded: 2, Failed: 1,
	})
}

// testRunTargets checks that Run returns the targets the planner's PutRun
// recorded, under PutRun's first-wins rule, and that Runs returns none.
func testRunTargets(t *testing.T, newStore func(t *testing.T) store.Store) {
	plan := func(i int, targets ...string) store.Run {
		return store.Run{ID: runID(i), Schedule: "hourly", ScheduledAt: tick(i), Planned: len(targets), Targets: targets}
	}
	tests := []struct {
		name    string
		results []job.Result // put before the runs
		runs    []store.Run  // put in order
		want    []string     // Run(tick 0).Targets
	}{
		{"in plan order", nil, []store.Run{plan(0, "c", "a", "b")}, []string{"c", "a", "b"}},
		{"the first PutRun's", nil, []store.Run{plan(0, "a", "b"), plan(0, "x", "y", "z")}, []string{"a", "b"}},
		{"a run planned without targets keeps none", nil, []store.Run{plan(0), plan(0, "a")}, nil},
		{"a run created by a result gets them from PutRun",
			[]job.Result{okResult("b", 0, "h")}, []store.Run{plan(0, "a", "b"), plan(0, "x")}, []string{"a", "b"}},
		{"none without a plan", []job.Result{okResult("b", 0, "h")}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			for _, r := range tt.results {
				putResult(t, s, r)
			}
			for _, run := range tt.runs {
				putRun(t, s, run)
			}
			putRun(t, s, plan(1, "other")) // another run's targets stay its own
			got := getRun(t, s, runID(0))
			if !slices.Equal(got.Targets, tt.want) {
				t.Errorf("Run(tick 0).Targets = %q, want %q", got.Targets, tt.want)
			}
			if want := len(tt.results); got.Done() != want {
				t.Errorf("Run(tick 0) counts %d results, want %d", got.Done(), want)
			}
			if got := getRun(t, s, runID(1)).Targets; !slices.Equal(got, []string{"other"}) {
				t.Errorf("Run(tick 1).Targets = %q, want [other]", got)
			}
			runs, err := s.Runs(t.Context(), 0)
			if err != nil {
				t.Fatalf("Runs: %v", err)
			}
			for _, r := range runs {
				if r.Targets != nil {
					t.Errorf("Runs: run %s has targets %q, want none (only Run reads them)", r.ID, r.Targets)
				}
			}
		})
	}
}

// testRunRejectsBadTargets checks that PutRun refuses targets that do not
// match the plan, and stores nothing of such a run.
func testRunRejectsBadTargets(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name    string
		planned int
		targets []string
	}{
		{"fewer than planned", 3, []string{"a", "b"}},
		{"more than planned", 1, []string{"a", "b"}},
		{"an empty ID", 2, []string{"a", ""}},
		{"a line break", 2, []string{"a", "b\nc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			run := store.Run{ID: runID(0), Schedule: "hourly", ScheduledAt: tick(0), Planned: tt.planned, Targets: tt.targets}
			if _, err := s.PutRun(t.Context(), run); err == nil {
				t.Errorf("PutRun(planned %d, targets %q): no error", tt.planned, tt.targets)
			}
			if _, err := s.Run(t.Context(), runID(0)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Run after a rejected PutRun: error %v, want ErrNotFound", err)
			}
		})
	}
}

func testRuns(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	for _, i := range []int{3, 0, 4, 1, 2} {
		putRun(t, s, store.Run{ID: runID(i), Schedule: "hourly", ScheduledAt: tick(i), Planned: i})
	}
	putResult(t, s, okResult("a", 5, "h")) // a run created by its first result is listed too
	ids := func(limit int) []string {
		t.Helper()
		runs, err := s.Runs(t.Context(), limit)
		if err != nil {
			t.Fatalf("Runs(%d): %v", limit, err)
		}
		out := make([]string, len(runs))
		for i, r := range runs {
			out[i] = r.ID
		}
		return out
	}
	tests := []struct {
		limit int
		want  []string
	}{
		{1, []string{runID(5)}},
		{3, []string{runID(5), runID(4), runID(3)}},
		{10, []string{runID(5), runID(4), runID(3), runID(2), runID(1), runID(0)}},
	}
	for _, tt := range tests {
		if got := ids(tt.limit); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Runs(%d) = %v, want %v (newest scheduled first)", tt.limit, got, tt.want)
		}
	}
}
