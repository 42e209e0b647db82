package runs

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/shared/dlq"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
)

// planStore is the part of a store newRunDetail reads: the latest results
// (for a guess) and attempts, a target at a time (as dynamo). Other methods
// are not called.
type planStore struct {
	cmdutil.ResultsStore
	latest      []job.Result
	attempts    map[string][]job.Attempt // by target ID
	latestCalls int

	mu   sync.Mutex
	read []string // the targets whose attempts were read
}

func (s *planStore) Latest(ctx context.Context, targetID string) ([]job.Result, error) {
	s.latestCalls++
	return s.latest, nil
}

func (s *planStore) Attempts(ctx context.Context, runID, targetID string) ([]job.Attempt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.read = append(s.read, targetID)
	return s.attempts[targetID], nil
}

// runAttemptsStore is a planStore that reads a run's attempts at once
// (store.RunAttempter, as localstore).
type runAttemptsStore struct {
	*planStore
	runReads int
}

func (s *runAttemptsStore) RunAttempts(ctx context.Context, runID string) ([]job.Attempt, error) {
	s.runReads++
	var as []job.Attempt
	for _, id := range slices.Sorted(maps.Keys(s.attempts)) {
		as = append(as, s.attempts[id]...)
	}
	return as, nil
}

// TestNewRunDetailTargets checks which targets runs show lists without a
// result: exactly the recorded targets that have none, or, for a run
// without recorded targets, the guess from the DLQ and the schedule's
// latest results; those whose job is in the DLQ first, then those with
// failed attempts, then the rest, each by ID.
func TestNewRunDetailTargets(t *testing.T) {
	const runID = "hourly-20250301T110000Z"
	at := time.Date(2025, 3, 1, 11, 0, 0, 0, time.UTC)
	result := func(target string) job.Result {
		return job.Result{V: job.Version, RunID: runID, Schedule: "hourly", TargetID: target, Status: job.StatusOK}
	}
	latest := func(target, schedule string) job.Result {
		return job.Result{V: job.Version, RunID: "older", Schedule: schedule, TargetID: target, Status: job.StatusOK}
	}
	letter := func(run, target string) dlq.Letter { return dlq.Letter{RunID: run, TargetID: target} }
	attempts := map[string][]job.Attempt{
		"d": {
			{V: job.Version, RunID: runID, TargetID: "d", MessageID: "m-1", Attempt: 1, At: at.Add(time.Minute), Error: job.Error{Kind: "timeout", Message: "first"}},
			{V: job.Version, RunID: runID, TargetID: "d", MessageID: "m-2", Attempt: 1, At: at.Add(time.Hour), Error: job.Error{Kind: "http_5xx", Message: "replayed"}},
		},
	}
	schedule := []job.Result{latest("a", "hourly"), latest("b", "hourly"), latest("c", "hourly"), latest("d", "hourly"), latest("n", "daily")}
	type missing struct {
		target string
		inDLQ  bool
	}
	tests := []struct {
		name        string
		targets     []string
		results     []job.Result
		letters     []dlq.Letter
		latest      []job.Result
		want        []missing
		wantGuessed bool
		wantLatest  int // calls of Latest
	}{
		{
			name:    "recorded targets",
			targets: []string{"d", "a", "c", "e"},
			results: []job.Result{result("a")},
			// x's job of this run is dead-lettered but x is not planned; b's
			// job is another run's.
			letters: []dlq.Letter{letter(runID, "c"), letter(runID, "x"), letter("other", "b")},
			latest:  schedule,
			want:    []missing{{"c", true}, {"d", false}, {"e", false}},
		},
		{
			name:    "recorded targets, all done",
			targets: []string{"a", "b"},
			results: []job.Result{result("b"), result("a")},
			latest:  schedule,
			want:    []missing{},
		},
		{
			name:        "no recorded targets: guessed from the DLQ and the latest results",
			results:     []job.Result{result("a")},
			letters:     []dlq.Letter{letter(runID, "c"), letter(runID, "x")},
			latest:      schedule,
			want:        []missing{{"c", true}, {"x", true}, {"d", false}, {"b", false}},
			wantGuessed: true,
			wantLatest:  1,
		},
		{
			name:        "no recorded targets, the DLQ accounts for all",
			results:     []job.Result{result("a"), result("b")},
			letters:     []dlq.Letter{letter(runID, "c"), letter(runID, "d")},
			latest:      schedule,
			want:        []missing{{"c", true}, {"d", true}},
			wantGuessed: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &planStore{latest: tt.latest, attempts: attempts}
			run := store.Run{ID: runID, Schedule: "hourly", ScheduledAt: at, Planned: 4, Succeeded: len(tt.results), Targets: tt.targets}
			d, err := newRunDetail(context.Background(), st, run, resultsOf(tt.results), tt.letters, 0)
			if err != nil {
				t.Fatal(err)
			}
			got := []missing{}
			for _, m := range d.Missing {
				got = append(got, missing{m.TargetID, m.InDLQ})
				if m.TargetID == "d" && (m.Attempts != 2 || m.LastError == nil || m.LastError.Message != "replayed") {
					t.Errorf("d: %d attempts, last error %+v; want 2 and the replayed message's", m.Attempts, m.LastError)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("without a result = %v, want %v", got, tt.want)
			}
			if guessed := d.MissingFrom == missingFromGuess; guessed != tt.wantGuessed || st.latestCalls != tt.wantLatest {
				t.Errorf("%s after %d calls of Latest, want guessed %v after %d", d.MissingFrom, st.latestCalls, tt.wantGuessed, tt.wantLatest)
			}
		})
	}
}

// TestNewRunDetailLimit checks how many targets without a result runs show
// lists and which: at most the limit (0: all), those whose job is in the
// DLQ first, then those with failed attempts, then the rest by ID, with
// the counts of all of them. A store that reads a run's attempts at once
// (localstore) is read once, and knows every target's attempts; from one
// that reads them a target at a time (dynamo), only the listed targets'
// are read, so past the limit the targets not in the DLQ come by ID.
func TestNewRunDetailLimit(t *testing.T) {
	const runID = "hourly-20250301T110000Z"
	at := time.Date(2025, 3, 1, 11, 0, 0, 0, time.UTC)
	var targets []string
	for i := range 20 {
		targets = append(targets, fmt.Sprintf("t-%02d", i))
	}
	results := []job.Result{
		{V: job.Version, RunID: runID, Schedule: "hourly", TargetID: "t-03", Status: job.StatusOK},
		{V: job.Version, RunID: runID, Schedule: "hourly", TargetID: "t-07", Status: job.StatusFailed},
	}
	letters := []dlq.Letter{{RunID: runID, TargetID: "t-15"}, {RunID: runID, TargetID: "t-09"}, {RunID: runID, TargetID: "t-09"}, {RunID: "other", TargetID: "t-02"}}
	attempt := func(target string, n int) job.Attempt {
		return job.Attempt{V: job.Version, RunID: runID, TargetID: target, MessageID: "m-" + target, Attempt: n,
			At: at.Add(time.Duration(n) * time.Minute), Error: job.Error{Kind: "timeout", Message: "no response"}}
	}
	attempts := map[string][]job.Attempt{
		"t-12": {attempt("t-12", 1)},
		"t-01": {attempt("t-01", 1), attempt("t-01", 2)},
		"t-03": {attempt("t-03", 1)}, // then a result
		"t-15": {attempt("t-15", 1)}, // then dead-lettered
	}
	all := []string{"t-09", "t-15", "t-01", "t-12", "t-00", "t-02", "t-04", "t-05", "t-06", "t-08", "t-10", "t-11", "t-13", "t-14", "t-16", "t-17", "t-18", "t-19"}
	tests := []struct {
		name  string
		limit int
		// want: from a store that reads a run's attempts at once, and
		// from one that reads them a target at a time.
		wantByRun, wantByTarget []string
	}{
		{"no limit", 0, all, all},
		{"limit of exactly the count", len(all), all, all},
		{"limit over the count", 100, all, all},
		{"limit of one", 1, all[:1], all[:1]},
		{"limit within the attempted", 3, all[:3], []string{"t-09", "t-15", "t-00"}},
		{"limit past the attempted", 5, all[:5], []string{"t-09", "t-15", "t-01", "t-00", "t-02"}},
	}
	for _, tt := range tests {
		for _, byRun := range []bool{true, false} {
			name := tt.name + ", attempts a target at a time"
			if byRun {
				name = tt.name + ", attempts by run"
			}
			t.Run(name, func(t *testing.T) {
				ps := &planStore{attempts: attempts}
				var st cmdutil.ResultsStore = ps
				ras := &runAttemptsStore{planStore: ps}
				want := tt.wantByTarget
				if byRun {
					st, want = ras, tt.wantByRun
				}
				run := store.Run{ID: runID, Schedule: "hourly", ScheduledAt: at, Planned: len(targets), Succeeded: 1, Failed: 1, Targets: targets}
				d, err := newRunDetail(context.Background(), st, run, resultsOf(results), letters, tt.limit)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, m := range d.Missing {
					got = append(got, m.TargetID)
					_, dl := map[string]bool{"t-09": true, "t-15": true}[m.TargetID]
					if m.InDLQ != dl || m.Attempts != len(attempts[m.TargetID]) {
						t.Errorf("%s: in DLQ %v, %d attempts; want %v, %d", m.TargetID, m.InDLQ, m.Attempts, dl, len(attempts[m.TargetID]))
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("listed %v,\nwant %v", got, want)
				}
				if d.MissingCount != len(all) || d.MissingInDLQ != 2 || d.MissingMore != len(all)-len(want) {
					t.Errorf("count %d, in DLQ %d, more %d; want %d, 2, %d", d.MissingCount, d.MissingInDLQ, d.MissingMore, len(all), len(all)-len(want))
				}
				read := slices.Sorted(slices.Values(ps.read))
				switch {
				case byRun && (ras.runReads != 1 || len(read) != 0):
					t.Errorf("%d reads of the run's attempts and %d of a target's; want 1 and none", ras.runReads, len(read))
				case !byRun && !slices.Equal(read, slices.Sorted(slices.Values(want))):
					t.Errorf("attempts read of %v; want those of the listed targets only", read)
				}
			})
		}
	}
}
