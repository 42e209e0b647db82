// Package store is the results and runs store port of cronless. Adapters:
// localstore (SQLite, for local mode) and dynamo (Amazon DynamoDB).
//
// The semantics every adapter keeps (checked by storetest, the contract
// suite every adapter runs):
//   - a result is keyed by (target ID, run ID); putting it again changes
//     nothing and reports Duplicate;
//   - the first put of a result counts once in its run's Succeeded or Failed;
//   - "latest" per target moves only to a result of a later scheduled time;
//   - Changed is true when an ok result's content hash differs from that of
//     the target's previous ok result (the ok result of the latest earlier
//     scheduled time); the first ok result of a target is not changed. When
//     an older result arrives late, the next later result's Changed is
//     recomputed against it;
//   - a not-modified ok result (a 304) is never Changed. One without
//     fields is completed with the fields (and, when it has none, the content
//     hash) of the target's previous ok result when both have the same
//     RulesHash and its content hash, if it has one, is the previous
//     result's, so a 304 never shows fields extracted with other rules or of
//     other content; otherwise (no previous ok result, or one of other or
//     unknown rules or content) it is stored without fields and with an
//     empty RulesHash, so that the planner sends no validators for it and
//     the next fetch is unconditional;
//   - PutRun creates a run once; putting it again keeps the first (its
//     planned count and targets); a run a result created gets them from
//     the first PutRun after it;
//   - an attempt is keyed by (run ID, target ID, message ID, attempt
//     number): recording it again keeps the first, and Attempts lists a
//     (run, target)'s attempts in time order;
//   - the error message of a result or an attempt is stored capped at
//     job.MaxErrorMessageBytes (job.Error.Capped: cut on a character
//     boundary, with a marker saying how long it was), so a huge message
//     never keeps the result or the attempt from being stored (a DynamoDB
//     item holds at most 400 KB).
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cronless/cronless/shared/job"
)

// MaxRetentionDays is the longest result retention RETENTION_DAYS and the
// deployment's retentionDays accept (100 years: DynamoDB's TTL takes any
// epoch time).
const MaxRetentionDays = 36500

// ErrNotFound is returned when a run or result does not exist.
var ErrNotFound = errors.New("not found")

// Run is one tick of one schedule and its counters.
type Run struct {
	ID          string    `json:"run_id"`
	Schedule    string    `json:"schedule"`
	ScheduledAt time.Time `json:"scheduled_at"`
	Planned     int       `json:"planned"`
	Succeeded   int       `json:"succeeded"`
	Failed      int       `json:"failed"`
	CreatedAt   time.Time `json:"created_at"`
	// FirstResultAt and LastResultAt are when the first and last results
	// were stored (zero before any).
	FirstResultAt time.Time `json:"first_result_at,omitzero"`
	LastResultAt  time.Time `json:"last_result_at,omitzero"`
	// Targets are the IDs of the planned targets, in plan order, as the
	// planner's PutRun recorded them (one per planned job, so as many as
	// Planned). Only Run returns them, not Runs; they are empty for a run
	// whose plan has not been stored yet, for a run planned before the
	// targets were recorded, and for a plan too large for the adapter to
	// record (dynamo).
	Targets []string `json:"targets,omitempty"`
	// Shards is how many shards of a stored target list the run was
	// planned in (0: none, only targets.yaml's own targets); PlannedShards
	// is how many of them have recorded their part (PutPlanPart) so far.
	// Planned and Targets include the parts recorded.
	Shards        int `json:"shards,omitempty"`
	PlannedShards int `json:"planned_shards,omitempty"`
}

// Done is the number of (run, target) pairs with a stored result.
func (r Run) Done() int { return r.Succeeded + r.Failed }

// Outcome is what a PutResult did.
type Outcome struct {
	// Duplicate: the result was stored before; nothing changed.
	Duplicate bool
	// Changed is the stored result's Changed flag.
	Changed bool
	// Latest: the result became the target's latest.
	Latest bool
}

// PreviousRuns is how many of a schedule's most recent runs
// Store.Previous looks at.
const PreviousRuns = 2

// Validators are what the planner needs of a target's result to make the
// next request of its page conditional: the page and rules it was of, its
// status, and the response's validators and content hash.
type Validators struct {
	TargetID     string
	RunID        string
	ScheduledAt  time.Time
	URL          string
	Status       job.Status
	ETag         string
	LastModified string
	ContentHash  string
	RulesHash    string
}

// StoredResult is a result with the time a store stored it: what a
// migration copies from one table to another, so that run times and
// expiry stay as they were.
type StoredResult struct {
	Result   job.Result
	StoredAt time.Time
}

// RunEntry is what a store keeps of one result of a run in the index that
// lists the run's results: enough to count them by status, find the
// targets without a result and list the first ones, without the result's
// fields. The HTTP status and error of a result are not in it (DynamoDB's
// GSI1 does not project them): read the results listed (Result) for them.
type RunEntry struct {
	TargetID string
	Status   job.Status
	// Changed is the result's Changed flag.
	Changed bool
	URL     string
	// StoredAt is when the store stored the result.
	StoredAt time.Time
}

// Attempt is one failed, retryable attempt at a job (the wire contract
// job.Attempt), stored so a dead-lettered message can be explained.
type Attempt = job.Attempt

// Store is everything the handler cores and the CLI need from the store.
// Handler cores declare the narrower interfaces they use.
type Store interface {
	// PutRun records a run with its planned count and targets; a run that
	// exists is kept.
	PutRun(ctx context.Context, run Run) (created bool, err error)
	// PutResult stores a result idempotently and updates its run's counters
	// and its target's latest result.
	PutResult(ctx context.Context, r job.Result) (Outcome, error)
	// RecordAttempt records a failed attempt, idempotent per (run, target,
	// message ID, attempt): a redelivery of the same attempt is stored once,
	// and the attempts of a message replayed from the DLQ (a new message ID,
	// its attempts numbered from 1 again) are kept beside the old ones. Its
	// error message is stored capped (job.Error.Capped).
	RecordAttempt(ctx context.Context, a Attempt) error

	// Run returns one run, with its targets, or ErrNotFound.
	Run(ctx context.Context, runID string) (Run, error)
	// Runs returns the most recent runs by scheduled time, newest first,
	// without their targets (a run's list is not read at all).
	Runs(ctx context.Context, limit int) ([]Run, error)
	// Result returns one result, or ErrNotFound.
	Result(ctx context.Context, targetID, runID string) (job.Result, error)
	// Latest returns the latest result of every target (or of one when
	// targetID is not empty), ordered by target ID.
	Latest(ctx context.Context, targetID string) ([]job.Result, error)
	// Previous returns, for each target with a result in one of the
	// PreviousRuns most recent runs of schedule scheduled before before,
	// the validators of its newest result there, ordered by target ID: what
	// the planner makes a tick's requests conditional with. (An adapter
	// need not read the older run when the newest has a result of every
	// target it planned.)
	Previous(ctx context.Context, schedule string, before time.Time) ([]Validators, error)
	// RunResults returns one run's results, ordered by target ID.
	RunResults(ctx context.Context, runID string) ([]job.Result, error)
	// RunEntries calls fn with the entry of every result of run runID
	// (RunEntry: no fields), in target ID order, none for an unknown run.
	// It stops at the first error fn returns and returns it. fn must not
	// call the store: an adapter may hold a read open while fn runs.
	//
	// It is what lists or counts a run's results without reading them
	// whole: a run of a million results, read with RunResults, is a
	// million results' fields in memory. It is a method of Store, not an
	// optional interface as RunAttempter is, because every adapter can
	// offer it from an index it keeps anyway: localstore from the index
	// of a run's results (store_results_by_run), dynamo from the run's
	// GSI1 entries alone, as its run counters are read.
	RunEntries(ctx context.Context, runID string, fn func(RunEntry) error) error
	// Attempts returns the recorded failed attempts of a (run, target),
	// oldest first (by At, then attempt number and message ID), with the
	// contract version V set.
	Attempts(ctx context.Context, runID, targetID string) ([]Attempt, error)
}

// RunAttempter is a store that reads the recorded failed attempts of every
// target of one run at once, by key: `cronless runs show` orders a run's
// targets without a result by them (attempted ones first) without a read
// per target, which for a run of a million targets is a million reads.
//
// It is apart from Store because not every adapter can offer it: localstore
// keys attempts by (run, target, …), so one indexed query reads a run's;
// dynamo keeps them in their target's partition (T#<target>, A#<run>#…),
// where a run's attempts could only be found by a Scan or through a new
// index, so dynamo does not implement it, and its callers read Attempts for
// the few targets they show. Adapters that offer it run storetest's
// RunAttempter suite.
type RunAttempter interface {
	// RunAttempts returns the recorded failed attempts of run runID,
	// ordered by target ID and then as Attempts orders a target's, with
	// the contract version V set; none (and no error) for an unknown run.
	RunAttempts(ctx context.Context, runID string) ([]Attempt, error)
}

// CheckRun checks what PutRun requires of a run: an ID, a scheduled time, a
// planned count that is not negative, and targets (if any) that are as many
// as planned, each a non-empty ID without a line break. Adapters call it.
func CheckRun(run Run) error {
	switch {
	case run.ID == "":
		return errors.New("run ID is missing")
	case run.ScheduledAt.IsZero():
		return errors.New("scheduled time is missing")
	case run.Planned < 0:
		return fmt.Errorf("planned count %d is negative", run.Planned)
	case len(run.Targets) > 0 && len(run.Targets) != run.Planned:
		return fmt.Errorf("%d targets for a plan of %d jobs", len(run.Targets), run.Planned)
	}
	for i, id := range run.Targets {
		if id == "" || strings.ContainsAny(id, "\r\n") {
			return fmt.Errorf("target %d: ID %q is empty or holds a line break", i, id)
		}
	}
	return nil
}
