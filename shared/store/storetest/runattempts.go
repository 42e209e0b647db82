package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
)

// AttempterStore is a store that also reads a run's attempts at once
// (store.RunAttempter).
type AttempterStore interface {
	store.Store
	store.RunAttempter
}

// RunAttempter runs the suite of store.RunAttempter, for an adapter that
// offers it (localstore), with a constructor of empty stores.
func RunAttempter(t *testing.T, newStore func(t *testing.T) AttempterStore, opts ...Option) {
	runSuite(t, []suiteTest[AttempterStore]{{"RunAttempts", testRunAttempts}}, newStore, newConfig(opts))
}

// testRunAttempts records attempts of several targets of tick 0's run and
// of other runs, and reads tick 0's: exactly its own, stored once each, by
// target ID and then in each target's Attempts order.
func testRunAttempts(t *testing.T, newStore func(t *testing.T) AttempterStore) {
	extended := attempt("a", 0, "m-1", 1, 1) // a run whose ID extends tick 0's with "#"
	extended.RunID += "#m-1"
	others := []store.Attempt{attempt("a", 1, "m-4", 1, 1), attempt("b", 10, "m-1", 1, 1), extended}
	redelivered := attempt("c", 0, "m-5", 1, 1)
	redelivered.At = redelivered.At.Add(time.Hour)
	redelivered.Error = job.Error{Kind: "http_5xx", Message: "a redelivery of the results message"}
	tests := []struct {
		name   string
		record []store.Attempt
		want   []store.Attempt // of tick 0's run
	}{
		{"none", nil, nil},
		{"only other runs'", others, nil},
		{"by target, then in time order", append([]store.Attempt{
			attempt("c", 0, "m-5", 1, 1),
			attempt("a", 0, "m-2", 1, 90), // a replay of a's first message
			attempt("b", 0, "m-3", 2, 3),
			attempt("a", 0, "m-1", 2, 2),
			attempt("b", 0, "m-3", 1, 1),
			redelivered,
			attempt("a", 0, "m-1", 1, 1),
		}, others...), []store.Attempt{
			attempt("a", 0, "m-1", 1, 1), attempt("a", 0, "m-1", 2, 2), attempt("a", 0, "m-2", 1, 90),
			attempt("b", 0, "m-3", 1, 1), attempt("b", 0, "m-3", 2, 3),
			attempt("c", 0, "m-5", 1, 1),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			for _, a := range tt.record {
				a.V = 0 // the store fills it in when it reads
				if err := s.RecordAttempt(t.Context(), a); err != nil {
					t.Fatalf("RecordAttempt(%+v): %v", a, err)
				}
			}
			got, err := s.RunAttempts(t.Context(), runID(0))
			if err != nil {
				t.Fatalf("RunAttempts: %v", err)
			}
			checkAttempts(t, "RunAttempts(tick 0)", got, tt.want)
			// Each target's part is what Attempts reads of it.
			for _, target := range []string{"a", "b", "c"} {
				one, err := s.Attempts(t.Context(), runID(0), target)
				if err != nil {
					t.Fatalf("Attempts(%s): %v", target, err)
				}
				part := slices.DeleteFunc(slices.Clone(got), func(a store.Attempt) bool { return a.TargetID != target })
				checkAttempts(t, fmt.Sprintf("RunAttempts(tick 0) of %s against Attempts", target), part, one)
			}
			if got, err := s.RunAttempts(t.Context(), runID(9)); err != nil || len(got) != 0 {
				t.Errorf("RunAttempts(unknown run) = %v, %v; want none, no error", got, err)
			}
		})
	}
}
