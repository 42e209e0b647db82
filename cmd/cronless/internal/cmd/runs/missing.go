package runs

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cronless/cronless/shared/dlq"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
)

// DefaultMissingLimit is how many results, and how many targets without a
// result, runs show lists unless --limit says otherwise.
const DefaultMissingLimit = 50

// missingTarget is a target of a run that has no result in it.
type missingTarget struct {
	TargetID string `json:"target_id"`
	// InDLQ: the target's job of this run is in the targets DLQ.
	InDLQ bool `json:"in_dlq"`
	// Attempts is the number of failed attempts recorded.
	Attempts int `json:"attempts"`
	// LastError is the last recorded attempt's error or, without one, the
	// error the dead-lettered message carries (a malformed message).
	LastError     *job.Error `json:"last_error,omitempty"`
	LastAttemptAt time.Time  `json:"last_attempt_at,omitzero"`
}

// newMissingTarget is target id with its attempts (oldest first) and, when
// its job is in the DLQ, the letter.
func newMissingTarget(id string, attempts []store.Attempt, l dlq.Letter, dl bool) missingTarget {
	m := missingTarget{TargetID: id, InDLQ: dl, Attempts: len(attempts)}
	if n := len(attempts); n > 0 {
		last := attempts[n-1]
		m.LastError, m.LastAttemptAt = &job.Error{Kind: last.Error.Kind, Message: last.Error.Message}, last.At.UTC()
	} else if dl && l.LastError != nil {
		// Listed without a history: the error attributes of a message
		// a handler dead-lettered itself (malformed).
		m.LastError = &job.Error{Kind: l.LastError.Kind, Message: l.LastError.Message}
	}
	return m
}

// interest ranks a target without a result for listing: its job in the
// DLQ (0), failed attempts recorded (1), neither (2).
func interest(inDLQ bool, attempts int) int {
	switch {
	case inDLQ:
		return 0
	case attempts > 0:
		return 1
	}
	return 2
}

// byInterest orders ids (in ID order) by interest, keeping ID order within
// each rank, without a comparison sort: a run may have a million of them.
// attempts are the run's attempts by target, nil when not known.
func byInterest(ids []string, inDLQ map[string]dlq.Letter, attempts map[string][]store.Attempt) []string {
	var ranks [3][]string
	for _, id := range ids {
		_, dl := inDLQ[id]
		r := interest(dl, len(attempts[id]))
		ranks[r] = append(ranks[r], id)
	}
	return slices.Concat(ranks[0], ranks[1], ranks[2])
}

// attemptsReader is the part of a store runs show reads attempts with.
type attemptsReader interface {
	Attempts(ctx context.Context, runID, targetID string) ([]store.Attempt, error)
}

// runAttempts reads the attempts of every target of run runID in one read
// when the store offers it (store.RunAttempter: localstore), by target ID.
// It returns nil when the store does not (dynamo): it keeps a target's
// attempts in the target's partition, and finding the run's would take a
// read per target, a million for a run of a million targets.
func runAttempts(ctx context.Context, st attemptsReader, runID string) (map[string][]store.Attempt, error) {
	ra, ok := st.(store.RunAttempter)
	if !ok {
		return nil, nil
	}
	as, err := ra.RunAttempts(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("attempts of run %s: %w", runID, err)
	}
	byTarget := map[string][]store.Attempt{}
	for _, a := range as {
		byTarget[a.TargetID] = append(byTarget[a.TargetID], a)
	}
	return byTarget, nil
}

// targetAttempts reads the attempts of each of ids in run runID, a target
// at a time, storeReads at once: for a store that cannot read a run's
// at once, and only for the targets listed.
func targetAttempts(ctx context.Context, st attemptsReader, runID string, ids []string) (map[string][]store.Attempt, error) {
	got, err := eachOf(ctx, ids, func(ctx context.Context, id string) ([]store.Attempt, error) {
		as, err := st.Attempts(ctx, runID, id)
		if err != nil {
			return nil, fmt.Errorf("attempts of %s in run %s: %w", id, runID, err)
		}
		return as, nil
	})
	if err != nil {
		return nil, err
	}
	byTarget := make(map[string][]store.Attempt, len(ids))
	for i, id := range ids {
		byTarget[id] = got[i]
	}
	return byTarget, nil
}

// listMissing returns the first limit (0: all) of ids, the run's targets
// without a result in ID order, with their attempts: those whose job is
// in the DLQ first, then those with failed attempts, then the rest. A
// store that cannot read the run's attempts at once has the attempts of
// the listed targets read alone; which targets have attempts is then known
// only for them, so past the limit the targets not in the DLQ are listed
// in ID order.
func listMissing(ctx context.Context, st attemptsReader, runID string, ids []string, inDLQ map[string]dlq.Letter, limit int) ([]missingTarget, error) {
	attempts, err := runAttempts(ctx, st, runID)
	if err != nil {
		return nil, err
	}
	listed := byInterest(ids, inDLQ, attempts)
	if limit > 0 && len(listed) > limit {
		listed = listed[:limit]
	}
	if attempts == nil {
		if attempts, err = targetAttempts(ctx, st, runID, listed); err != nil {
			return nil, err
		}
	}
	ms := make([]missingTarget, len(listed))
	for i, id := range listed {
		l, dl := inDLQ[id]
		ms[i] = newMissingTarget(id, attempts[id], l, dl)
	}
	// Now that the listed targets' attempts are known: the same order
	// from any store.
	slices.SortStableFunc(ms, func(a, b missingTarget) int {
		return cmp.Compare(interest(a.InDLQ, a.Attempts), interest(b.InDLQ, b.Attempts))
	})
	return ms, nil
}

// missingTargets returns the run's recorded targets that have no result,
// or nil when the run has no recorded targets.
func missingTargets(run store.Run, rr *runResults) []string {
	if len(run.Targets) == 0 {
		return nil
	}
	ids := make([]string, 0, max(0, len(run.Targets)-len(rr.ids)))
	seen := make(map[string]bool, cap(ids))
	for _, id := range run.Targets {
		if !rr.has(id) && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}
