package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
)

// attempt is attempt n of message msg at the job of (target, run), made
// minute minutes after the run's tick.
func attempt(target string, run int, msg string, n, minute int) store.Attempt {
	return store.Attempt{
		V: job.Version, RunID: runID(run), TargetID: target, MessageID: msg, Attempt: n,
		At:    tick(run).Add(time.Duration(minute)*time.Minute + 7*time.Nanosecond),
		Error: job.Error{Kind: "timeout", Message: fmt.Sprintf("%s attempt %d: context deadline exceeded — ü", msg, n)},
	}
}

func testAttempts(t *testing.T, newStore func(t *testing.T) store.Store) {
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
			checkAttempts(t, "Attempts(a, tick 0)", got, tt.want)
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
func checkAttempts(t *testing.T, what string, got, want []store.Attempt) {
	t.Helper()
	same := len(got) == len(want)
	for i := 0; same && i < len(got); i++ {
		g, w := got[i], want[i]
		same = g.At.Equal(w.At)
		g.At, w.At = time.Time{}, time.Time{}
		same = same && g == w
	}
	if !same {
		t.Errorf("%s:\n got %s\nwant %s", what, asJSON(got), asJSON(want))
	}
}
