// Package storetest is the contract suite of the store port: what every
// store.Store adapter (localstore, dynamo) must do, asserted the way a user
// relies on it. An adapter's tests call Run with a constructor of empty
// stores:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return newTestStore(t) })
//	}
package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
)

// Option adjusts Run.
type Option func(leftOut map[string]string)

// LeaveOut tells Run not to run the named test of the suite (a subtest
// name, such as "ConcurrentRuns") against this server, for reason, which
// the subtest logs. Use it for a slow server's load tests, never for an
// adapter's gap.
func LeaveOut(name, reason string) Option {
	return func(leftOut map[string]string) { leftOut[name] = reason }
}

// Run runs the contract suite. newStore must return a new, empty store for
// each call (it is called once per subtest) and register its cleanup with
// t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) store.Store, opts ...Option) {
	leftOut := make(map[string]string)
	for _, o := range opts {
		o(leftOut)
	}
	tests := []struct {
		name string
		run  func(t *testing.T, newStore func(t *testing.T) store.Store)
	}{
		{"ResultRoundTrip", testResultRoundTrip},
		{"DuplicateResult", testDuplicateResult},
		{"DuplicateResultConcurrent", testDuplicateResultConcurrent},
		{"RunCounters", testRunCounters},
		{"PutRunIdempotent", testPutRunIdempotent},
		{"ResultBeforeRun", testResultBeforeRun},
		{"LatestMovesForwardOnly", testLatestMovesForwardOnly},
		{"LatestOfEveryTarget", testLatestOfEveryTarget},
		{"Changed", testChanged},
		{"NotModified", testNotModified},
		{"Attempts", testAttempts},
		{"ErrorMessagesCapped", testErrorMessagesCapped},
		{"RunTargets", testRunTargets},
		{"RunRejectsBadTargets", testRunRejectsBadTargets},
		{"Runs", testRuns},
		{"RunResults", testRunResults},
		{"History", testHistory},
		{"ChangedSince", testChangedSince},
		{"Failed", testFailed},
		{"NotFound", testNotFound},
		{"ConcurrentRuns", testConcurrentRuns},
		{"ConcurrentOneTarget", testConcurrentOneTarget},
	}
	known := make(map[string]bool, len(tests))
	for _, tt := range tests {
		known[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			if reason, ok := leftOut[tt.name]; ok {
				t.Logf("left out on this server: %s", reason)
				return
			}
			tt.run(t, newStore)
		})
	}
	for name := range leftOut {
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

// latest is Latest(targetID); for every target ("") LatestAll must agree.
func latest(t *testing.T, s store.Store, targetID string) []job.Result {
	t.Helper()
	rs, err := s.Latest(t.Context(), targetID)
	if err != nil {
		t.Fatalf("Latest(%q): %v", targetID, err)
	}
	if targetID == "" {
		all, err := s.LatestAll(t.Context())
		if err != nil {
			t.Fatalf("LatestAll: %v", err)
		}
		if len(all) != len(rs) {
			t.Fatalf("LatestAll returned %d results, Latest(\"\") %d", len(all), len(rs))
		}
		for i := range rs {
			checkResult(t, "LatestAll["+rs[i].TargetID+"]", all[i], rs[i])
		}
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

func testResultRoundTrip(t *testing.T, newStore func(t *testing.T) store.Store) {
	paris := time.FixedZone("CET", 3600)
	ok := job.Result{
		V:           job.Version,
		RunID:       runID(0),
		Schedule:    "hourly",
		TargetID:    "shop-ünïcode",
		URL:         "https://example.com/päth?q=1&x=<y>",
		ScheduledAt: tick(0).In(paris),
		Status:      job.StatusOK,
		HTTPStatus:  200,
		Fields: map[string]any{
			"title":    "Grüße, 世界 🚀",
			"price":    12.5,
			"count":    float64(3),
			"in_stock": true,
			"missing":  nil,
			"tags":     []any{"a", "b", ""},
			"nested": map[string]any{
				"list":  []any{map[string]any{"k": "v"}, 1.0, []any{}},
				"empty": map[string]any{},
			},
			"markup": "\"<&>\"\n\t\\",
		},
		ContentHash:  "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		ETag:         `W/"5f-ü"`,
		BodyHash:     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		LastModified: "Sat, 01 Mar 2025 09:00:00 GMT",
		RulesHash:    rulesB,
		FetchedAt:    tick(0).Add(1234567891 * time.Nanosecond).In(paris),
		DurationMS:   1234,
		Attempt:      2,
	}
	failed := failedResult("gone", 0)
	failed.Error.Message = "GET https://example.com/gone: 404 Not Found — «ünïcode»"
	failed.Attempt = 3
	failed.RulesHash = rulesA

	for _, want := range []job.Result{ok, failed} {
		t.Run(string(want.Status), func(t *testing.T) {
			s := newStore(t)
			putResult(t, s, want)
			checkResult(t, "Result", getResult(t, s, want.TargetID, want.RunID), want)
			if got := latest(t, s, want.TargetID); len(got) != 1 {
				t.Errorf("Latest(%s) = %v, want the one result", want.TargetID, targetsOf(got))
			} else {
				checkResult(t, "Latest", got[0], want)
			}
			if got := runResults(t, s, want.RunID); len(got) != 1 {
				t.Errorf("RunResults(%s) = %v, want the one result", want.RunID, targetsOf(got))
			} else {
				checkResult(t, "RunResults", got[0], want)
			}
		})
	}
}

func testDuplicateResult(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	first := okResult("a", 0, "h1")
	if out := putResult(t, s, first); out.Duplicate || !out.Latest {
		t.Errorf("first put: outcome %+v, want not duplicate, latest", out)
	}
	if out := putResult(t, s, first); !out.Duplicate || out.Latest {
		t.Errorf("second put: outcome %+v, want duplicate, not latest", out)
	}
	// A redelivery with other content (a retried crawl) is the same key:
	// the first write wins.
	other := failedResult("a", 0)
	if out := putResult(t, s, other); !out.Duplicate {
		t.Errorf("put of the same key with other content: outcome %+v, want duplicate", out)
	}
	checkResult(t, "Result after duplicates", getResult(t, s, "a", runID(0)), first)
	checkRun(t, getRun(t, s, runID(0)), store.Run{
		ID: runID(0), Schedule: "hourly", ScheduledAt: tick(0), Succeeded: 1,
	})
}

func testDuplicateResultConcurrent(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	putRun(t, s, store.Run{ID: runID(0), Schedule: "hourly", ScheduledAt: tick(0), Planned: 1})
	r := okResult("a", 0, "h1")
	const writers = 8
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		stored int
		start  = make(chan struct{})
	)
	for range writers {
		wg.Go(func() {
			<-start
			out, err := s.PutResult(t.Context(), r)
			if err != nil {
				t.Errorf("PutResult: %v", err)
				return
			}
			if !out.Duplicate {
				mu.Lock()
				stored++
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if stored != 1 {
		t.Errorf("%d of %d concurrent puts of one result were not duplicates, want exactly 1", stored, writers)
	}
	checkRun(t, getRun(t, s, runID(0)), store.Run{
		ID: runID(0), Schedule: "hourly", ScheduledAt: tick(0), Planned: 1, Succeeded: 1,
	})
	checkResult(t, "Result", getResult(t, s, "a", runID(0)), r)
}

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

func testLatestMovesForwardOnly(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name  string
		order []int // ticks, in the order their results arrive
	}{
		{"in order", []int{0, 1, 2}},
		{"older arrives late", []int{2, 1}},
		{"reversed", []int{2, 1, 0}},
		{"middle arrives late", []int{0, 2, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			newest := -1
			for _, i := range tt.order {
				out := putResult(t, s, okResult("a", i, fmt.Sprint("h", i)))
				if want := i > newest; out.Latest != want {
					t.Errorf("put tick %d after %v: Latest = %v, want %v", i, tt.order, out.Latest, want)
				}
				newest = max(newest, i)
			}
			got := latest(t, s, "a")
			if len(got) != 1 || got[0].RunID != runID(newest) {
				t.Errorf("Latest(a) = %v, want the result of tick %d (%s)", targetsOf(got), newest, runID(newest))
			}
		})
	}
	t.Run("failed result is latest too", func(t *testing.T) {
		s := newStore(t)
		putResult(t, s, okResult("a", 0, "h"))
		if out := putResult(t, s, failedResult("a", 1)); !out.Latest {
			t.Errorf("later failed result: Latest = false, want true")
		}
		got := latest(t, s, "a")
		if len(got) != 1 || got[0].Status != job.StatusFailed {
			t.Errorf("Latest(a) = %s, want the failed result of tick 1", asJSON(got))
		}
	})
}

func testLatestOfEveryTarget(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	for _, r := range []job.Result{
		okResult("c", 1, "h"), okResult("a", 0, "h"), okResult("b", 2, "h"),
		okResult("a", 1, "h"), failedResult("c", 0),
	} {
		putResult(t, s, r)
	}
	got := targetsOf(latest(t, s, ""))
	want := []string{"a/" + runID(1), "b/" + runID(2), "c/" + runID(1)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Latest(\"\") = %v, want %v (one per target, by target ID)", got, want)
	}
	if got := latest(t, s, "zzz"); len(got) != 0 {
		t.Errorf("Latest(unknown target) = %v, want none", targetsOf(got))
	}
}

func testChanged(t *testing.T, newStore func(t *testing.T) store.Store) {
	type step struct {
		tick        int
		hash        string // "" puts a failed result
		wantChanged bool   // the put's Outcome.Changed
	}
	tests := []struct {
		name  string
		steps []step
		want  map[int]bool // tick -> final Changed flag
	}{
		{"first result is not changed",
			[]step{{0, "A", false}},
			map[int]bool{0: false}},
		{"same hash is not changed",
			[]step{{0, "A", false}, {1, "A", false}},
			map[int]bool{0: false, 1: false}},
		{"different hash is changed",
			[]step{{0, "A", false}, {1, "B", true}, {2, "A", true}},
			map[int]bool{0: false, 1: true, 2: true}},
		{"failed results are not changed and are skipped",
			[]step{{0, "A", false}, {1, "", false}, {2, "A", false}, {3, "", false}, {4, "B", true}},
			map[int]bool{0: false, 1: false, 2: false, 3: false, 4: true}},
		{"first ok result after a failure is not changed",
			[]step{{0, "", false}, {1, "A", false}},
			map[int]bool{0: false, 1: false}},
		{"late middle result recomputes the later one",
			[]step{{1, "A", false}, {3, "B", true}, {2, "B", true}},
			map[int]bool{1: false, 2: true, 3: false}},
		{"late middle result equal to the earlier one",
			[]step{{1, "A", false}, {3, "B", true}, {2, "A", false}},
			map[int]bool{1: false, 2: false, 3: true}},
		{"late oldest result recomputes the next",
			[]step{{1, "A", false}, {2, "A", false}, {0, "B", false}},
			map[int]bool{0: false, 1: true, 2: false}},
		{"late failed result recomputes nothing",
			[]step{{1, "A", false}, {3, "B", true}, {2, "", false}},
			map[int]bool{1: false, 2: false, 3: true}},
		{"reversed arrival",
			[]step{{3, "B", false}, {2, "B", false}, {1, "A", false}},
			map[int]bool{1: false, 2: true, 3: false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			results := map[int]job.Result{}
			newest := -1
			for _, st := range tt.steps {
				r := failedResult("a", st.tick)
				if st.hash != "" {
					r = okResult("a", st.tick, st.hash)
				}
				r.Changed = !st.wantChanged // the store sets it, not the caller
				results[st.tick] = r
				newest = max(newest, st.tick)
				if out := putResult(t, s, r); out.Changed != st.wantChanged {
					t.Errorf("put tick %d (%q): Outcome.Changed = %v, want %v", st.tick, st.hash, out.Changed, st.wantChanged)
				}
			}
			for i, want := range tt.want {
				if got := getResult(t, s, "a", runID(i)); got.Changed != want {
					t.Errorf("Result(tick %d).Changed = %v, want %v", i, got.Changed, want)
				}
				// A duplicate reports the stored flag.
				if out := putResult(t, s, results[i]); !out.Duplicate || out.Changed != want {
					t.Errorf("re-put tick %d: outcome %+v, want duplicate with Changed %v", i, out, want)
				}
			}
			if got := latest(t, s, "a"); len(got) != 1 || got[0].Changed != tt.want[newest] {
				t.Errorf("Latest(a) = %s, want tick %d with Changed %v", asJSON(got), newest, tt.want[newest])
			}
			if got := runResults(t, s, runID(newest)); len(got) != 1 || got[0].Changed != tt.want[newest] {
				t.Errorf("RunResults(tick %d) = %s, want Changed %v", newest, asJSON(got), tt.want[newest])
			}
		})
	}
	t.Run("targets are independent", func(t *testing.T) {
		s := newStore(t)
		putResult(t, s, okResult("a", 0, "A"))
		if out := putResult(t, s, okResult("b", 1, "B")); out.Changed {
			t.Errorf("first result of b after a's: Changed = true, want false")
		}
	})
}

// notModified is a 304 result of target in the i-th tick, as the worker
// sends it: ok, no fields, the previous content hash and the validators.
func notModified(target string, i int, hash string) job.Result {
	r := okResult(target, i, hash)
	r.HTTPStatus, r.NotModified, r.Fields = 304, true, nil
	r.ETag, r.LastModified = `"v1"`, "Sat, 01 Mar 2025 09:00:00 GMT"
	return r
}

func testNotModified(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("fields carried over, not changed, latest moves", func(t *testing.T) {
		s := newStore(t)
		first := okResult("a", 0, "A")
		first.Fields = map[string]any{"title": "Widget", "prices": []any{"1", "2"}, "og": map[string]any{"og:title": "W"}}
		first.ETag, first.LastModified = `"v1"`, "Sat, 01 Mar 2025 09:00:00 GMT"
		putResult(t, s, first)

		nm := notModified("a", 1, "A")
		if out := putResult(t, s, nm); out.Duplicate || out.Changed || !out.Latest {
			t.Errorf("put of the 304: outcome %+v, want stored, not changed, latest", out)
		}
		want := nm
		want.Fields = first.Fields
		checkResult(t, "Result of the 304", getResult(t, s, "a", runID(1)), want)
		if got := latest(t, s, "a"); len(got) != 1 {
			t.Errorf("Latest(a) = %v, want the 304's result", targetsOf(got))
		} else {
			checkResult(t, "Latest after the 304", got[0], want)
		}
		if got := runResults(t, s, runID(1)); len(got) != 1 {
			t.Errorf("RunResults = %v, want the 304's result", targetsOf(got))
		} else {
			checkResult(t, "RunResults of the 304", got[0], want)
		}
		if out := putResult(t, s, nm); !out.Duplicate || out.Changed {
			t.Errorf("re-put of the 304: outcome %+v, want duplicate, not changed", out)
		}

		// A 304 after a 304 carries the same fields on; one without a
		// content hash takes the previous one's.
		nm2 := notModified("a", 2, "")
		putResult(t, s, nm2)
		want2 := nm2
		want2.Fields, want2.ContentHash = first.Fields, "A"
		checkResult(t, "Result of the second 304", getResult(t, s, "a", runID(2)), want2)

		// The next full fetch compares against the 304's hash as usual.
		if out := putResult(t, s, okResult("a", 3, "A")); out.Changed {
			t.Errorf("same content after 304s: Changed = true, want false")
		}
		if out := putResult(t, s, okResult("a", 4, "B")); !out.Changed {
			t.Errorf("new content after 304s: Changed = false, want true")
		}
		checkRun(t, getRun(t, s, runID(1)), store.Run{ID: runID(1), Schedule: "hourly", ScheduledAt: tick(1), Succeeded: 1})
	})
	t.Run("never changed", func(t *testing.T) {
		s := newStore(t)
		putResult(t, s, okResult("a", 0, "A"))
		// The worker's previous hash was of another result (say, one that
		// arrived late): a 304 still means unchanged.
		if out := putResult(t, s, notModified("a", 2, "Z")); out.Changed {
			t.Errorf("304 with another hash: Changed = true, want false")
		}
		// An older result with other content arrives late: it is changed
		// against tick 0, and the 304 after it stays unchanged.
		if out := putResult(t, s, okResult("a", 1, "B")); !out.Changed {
			t.Errorf("late tick 1 (B after A): Changed = false, want true")
		}
		if got := getResult(t, s, "a", runID(2)); got.Changed || !got.NotModified {
			t.Errorf("304 after a late result: changed %v, not_modified %v; want false, true", got.Changed, got.NotModified)
		}
		if got := latest(t, s, "a"); len(got) != 1 || got[0].Changed || got[0].RunID != runID(2) {
			t.Errorf("Latest(a) = %s, want the 304, not changed", asJSON(got))
		}
	})
	t.Run("own fields kept", func(t *testing.T) {
		s := newStore(t)
		putResult(t, s, okResult("a", 0, "A"))
		nm := notModified("a", 1, "A")
		nm.Fields = map[string]any{"title": "sent by the worker"}
		putResult(t, s, nm)
		checkResult(t, "Result of a 304 with fields", getResult(t, s, "a", runID(1)), nm)
	})
	t.Run("no previous ok result", func(t *testing.T) {
		s := newStore(t)
		putResult(t, s, failedResult("a", 0))
		nm := notModified("a", 1, "A")
		if out := putResult(t, s, nm); out.Changed || !out.Latest {
			t.Errorf("304 with no previous ok result: outcome %+v, want not changed, latest", out)
		}
		// Stored without fields, and so without rules: the next plan
		// fetches the page unconditionally.
		want := nm
		want.RulesHash = ""
		checkResult(t, "Result of a 304 with nothing to carry over", getResult(t, s, "a", runID(1)), want)
	})
	testNotModifiedRules(t, newStore)
}

// testNotModifiedRules: a 304 is completed only with fields extracted with
// the same rules (its rules hash is the previous ok result's). One that
// cannot be is stored without fields and without a rules hash, so that the
// planner sends no validators for it.
func testNotModifiedRules(t *testing.T, newStore func(t *testing.T) store.Store) {
	withRules := func(r job.Result, rules string) job.Result { r.RulesHash = rules; return r }
	tests := []struct {
		name       string
		prevRules  string // the previous ok result's rules hash
		rules      string // the 304's
		carried    bool   // the previous fields are carried over
		wantRules  string // the stored 304's rules hash
		wantFields bool
	}{
		{"same rules", rulesA, rulesA, true, rulesA, true},
		{"other rules", rulesA, rulesB, false, "", false},
		{"previous of unknown rules (an older version)", "", rulesA, false, "", false},
		{"304 of unknown rules (an older worker)", rulesA, "", false, "", false},
		{"both of unknown rules (as before rules hashes)", "", "", true, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			first := withRules(okResult("a", 0, "A"), tt.prevRules)
			first.Fields = map[string]any{"title": "old rules' title"}
			putResult(t, s, first)
			nm := withRules(notModified("a", 1, "A"), tt.rules)
			if out := putResult(t, s, nm); out.Duplicate || out.Changed || !out.Latest {
				t.Errorf("put of the 304: outcome %+v, want stored, not changed, latest", out)
			}
			want := nm
			want.RulesHash = tt.wantRules
			if tt.carried {
				want.Fields = first.Fields
			}
			got := getResult(t, s, "a", runID(1))
			checkResult(t, "Result of the 304", got, want)
			if (len(got.Fields) > 0) != tt.wantFields {
				t.Errorf("304's fields = %v, want fields: %v", got.Fields, tt.wantFields)
			}
			if l := latest(t, s, "a"); len(l) != 1 {
				t.Errorf("Latest(a) = %v, want the 304's result", targetsOf(l))
			} else {
				checkResult(t, "Latest after the 304", l[0], want)
			}
			// A 304 after one that could not be completed has nothing to
			// take either, whatever its rules.
			if !tt.carried {
				nm2 := withRules(notModified("a", 2, "A"), tt.rules)
				putResult(t, s, nm2)
				want2 := nm2
				want2.RulesHash = ""
				checkResult(t, "Result of a 304 after an incomplete one", getResult(t, s, "a", runID(2)), want2)
			}
			// A full fetch with the new rules is stored as sent.
			full := withRules(okResult("a", 3, "B"), rulesB)
			full.Fields = map[string]any{"title": "new rules' title", "price": "12"}
			if out := putResult(t, s, full); !out.Changed || !out.Latest {
				t.Errorf("full fetch after the 304: outcome %+v, want changed, latest", out)
			}
			full.Changed = true
			checkResult(t, "Result of the full fetch", getResult(t, s, "a", runID(3)), full)
		})
	}
}

func testAttempts(t *testing.T, newStore func(t *testing.T) store.Store) {
	// attempt is attempt n of message msg at the job of (target, run),
	// made minute minutes after the run's tick.
	attempt := func(target string, run int, msg string, n, minute int) store.Attempt {
		return store.Attempt{
			V: job.Version, RunID: runID(run), TargetID: target, MessageID: msg, Attempt: n,
			At:    tick(run).Add(time.Duration(minute)*time.Minute + 7*time.Nanosecond),
			Error: job.Error{Kind: "timeout", Message: fmt.Sprintf("%s attempt %d: context deadline exceeded — ü", msg, n)},
		}
	}
	// Three attempts of message m-1, then m-1 dead-lettered and replayed as
	// m-2, whose receive count starts at 1 again.
	m1 := []store.Attempt{attempt("a", 0, "m-1", 1, 1), attempt("a", 0, "m-1", 2, 2), attempt("a", 0, "m-1", 3, 4)}
	m2 := []store.Attempt{attempt("a", 0, "m-2", 1, 90), attempt("a", 0, "m-2", 2, 91)}
	others := []store.Attempt{
		attempt("b", 0, "m-3", 1, 1),  // another target
		attempt("a", 1, "m-4", 1, 1),  // another run
		attempt("a", 10, "m-1", 1, 1), // another run, the same message ID
	}
	extended := attempt("a", 0, "m-1", 1, 1) // a run whose ID extends tick 0's with "#"
	extended.RunID += "#m-1"
	others = append(others, extended)
	redelivered := func(a store.Attempt) store.Attempt {
		a.At = a.At.Add(time.Hour)
		a.Error = job.Error{Kind: "http_5xx", Message: "a redelivery of the results message"}
		return a
	}
	tests := []struct {
		name   string
		record []store.Attempt
		want   []store.Attempt // of (a, tick 0)
	}{
		{"none", others, nil},
		{"one message, recorded out of order",
			append([]store.Attempt{m1[2], m1[0], m1[1]}, others...), m1},
		{"a redelivered attempt is stored once, the first kept",
			[]store.Attempt{m1[0], m1[1], redelivered(m1[1]), m1[2], redelivered(m1[0])}, m1},
		{"a replayed message's attempts are kept beside the old ones",
			append(append(slices.Clone(m1), m2...), others...), append(slices.Clone(m1), m2...)},
		{"replayed attempts recorded first still read in time order",
			[]store.Attempt{m2[1], m2[0], m1[2], m1[1], m1[0]}, append(slices.Clone(m1), m2...)},
		{"a replay redelivered is stored once",
			[]store.Attempt{m1[0], m2[0], redelivered(m2[0]), m1[1], m2[1], redelivered(m1[0])},
			[]store.Attempt{m1[0], m1[1], m2[0], m2[1]}},
		{"time order, not attempt order", // attempt 1 of the replay before attempt 3 of the first message
			[]store.Attempt{m1[0], m1[1], attempt("a", 0, "m-2", 1, 3), m1[2]},
			[]store.Attempt{m1[0], m1[1], attempt("a", 0, "m-2", 1, 3), m1[2]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			for _, a := range tt.record {
				// The store fills in V when it reads: record without it.
				a.V = 0
				if err := s.RecordAttempt(t.Context(), a); err != nil {
					t.Fatalf("RecordAttempt(%+v): %v", a, err)
				}
			}
			got, err := s.Attempts(t.Context(), runID(0), "a")
			if err != nil {
				t.Fatalf("Attempts: %v", err)
			}
			checkAttempts(t, got, tt.want)
			if got, err := s.Attempts(t.Context(), runID(9), "a"); err != nil || len(got) != 0 {
				t.Errorf("Attempts(unknown run) = %v, %v; want none, no error", got, err)
			}
		})
	}
}

// testErrorMessagesCapped stores an attempt and a failed result whose error
// message is 410 KB, more than a DynamoDB item holds (400 KB): both are
// stored, and read back with the message cut to job.MaxErrorMessageBytes on
// a character boundary and marked as cut.
func testErrorMessagesCapped(t *testing.T, newStore func(t *testing.T) store.Store) {
	const size = 410_000
	// A multibyte character across the cut: a byte cut would split it.
	huge := strings.Repeat("x", job.MaxErrorMessageBytes-40) + strings.Repeat("ü", (size-job.MaxErrorMessageBytes+40)/2)
	if len(huge) != size {
		t.Fatalf("test message of %d bytes, want %d", len(huge), size)
	}
	marker := fmt.Sprintf(" … [cut: %d bytes in all]", size)
	checkCapped := func(t *testing.T, what, got string) {
		t.Helper()
		switch {
		case len(got) > job.MaxErrorMessageBytes:
			t.Errorf("%s: error message of %d bytes, want at most %d", what, len(got), job.MaxErrorMessageBytes)
		case !strings.HasSuffix(got, marker):
			t.Errorf("%s: error message does not end with the marker %q", what, marker)
		case !strings.HasPrefix(huge, strings.TrimSuffix(got, marker)):
			t.Errorf("%s: error message is not the start of the original", what)
		case !utf8.ValidString(got):
			t.Errorf("%s: error message is not valid UTF-8", what)
		}
	}
	t.Run("attempt", func(t *testing.T) {
		s := newStore(t)
		a := store.Attempt{V: job.Version, RunID: runID(0), TargetID: "a", MessageID: "m-1", Attempt: 1, At: tick(0),
			Error: job.Error{Kind: "http_5xx", Message: huge}}
		if err := s.RecordAttempt(t.Context(), a); err != nil {
			t.Fatalf("RecordAttempt with a %d-byte error message: %v", size, err)
		}
		got, err := s.Attempts(t.Context(), runID(0), "a")
		if err != nil || len(got) != 1 {
			t.Fatalf("Attempts = %d attempts, %v; want the one recorded", len(got), err)
		}
		if got[0].Error.Kind != "http_5xx" {
			t.Errorf("error kind %q, want http_5xx", got[0].Error.Kind)
		}
		checkCapped(t, "attempt", got[0].Error.Message)
	})
	t.Run("failed result", func(t *testing.T) {
		s := newStore(t)
		r := failedResult("a", 0)
		r.Error = &job.Error{Kind: "http_5xx", Message: huge}
		if _, err := s.PutResult(t.Context(), r); err != nil {
			t.Fatalf("PutResult with a %d-byte error message: %v", size, err)
		}
		if len(r.Error.Message) != size {
			t.Errorf("PutResult changed the caller's result: error message of %d bytes", len(r.Error.Message))
		}
		got := getResult(t, s, "a", runID(0))
		if got.Error == nil || got.Error.Kind != "http_5xx" {
			t.Fatalf("stored error %+v, want kind http_5xx", got.Error)
		}
		checkCapped(t, "Result", got.Error.Message)
		if l := latest(t, s, "a"); len(l) != 1 || l[0].Error == nil {
			t.Fatalf("Latest = %d results, want the failed one", len(l))
		} else {
			checkCapped(t, "Latest", l[0].Error.Message)
		}
		if run := getRun(t, s, runID(0)); run.Failed != 1 {
			t.Errorf("run counts %d failed, want 1", run.Failed)
		}
	})
}

// checkAttempts fails unless got is want: times equal as instants,
// everything else equal, in order.
func checkAttempts(t *testing.T, got, want []store.Attempt) {
	t.Helper()
	same := len(got) == len(want)
	for i := 0; same && i < len(got); i++ {
		g, w := got[i], want[i]
		same = g.At.Equal(w.At)
		g.At, w.At = time.Time{}, time.Time{}
		same = same && g == w
	}
	if !same {
		t.Errorf("Attempts(a, tick 0):\n got %s\nwant %s", asJSON(got), asJSON(want))
	}
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

func testRunResults(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	for _, r := range []job.Result{
		okResult("c", 0, "h"), failedResult("a", 0), okResult("b", 0, "h"), okResult("a", 1, "h"),
	} {
		putResult(t, s, r)
	}
	got := targetsOf(runResults(t, s, runID(0)))
	want := []string{"a/" + runID(0), "b/" + runID(0), "c/" + runID(0)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RunResults(tick 0) = %v, want %v (that run's, by target ID)", got, want)
	}
	if got := runResults(t, s, runID(9)); len(got) != 0 {
		t.Errorf("RunResults(unknown run) = %v, want none", targetsOf(got))
	}
}

func testNotFound(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	putResult(t, s, okResult("a", 0, "h"))
	if _, err := s.Run(t.Context(), runID(9)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Run(unknown) error = %v, want ErrNotFound", err)
	}
	for _, key := range [][2]string{{"a", runID(9)}, {"zzz", runID(0)}} {
		if _, err := s.Result(t.Context(), key[0], key[1]); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Result(%s, %s) error = %v, want ErrNotFound", key[0], key[1], err)
		}
	}
}

// testConcurrentRuns puts 50 targets × 3 runs, each result one to three
// times and each run twice, from 8 goroutines in random order, and checks
// counters, latest and changed flags against a sequential model.
func testConcurrentRuns(t *testing.T, newStore func(t *testing.T) store.Store) {
	const (
		targets = 50
		runs    = 3
		writers = 8
	)
	s := newStore(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	target := func(i int) string { return fmt.Sprintf("t%02d", i) }
	resultOf := func(ti, ri int) job.Result {
		if (ti+ri)%7 == 0 {
			return failedResult(target(ti), ri)
		}
		return okResult(target(ti), ri, fmt.Sprint("h", (ti*ri)%3))
	}
	type op struct {
		run    *store.Run
		result *job.Result
	}
	var ops []op
	for ri := range runs {
		for range 2 {
			ops = append(ops, op{run: &store.Run{ID: runID(ri), Schedule: "hourly", ScheduledAt: tick(ri), Planned: targets}})
		}
		for ti := range targets {
			r := resultOf(ti, ri)
			for range 1 + rng.IntN(3) {
				ops = append(ops, op{result: &r})
			}
		}
	}
	rng.Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })

	var (
		mu      sync.Mutex
		stored  = map[string]int{} // target/run -> puts that were not duplicates
		created = map[string]int{} // run -> PutRuns that reported created
		wg      sync.WaitGroup
		work    = make(chan op)
	)
	for range writers {
		wg.Go(func() {
			for o := range work {
				if o.run != nil {
					c, err := s.PutRun(t.Context(), *o.run)
					if err != nil {
						t.Errorf("PutRun(%s): %v", o.run.ID, err)
						continue
					}
					if c {
						mu.Lock()
						created[o.run.ID]++
						mu.Unlock()
					}
					continue
				}
				out, err := s.PutResult(t.Context(), *o.result)
				if err != nil {
					t.Errorf("PutResult(%s/%s): %v", o.result.TargetID, o.result.RunID, err)
					continue
				}
				if !out.Duplicate {
					mu.Lock()
					stored[o.result.TargetID+"/"+o.result.RunID]++
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

	for ri := range runs {
		want := store.Run{ID: runID(ri), Schedule: "hourly", ScheduledAt: tick(ri), Planned: targets}
		for ti := range targets {
			r := resultOf(ti, ri)
			if r.Status == job.StatusOK {
				want.Succeeded++
			} else {
				want.Failed++
			}
			if n := stored[r.TargetID+"/"+r.RunID]; n != 1 {
				t.Errorf("%s/%s stored by %d puts, want exactly 1", r.TargetID, r.RunID, n)
			}
		}
		checkRun(t, getRun(t, s, want.ID), want)
		if created[want.ID] != 1 {
			t.Errorf("PutRun(%s) reported created %d times, want once", want.ID, created[want.ID])
		}
		if got := runResults(t, s, want.ID); len(got) != targets {
			t.Errorf("RunResults(%s) has %d results, want %d", want.ID, len(got), targets)
		}
	}

	all := latest(t, s, "")
	if len(all) != targets {
		t.Fatalf("Latest(\"\") has %d results, want %d", len(all), targets)
	}
	for ti, got := range all {
		// Sequential model of the changed flags: each ok result against
		// the target's previous ok result.
		prev, wantChanged := "", map[int]bool{}
		for ri := range runs {
			if r := resultOf(ti, ri); r.Status == job.StatusOK {
				wantChanged[ri] = prev != "" && prev != r.ContentHash
				prev = r.ContentHash
			}
		}
		want := resultOf(ti, runs-1)
		want.Changed = wantChanged[runs-1]
		checkResult(t, "Latest of "+target(ti), got, want)
		for ri := range runs {
			if got := getResult(t, s, target(ti), runID(ri)); got.Changed != wantChanged[ri] {
				t.Errorf("Result(%s, tick %d).Changed = %v, want %v", target(ti), ri, got.Changed, wantChanged[ri])
			}
		}
	}
}

// testConcurrentOneTarget puts 24 results of one target (ok with one of
// three hashes, or failed), each one to three times, from 8 goroutines in
// random order, so that neighbours in the target's chain of ok results
// arrive at the same time; then checks every Changed flag, the latest
// result and the run counters against a sequential model.
func testConcurrentOneTarget(t *testing.T, newStore func(t *testing.T) store.Store) {
	const (
		runs    = 24
		writers = 8
	)
	s := newStore(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	results := make([]job.Result, runs)
	for i := range results {
		if rng.IntN(5) == 0 {
			results[i] = failedResult("a", i)
		} else {
			results[i] = okResult("a", i, fmt.Sprint("h", rng.IntN(3)))
		}
	}
	var puts []job.Result
	for _, r := range results {
		for range 1 + rng.IntN(3) {
			puts = append(puts, r)
		}
	}
	rng.Shuffle(len(puts), func(i, j int) { puts[i], puts[j] = puts[j], puts[i] })

	var (
		wg   sync.WaitGroup
		work = make(chan job.Result)
	)
	for range writers {
		wg.Go(func() {
			for r := range work {
				if _, err := s.PutResult(t.Context(), r); err != nil {
					t.Errorf("PutResult(%s/%s): %v", r.TargetID, r.RunID, err)
				}
			}
		})
	}
	for _, r := range puts {
		work <- r
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	prev := ""
	for i, r := range results {
		want := false
		if r.Status == job.StatusOK {
			want = prev != "" && prev != r.ContentHash
			prev = r.ContentHash
		}
		results[i].Changed = want
		if got := getResult(t, s, "a", runID(i)); got.Changed != want {
			t.Errorf("Result(tick %d %q).Changed = %v, want %v", i, r.ContentHash, got.Changed, want)
		}
		got := getRun(t, s, runID(i))
		if got.Done() != 1 {
			t.Errorf("Run(tick %d).Done() = %d, want 1", i, got.Done())
		}
	}
	if got := latest(t, s, "a"); len(got) != 1 {
		t.Errorf("Latest(a) = %v, want one result", targetsOf(got))
	} else {
		checkResult(t, "Latest(a)", got[0], results[runs-1])
	}
}
