package dynamov1

import (
	"errors"
	"slices"
	"testing"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
)

func TestPlansAndPlan(t *testing.T) {
	ctx := t.Context()
	s := newStore(t, dynalite(t))
	planned := store.Run{ID: okResult("a", 1, "x").RunID, Schedule: "hourly", ScheduledAt: tick(1), Planned: 2, Targets: []string{"a", "b"}}
	if _, err := s.PutRun(ctx, planned); err != nil {
		t.Fatal(err)
	}
	// A run only a result created: planned count 0, no targets.
	if _, err := s.PutResult(ctx, okResult("a", 0, "x")); err != nil {
		t.Fatal(err)
	}
	for _, r := range []job.Result{okResult("a", 1, "x"), failedResult("b", 1)} {
		if _, err := s.PutResult(ctx, r); err != nil {
			t.Fatal(err)
		}
	}

	plans, err := s.Plans(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range plans {
		ids = append(ids, p.ID)
		if p.Targets != nil || p.Succeeded != 0 {
			t.Errorf("Plans: run %s has targets %v, succeeded %d; want neither", p.ID, p.Targets, p.Succeeded)
		}
	}
	if want := []string{okResult("a", 0, "x").RunID, planned.ID}; !slices.Equal(ids, want) {
		t.Errorf("Plans = %v; want %v, oldest first", ids, want)
	}

	got, err := s.Plan(ctx, planned.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Planned != 2 || !slices.Equal(got.Targets, planned.Targets) || got.Succeeded != 0 {
		t.Errorf("Plan = %+v; want planned 2, targets %v, no counters", got, planned.Targets)
	}
	if _, err := s.Plan(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Plan of an unknown run: %v; want store.ErrNotFound", err)
	}
	run, err := s.Run(ctx, planned.ID)
	if err != nil || run.Succeeded != 1 || run.Failed != 1 || !slices.Equal(run.Targets, planned.Targets) {
		t.Errorf("Run = %+v, %v; want 1 succeeded, 1 failed and its targets", run, err)
	}
}
