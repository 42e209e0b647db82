package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
)

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
