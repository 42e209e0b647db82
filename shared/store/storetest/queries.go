package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
)

// Queries are the reads both adapters offer the CLI beside the port
// (`cronless results history|changed|failed`).
type Queries interface {
	History(ctx context.Context, targetID string, since, until time.Time, limit int) ([]job.Result, error)
	Changed(ctx context.Context, since time.Time) ([]job.Result, error)
	Failed(ctx context.Context, runID string) ([]job.Result, error)
}

// queries is s as Queries; an adapter without them fails the suite.
func queries(t *testing.T, s store.Store) Queries {
	t.Helper()
	q, ok := s.(Queries)
	if !ok {
		t.Fatalf("%T has no History, Changed and Failed (storetest.Queries)", s)
	}
	return q
}

// checkListed fails unless got lists the results want names ("target/run",
// as targetsOf gives them), in that order, each as Result returns it.
func checkListed(t *testing.T, s store.Store, what string, got []job.Result, want []string) {
	t.Helper()
	if !slices.Equal(targetsOf(got), want) {
		t.Errorf("%s = %q, want %q", what, targetsOf(got), want)
		return
	}
	for _, r := range got {
		checkResult(t, what+"["+r.TargetID+"/"+r.RunID+"]", r, getResult(t, s, r.TargetID, r.RunID))
	}
}

// ids names the results of target in the given ticks, as targetsOf does.
func ids(target string, ticks ...int) []string {
	out := make([]string, len(ticks))
	for i, n := range ticks {
		out[i] = target + "/" + runID(n)
	}
	return out
}

// testHistory: a target's results scheduled in [since, until), newest
// first, at most limit, whatever order they were stored in; other targets'
// (even one whose ID extends this one's) never appear.
func testHistory(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	q := queries(t, s)
	for _, i := range []int{3, 0, 4, 1, 2} {
		putResult(t, s, okResult("a", i, "h"+string(rune('0'+i))))
	}
	putResult(t, s, failedResult("a", 5))
	// Another schedule's run at tick 2: the run ID breaks the tie, newest
	// ("hourly-…" after "daily-…") first.
	daily := okResult("a", 2, "h2")
	daily.Schedule, daily.RunID = "daily", job.RunID("daily", tick(2))
	putResult(t, s, daily)
	putResult(t, s, okResult("ab", 2, "x"))
	putResult(t, s, okResult("b", 6, "x"))
	open := time.Time{}
	for _, tt := range []struct {
		name         string
		since, until time.Time
		limit        int
		want         []int
	}{
		{"all", open, open, 0, []int{5, 4, 3, 2, 1, 0}},
		{"limit", open, open, 2, []int{5, 4}},
		{"limit above count", open, open, 100, []int{5, 4, 3, 2, 1, 0}},
		{"since is inclusive", tick(2), open, 0, []int{5, 4, 3, 2}},
		{"since between ticks", tick(2).Add(time.Nanosecond), open, 0, []int{5, 4, 3}},
		{"until is exclusive", open, tick(2), 0, []int{1, 0}},
		{"until between ticks", open, tick(2).Add(time.Nanosecond), 0, []int{2, 1, 0}},
		{"since and until", tick(1), tick(4), 0, []int{3, 2, 1}},
		{"bounds in another zone", tick(1).In(time.FixedZone("UTC+5", 5*3600)), tick(4).In(time.FixedZone("UTC-3", -3*3600)), 0, []int{3, 2, 1}},
		{"since, until and limit", tick(1), tick(4), 2, []int{3, 2}},
		{"since equals until", tick(2), tick(2), 0, nil},
		{"since after until", tick(4), tick(1), 0, nil},
		{"after the last", tick(6), open, 0, nil},
	} {
		got, err := q.History(t.Context(), "a", tt.since, tt.until, tt.limit)
		if err != nil {
			t.Fatalf("History(a) %s: %v", tt.name, err)
		}
		var want []string
		for _, i := range tt.want {
			want = append(want, ids("a", i)...)
			if i == 2 {
				want = append(want, "a/"+daily.RunID)
			}
		}
		if tt.limit > 0 && len(want) > tt.limit {
			want = want[:tt.limit]
		}
		checkListed(t, s, "History(a) "+tt.name, got, want)
	}
	got, err := q.History(t.Context(), "nobody", time.Time{}, time.Time{}, 0)
	if err != nil {
		t.Fatalf("History(nobody): %v", err)
	}
	checkListed(t, s, "History(nobody)", got, nil)
}

// testChangedSince: the changed results scheduled at or after since (all
// when zero), newest first and then by target ID; never a first ok result,
// a failed one or an unchanged one.
func testChangedSince(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	q := queries(t, s)
	putRun(t, s, store.Run{ID: runID(0), Schedule: "hourly", ScheduledAt: tick(0), Planned: 3})
	// Stored newest first, b before a, so that no order of storing is
	// mistaken for the order listed.
	for _, r := range []job.Result{
		okResult("c", 4, "c1"),   // first: not changed
		okResult("b", 4, "y"),    // as before: not changed
		okResult("a", 4, "h3"),   // changed (from h2)
		failedResult("a", 3),     // failed
		okResult("b", 2, "y"),    // changed (from x)
		okResult("a", 2, "h2"),   // changed (from h1)
		okResult("a", 1, "h1"),   // as before: not changed
		okResult("b", 0, "x"),    // first
		okResult("a", 0, "h1"),   // first
		notModified("b", 5, "y"), // a 304: never changed
	} {
		putResult(t, s, r)
	}
	for _, tt := range []struct {
		name  string
		since time.Time
		want  []string
	}{
		{"all", time.Time{}, slices.Concat(ids("a", 4), ids("a", 2), ids("b", 2))},
		{"since is inclusive", tick(2), slices.Concat(ids("a", 4), ids("a", 2), ids("b", 2))},
		{"since between ticks", tick(2).Add(time.Nanosecond), ids("a", 4)},
		{"since in another zone", tick(3).In(time.FixedZone("UTC-3", -3*3600)), ids("a", 4)},
		{"after the last", tick(5), nil},
	} {
		got, err := q.Changed(t.Context(), tt.since)
		if err != nil {
			t.Fatalf("Changed %s: %v", tt.name, err)
		}
		checkListed(t, s, "Changed "+tt.name, got, tt.want)
		for _, r := range got {
			if !r.Changed {
				t.Errorf("Changed %s listed %s/%s, whose Changed flag is not set", tt.name, r.TargetID, r.RunID)
			}
		}
	}
}

// testFailed: a run's failed results by target ID; without a run, every
// target's most recent failed result, whether or not a later one is ok,
// by target ID (also when that failure lies more than a page of results
// back).
func testFailed(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	q := queries(t, s)
	for _, r := range []job.Result{
		failedResult("f", 2),
		okResult("c", 0, "c"),
		failedResult("d", 3),
		okResult("b", 0, "x"),
		failedResult("b", 2),
		failedResult("a", 0),
		failedResult("a", 1),
		okResult("a", 2, "h"),
		failedResult("e", 0),
	} {
		putResult(t, s, r)
	}
	for i := 1; i <= 30; i++ {
		putResult(t, s, okResult("e", i, "e"))
	}
	for _, tt := range []struct {
		run  string
		want []string
	}{
		{"", slices.Concat(ids("a", 1), ids("b", 2), ids("d", 3), ids("e", 0), ids("f", 2))},
		{runID(2), slices.Concat(ids("b", 2), ids("f", 2))},
		{runID(1), ids("a", 1)},
		{runID(4), nil},
		{runID(99), nil},
	} {
		got, err := q.Failed(t.Context(), tt.run)
		if err != nil {
			t.Fatalf("Failed(%q): %v", tt.run, err)
		}
		checkListed(t, s, "Failed("+tt.run+")", got, tt.want)
		for _, r := range got {
			if r.Status != job.StatusFailed {
				t.Errorf("Failed(%q) listed %s/%s with status %q", tt.run, r.TargetID, r.RunID, r.Status)
			}
		}
	}
}
