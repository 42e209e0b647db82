// Package storetest is the contract suite of the store port: what every
// store.Store adapter (localstore, dynamo) must do, asserted the way a user
// relies on it, with the CLI's queries (Queries) too. An adapter's tests
// call Run with a constructor of empty stores:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return newTestStore(t) })
//	}
//
// An adapter that holds target lists (store.TargetList) runs
// RunTargetList too, with a constructor of empty ListStores.
package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
)

// Option adjusts Run and RunTargetList.
type Option func(*config)

// config is what the options set.
type config struct {
	// leftOut are the subtests not run, with the reason.
	leftOut map[string]string
	// listSize is how many targets RunTargetList's large list holds.
	listSize int
}

func newConfig(opts []Option) *config {
	c := &config{leftOut: make(map[string]string), listSize: defaultListSize}
	for _, o := range opts {
		o(c)
	}
	return c
}

// LeaveOut tells Run (or RunTargetList) not to run the named test of the
// suite (a subtest name, such as "ConcurrentRuns") against this server,
// for reason, which the subtest logs. Use it for a slow server's load
// tests, never for an adapter's gap.
func LeaveOut(name, reason string) Option {
	return func(c *config) { c.leftOut[name] = reason }
}

// Run runs the contract suite. newStore must return a new, empty store for
// each call (it is called once per subtest) and register its cleanup with
// t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) store.Store, opts ...Option) {
	tests := []suiteTest[store.Store]{
		{"ResultRoundTrip", testResultRoundTrip},
		{"DuplicateResult", testDuplicateResult},
		{"DuplicateResultConcurrent", testDuplicateResultConcurrent},
		{"RunCounters", testRunCounters},
		{"PutRunIdempotent", testPutRunIdempotent},
		{"ResultBeforeRun", testResultBeforeRun},
		{"LatestMovesForwardOnly", testLatestMovesForwardOnly},
		{"LatestOfEveryTarget", testLatestOfEveryTarget},
		{"Previous", testPrevious},
		{"Changed", testChanged},
		{"NotModified", testNotModified},
		{"Truncated", testTruncated},
		{"Attempts", testAttempts},
		{"ErrorMessagesCapped", testErrorMessagesCapped},
		{"RunTargets", testRunTargets},
		{"RunRejectsBadTargets", testRunRejectsBadTargets},
		{"Runs", testRuns},
		{"RunResults", testRunResults},
		{"RunEntries", testRunEntries},
		{"History", testHistory},
		{"ChangedSince", testChangedSince},
		{"Failed", testFailed},
		{"NotFound", testNotFound},
		{"ConcurrentRuns", testConcurrentRuns},
		{"ConcurrentOneTarget", testConcurrentOneTarget},
	}
	runSuite(t, tests, newStore, newConfig(opts))
}

// suiteTest is one subtest of a suite on stores of type S.
type suiteTest[S any] struct {
	name string
	run  func(t *testing.T, newStore func(t *testing.T) S)
}

// runSuite runs tests as subtests, but those c leaves out, and fails on a
// LeaveOut of a test the suite does not have.
func runSuite[S any](t *testing.T, tests []suiteTest[S], newStore func(t *testing.T) S, c *config) {
	known := make(map[string]bool, len(tests))
	for _, tt := range tests {
		known[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			if reason, ok := c.leftOut[tt.name]; ok {
				t.Logf("left out on this server: %s", reason)
				return
			}
			tt.run(t, newStore)
		})
	}
	for name := range c.leftOut {
		if !known[name] {
			t.Errorf("LeaveOut(%q): the suite has no such test", name)
		}
	}
}

// base is the scheduled time of tick 0, with nanoseconds so that exact
// round trips are checked.
var base = time.Date(2025, 3, 1, 10, 0, 0, 123456789, time.UTC)

// tick is the scheduled time of the i-th hourly tick.
func tick(i int) time.Time { return base.Add(time.Duration(i) * time.Hour) }

// runID is the run ID of the i-th hourly tick.
func runID(i int) string { return job.RunID("hourly", tick(i)) }

// okResult is a successful result of target in the i-th tick.
func okResult(target string, i int, hash string) job.Result {
	return job.Result{
		V:           job.Version,
		RunID:       runID(i),
		Schedule:    "hourly",
		TargetID:    target,
		URL:         "https://example.com/" + target,
		ScheduledAt: tick(i),
		Status:      job.StatusOK,
		HTTPStatus:  200,
		Fields:      map[string]any{"title": "page " + hash},
		ContentHash: hash,
		RulesHash:   rulesA,
		FetchedAt:   tick(i).Add(1500 * time.Millisecond),
		DurationMS:  310,
		Attempt:     1,
	}
}

// rulesA and rulesB are the rules hashes of two versions of a target's
// extract rules (job.RulesHash).
var (
	rulesA = job.RulesHash(map[string]job.Rule{"title": {CSS: "title"}})
	rulesB = job.RulesHash(map[string]job.Rule{"title": {CSS: "h1"}, "price": {CSS: ".price"}})
)

// failedResult is a failed result of target in the i-th tick.
func failedResult(target string, i int) job.Result {
	return job.Result{
		V:           job.Version,
		RunID:       runID(i),
		Schedule:    "hourly",
		TargetID:    target,
		URL:         "https://example.com/" + target,
		ScheduledAt: tick(i),
		Status:      job.StatusFailed,
		HTTPStatus:  404,
		FetchedAt:   tick(i).Add(900 * time.Millisecond),
		DurationMS:  120,
		Attempt:     1,
		Error:       &job.Error{Kind: "http_4xx", Message: "GET https://example.com/" + target + ": 404 Not Found"},
	}
}

func putRun(t *testing.T, s store.Store, run store.Run) bool {
	t.Helper()
	created, err := s.PutRun(t.Context(), run)
	if err != nil {
		t.Fatalf("PutRun(%s): %v", run.ID, err)
	}
	return created
}

func putResult(t *testing.T, s store.Store, r job.Result) store.Outcome {
	t.Helper()
	out, err := s.PutResult(t.Context(), r)
	if err != nil {
		t.Fatalf("PutResult(%s/%s): %v", r.TargetID, r.RunID, err)
	}
	return out
}

func getRun(t *testing.T, s store.Store, id string) store.Run {
	t.Helper()
	run, err := s.Run(t.Context(), id)
	if err != nil {
		t.Fatalf("Run(%s): %v", id, err)
	}
	return run
}

func getResult(t *testing.T, s store.Store, targetID, runID string) job.Result {
	t.Helper()
	r, err := s.Result(t.Context(), targetID, runID)
	if err != nil {
		t.Fatalf("Result(%s, %s): %v", targetID, runID, err)
	}
	return r
}

// latest is Latest(targetID).
func latest(t *testing.T, s store.Store, targetID string) []job.Result {
	t.Helper()
	rs, err := s.Latest(t.Context(), targetID)
	if err != nil {
		t.Fatalf("Latest(%q): %v", targetID, err)
	}
	return rs
}

func runResults(t *testing.T, s store.Store, id string) []job.Result {
	t.Helper()
	rs, err := s.RunResults(t.Context(), id)
	if err != nil {
		t.Fatalf("RunResults(%s): %v", id, err)
	}
	return rs
}

// checkResult fails unless got is want: times equal as instants, no fields
// and empty fields alike, everything else deeply equal.
func checkResult(t *testing.T, what string, got, want job.Result) {
	t.Helper()
	if !sameResult(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, asJSON(got), asJSON(want))
	}
}

func sameResult(a, b job.Result) bool {
	if !a.ScheduledAt.Equal(b.ScheduledAt) || !a.FetchedAt.Equal(b.FetchedAt) {
		return false
	}
	a.ScheduledAt, b.ScheduledAt = time.Time{}, time.Time{}
	a.FetchedAt, b.FetchedAt = time.Time{}, time.Time{}
	if len(a.Fields) == 0 && len(b.Fields) == 0 {
		a.Fields, b.Fields = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

// checkRun fails unless got has want's identity and counters; the result
// times are checked only for being set when results were stored.
func checkRun(t *testing.T, got, want store.Run) {
	t.Helper()
	if got.ID != want.ID || got.Schedule != want.Schedule || !got.ScheduledAt.Equal(want.ScheduledAt) ||
		got.Planned != want.Planned || got.Succeeded != want.Succeeded || got.Failed != want.Failed {
		t.Errorf("Run(%s):\n got %s\nwant %s", want.ID, asJSON(got), asJSON(want))
	}
	if got.Done() > 0 && (got.FirstResultAt.IsZero() || got.LastResultAt.Before(got.FirstResultAt)) {
		t.Errorf("Run(%s) with results: first_result_at %v, last_result_at %v; want both set, first <= last",
			want.ID, got.FirstResultAt, got.LastResultAt)
	}
	if got.Done() == 0 && (!got.FirstResultAt.IsZero() || !got.LastResultAt.IsZero()) {
		t.Errorf("Run(%s) without results: first_result_at %v, last_result_at %v; want zero",
			want.ID, got.FirstResultAt, got.LastResultAt)
	}
}

func asJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

func targetsOf(rs []job.Result) []string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.TargetID + "/" + r.RunID
	}
	return ids
}
