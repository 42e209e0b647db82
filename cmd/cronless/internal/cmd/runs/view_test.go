package runs

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/shared/dlq"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
)

// planStore is the part of a store newRunDetail reads: the latest results
// (for a guess) and attempts. Other methods are not called.
type planStore struct {
	cmdutil.ResultsStore
	latest      []job.Result
	attempts    map[string][]job.Attempt // by target ID
	latestCalls int
}

func (s *planStore) Latest(ctx context.Context, targetID string) ([]job.Result, error) {
	s.latestCalls++
	return s.latest, nil
}

func (s *planStore) Attempts(ctx context.Context, runID, targetID string) ([]job.Attempt, error) {
	return s.attempts[targetID], nil
}

// TestNewRunDetailTargets checks which targets runs show lists without a
// result: exactly the recorded targets that have none, or, for a run
// without recorded targets, the guess from the DLQ and the schedule's
// latest results.
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
			want:        []missing{{"b", false}, {"c", true}, {"d", false}, {"x", true}},
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
			d, err := newRunDetail(context.Background(), st, run, tt.results, tt.letters)
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

// A run planned in shards says how many have added their part while some
// have not; once all have, its planned count alone.
func TestPlannedCellOfAShardedRun(t *testing.T) {
	for _, tt := range []struct {
		run  store.Run
		want string
	}{
		{store.Run{Planned: 30_000, Shards: 4, PlannedShards: 3}, "30000 so far (3 of 4 shards planned)"},
		{store.Run{Planned: 40_000, Shards: 4, PlannedShards: 4}, "40000"},
		{store.Run{Planned: 0, Shards: 4, Succeeded: 2}, "0 so far (0 of 4 shards planned)"},
		{store.Run{Planned: 0, Succeeded: 2}, "?"},
	} {
		if got := newRunView(tt.run, 0).plannedCell(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.run, got, tt.want)
		}
	}
}
