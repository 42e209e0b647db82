// Package migrate copies a stage's results from a DynamoDB table of schema
// v1 (dynamov1) into one of schema v2 (dynamo): `cronless migrate`.
//
// What it copies: every run (its schedule, scheduled time, planned count
// and targets), and for every target (the targets of v1's latest items,
// in target ID order) its results scheduled at or after Options.Since (all
// of them when it is zero) and always its latest result, so that the
// latest results and the planner's view of each target survive whatever
// --since cuts. Attempts are not copied: they expire after the retention
// anyway and only explain dead-lettered messages.
//
// The v2 store's Import writes each target's whole copied history at once,
// computing its Changed flags, where its fields are stored and the target
// list as PutResult would have. With a Since, the oldest copied result of
// a target is computed against nothing before it, so it is never Changed.
//
// A migration is resumable: a checkpoint file records that the runs were
// copied and the last target ID whose batch, and every batch before it,
// was. It is idempotent: Import rewrites identical items, so running it
// again, or redoing a batch that was partly written when it stopped, leaves
// the v2 table as an uninterrupted migration does.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
)

// Source is what a migration reads of the v1 table; *dynamov1.Store is one.
type Source interface {
	// Plans lists every run without counters or targets.
	Plans(ctx context.Context) ([]store.Run, error)
	// Plan reads one run with its planned targets.
	Plan(ctx context.Context, runID string) (store.Run, error)
	// Latest with an empty target ID lists the latest result of every
	// target, ordered by target ID.
	Latest(ctx context.Context, targetID string) ([]job.Result, error)
	// HistoryStored lists a target's results scheduled in [since, until),
	// with the times they were stored.
	HistoryStored(ctx context.Context, targetID string, since, until time.Time) ([]store.StoredResult, error)
}

// Dest is what a migration writes to the v2 table; *dynamo.Store is one.
// Import must be idempotent per target when it is given the target's
// whole history, and must keep a run's planned count and targets when it
// is given the run.
type Dest interface {
	ImportStored(ctx context.Context, runs []store.Run, results []store.StoredResult) error
}

// Defaults of Options.
const (
	DefaultBatch      = 25
	DefaultMaxResults = 5000
	DefaultRunBatch   = 100
	DefaultParallel   = 4
)

// ErrCheckpointMismatch is wrapped by Run's error when the checkpoint is
// of another migration (other tables, stage, region or since).
var ErrCheckpointMismatch = errors.New("the checkpoint is of another migration")

// Options are a migration's choices.
type Options struct {
	// Stage, Region, FromTable and ToTable name the migration in its
	// checkpoint (a checkpoint of other names is not resumed).
	Stage, Region, FromTable, ToTable string
	// Since: copy the results scheduled at or after it (zero: all), and
	// each target's latest result whenever it was scheduled.
	Since time.Time
	// Batch is how many targets make a batch, the unit of the checkpoint
	// (default DefaultBatch).
	Batch int
	// MaxResults bounds the results of one Import call (and what a batch
	// holds in memory): a batch whose targets have more is imported in
	// several calls, a target's whole history always in one (default
	// DefaultMaxResults).
	MaxResults int
	// RunBatch is how many runs one Import call copies (default
	// DefaultRunBatch).
	RunBatch int
	// Parallel is how many batches are copied at once (default
	// DefaultParallel).
	Parallel int
	// Checkpoint is the checkpoint file ("": none, nothing is resumable).
	Checkpoint string
	// Restart ignores the checkpoint and copies everything again.
	Restart bool
	// DryRun reads what a migration would copy (from the checkpoint on)
	// and counts it, writing nothing (no checkpoint either).
	DryRun bool
	// Progress, when set, is called after each copied chunk of runs and
	// each copied batch of targets, one call at a time.
	Progress func(Progress)
	// Now is the clock of the elapsed time and the checkpoint's times
	// (default time.Now).
	Now func() time.Time
}

// Phase is what a migration is copying.
type Phase string

const (
	PhaseRuns    Phase = "runs"
	PhaseTargets Phase = "targets"
)

// Progress is how far a migration's phase is, in this call.
type Progress struct {
	Phase Phase
	// Done and Total count the phase's runs or targets (those left to copy
	// when it started; the checkpoint's are not counted).
	Done, Total int
	// Results is how many results were copied so far in this call.
	Results int
}

// Summary is what a migration did.
type Summary struct {
	// Runs, Targets and Results are what this call copied (with DryRun:
	// would copy).
	Runs, Targets, Results int
	// Before is what earlier, interrupted calls had copied (from the
	// checkpoint); zero without one.
	Before struct{ Runs, Targets, Results int }
	// AlreadyDone: the checkpoint says the migration completed; nothing
	// was read or copied.
	AlreadyDone bool
	// Resumed: the migration went on from a checkpoint.
	Resumed bool
	DryRun  bool
	Elapsed time.Duration
}

// Run migrates from into to (see the package documentation).
func Run(ctx context.Context, from Source, to Dest, opts Options) (Summary, error) {
	m, err := newMigration(from, to, opts)
	if err != nil {
		return Summary{}, err
	}
	start := m.opts.Now()
	sum, err := m.run(ctx)
	sum.Elapsed = m.opts.Now().Sub(start)
	return sum, err
}

type migration struct {
	from Source
	to   Dest
	opts Options
	key  Key

	cp   Checkpoint
	runs map[string]store.Run // every run, without targets

	mu  sync.Mutex // guards cp, sum and the progress calls
	sum Summary
}

func newMigration(from Source, to Dest, opts Options) (*migration, error) {
	opts.Batch = orDefault(opts.Batch, DefaultBatch)
	opts.MaxResults = orDefault(opts.MaxResults, DefaultMaxResults)
	opts.RunBatch = orDefault(opts.RunBatch, DefaultRunBatch)
	opts.Parallel = orDefault(opts.Parallel, DefaultParallel)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Progress == nil {
		opts.Progress = func(Progress) {}
	}
	key := Key{Stage: opts.Stage, Region: opts.Region, FromTable: opts.FromTable, ToTable: opts.ToTable, Since: opts.Since.UTC()}
	return &migration{from: from, to: to, opts: opts, key: key}, nil
}

func orDefault(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

func (m *migration) run(ctx context.Context) (Summary, error) {
	m.sum.DryRun = m.opts.DryRun
	if err := m.loadCheckpoint(); err != nil {
		return m.sum, err
	}
	if m.cp.Done {
		m.sum.AlreadyDone = true
		return m.sum, nil
	}
	plans, err := m.from.Plans(ctx)
	if err != nil {
		return m.sum, fmt.Errorf("migrate: list the runs: %w", err)
	}
	m.runs = make(map[string]store.Run, len(plans))
	for _, r := range plans {
		m.runs[r.ID] = r
	}
	if !m.cp.RunsDone {
		if err := m.copyRuns(ctx, plans); err != nil {
			return m.sum, err
		}
	}
	if err := m.copyTargets(ctx); err != nil {
		return m.sum, err
	}
	m.cp.Done = true
	return m.sum, m.save()
}

// loadCheckpoint reads the checkpoint unless there is none, or Restart.
func (m *migration) loadCheckpoint() error {
	m.cp = Checkpoint{Key: m.key, StartedAt: m.opts.Now().UTC()}
	if m.opts.Checkpoint == "" || m.opts.Restart {
		return nil
	}
	cp, found, err := LoadCheckpoint(m.opts.Checkpoint)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if !found {
		return nil
	}
	if !cp.Key.equal(m.key) {
		return fmt.Errorf("migrate: %w: %s is of %s, not of %s (resume with the same flags, start over with --restart, or choose another file with --checkpoint)",
			ErrCheckpointMismatch, m.opts.Checkpoint, describe(cp.Key), describe(m.key))
	}
	m.cp = cp
	m.sum.Resumed = cp.RunsDone || cp.LastTarget != ""
	m.sum.Before.Runs, m.sum.Before.Targets, m.sum.Before.Results = cp.Runs, cp.Targets, cp.Results
	return nil
}

func describe(k Key) string {
	s := fmt.Sprintf("%s → %s", k.FromTable, k.ToTable)
	if k.Stage != "" {
		s += " of stage " + k.Stage
	}
	if k.Region != "" {
		s += " (" + k.Region + ")"
	}
	if !k.Since.IsZero() {
		s += " since " + k.Since.Format(time.RFC3339Nano)
	} else {
		s += ", all history"
	}
	return s
}

// save writes the checkpoint (not on a dry run). Call it with m.mu held,
// or when no batch runs.
func (m *migration) save() error {
	if m.opts.Checkpoint == "" || m.opts.DryRun {
		return nil
	}
	m.cp.UpdatedAt = m.opts.Now().UTC()
	if err := SaveCheckpoint(m.opts.Checkpoint, m.cp); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// copyRuns copies every run with its targets, RunBatch runs an Import,
// then records in the checkpoint that the runs are done.
func (m *migration) copyRuns(ctx context.Context, plans []store.Run) error {
	var chunks [][]store.Run
	for c := range slices.Chunk(plans, m.opts.RunBatch) {
		chunks = append(chunks, c)
	}
	done := 0
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(m.opts.Parallel)
	for _, chunk := range chunks {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			runs := make([]store.Run, len(chunk))
			for i, r := range chunk {
				p, err := m.from.Plan(gctx, r.ID)
				if err != nil {
					return fmt.Errorf("read run %s: %w", r.ID, err)
				}
				runs[i] = p
			}
			if !m.opts.DryRun {
				if err := m.to.ImportStored(gctx, runs, nil); err != nil {
					return fmt.Errorf("copy runs %s to %s: %w", runs[0].ID, runs[len(runs)-1].ID, err)
				}
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			done += len(runs)
			m.sum.Runs += len(runs)
			m.opts.Progress(Progress{Phase: PhaseRuns, Done: done, Total: len(plans), Results: m.sum.Results})
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("migrate: runs: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("migrate: runs: %w", err)
	}
	m.cp.RunsDone = true
	m.cp.Runs += len(plans)
	return m.save()
}

// batch is a run of targets, in ID order, copied and checkpointed together.
type batch struct {
	targets []job.Result // their latest results
	done    bool
	results int // how many were copied
}

// copyTargets copies the results of every target after the checkpoint's
// last, a batch of targets at a time, Parallel batches at once. The
// checkpoint moves to a batch's last target once it and every batch
// before it are copied.
func (m *migration) copyTargets(ctx context.Context) error {
	latest, err := m.from.Latest(ctx, "")
	if err != nil {
		return fmt.Errorf("migrate: list the targets: %w", err)
	}
	slices.SortFunc(latest, func(a, b job.Result) int { return strings.Compare(a.TargetID, b.TargetID) })
	if m.cp.LastTarget != "" {
		i, _ := slices.BinarySearchFunc(latest, m.cp.LastTarget, func(r job.Result, id string) int {
			return strings.Compare(r.TargetID, id)
		})
		for i < len(latest) && latest[i].TargetID <= m.cp.LastTarget {
			i++
		}
		latest = latest[i:]
	}
	var batches []*batch
	for c := range slices.Chunk(latest, m.opts.Batch) {
		batches = append(batches, &batch{targets: c})
	}
	next, done := 0, 0 // the first batch not yet copied; targets copied
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(m.opts.Parallel)
	for _, b := range batches {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			n, err := m.copyBatch(gctx, b.targets)
			if err != nil {
				return err
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			b.done, b.results = true, n
			done += len(b.targets)
			m.sum.Targets += len(b.targets)
			m.sum.Results += n
			advanced := false
			for next < len(batches) && batches[next].done {
				last := batches[next].targets
				m.cp.LastTarget = last[len(last)-1].TargetID
				m.cp.Targets += len(last)
				m.cp.Results += batches[next].results
				next++
				advanced = true
			}
			if advanced {
				if err := m.save(); err != nil {
					return err
				}
			}
			m.opts.Progress(Progress{Phase: PhaseTargets, Done: done, Total: len(latest), Results: m.sum.Results})
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("migrate: targets: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("migrate: targets: %w", err)
	}
	return nil
}

// copyBatch copies the results of a batch's targets, each target's whole
// history in one Import call, and returns how many it copied.
func (m *migration) copyBatch(ctx context.Context, latest []job.Result) (int, error) {
	var pending []store.StoredResult
	copied := 0
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		if !m.opts.DryRun {
			if err := m.to.ImportStored(ctx, m.runsOf(pending), pending); err != nil {
				return fmt.Errorf("copy the results of targets %s to %s: %w",
					pending[0].Result.TargetID, pending[len(pending)-1].Result.TargetID, err)
			}
		}
		copied += len(pending)
		pending = nil
		return nil
	}
	for _, l := range latest {
		rs, err := m.history(ctx, l)
		if err != nil {
			return 0, err
		}
		if len(pending) > 0 && len(pending)+len(rs) > m.opts.MaxResults {
			if err := flush(); err != nil {
				return 0, err
			}
		}
		pending = append(pending, rs...)
	}
	if err := flush(); err != nil {
		return 0, err
	}
	return copied, nil
}

// history is what is copied of a target: its results scheduled at or after
// Since, and its latest result.
func (m *migration) history(ctx context.Context, latest job.Result) ([]store.StoredResult, error) {
	rs, err := m.from.HistoryStored(ctx, latest.TargetID, m.opts.Since, time.Time{})
	if err == nil && !slices.ContainsFunc(rs, func(r store.StoredResult) bool { return r.Result.RunID == latest.RunID }) {
		// Older than Since: read it with its stored time.
		var l []store.StoredResult
		l, err = m.from.HistoryStored(ctx, latest.TargetID, latest.ScheduledAt, latest.ScheduledAt.Add(time.Nanosecond))
		for _, r := range l {
			if r.Result.RunID == latest.RunID {
				rs = append(rs, r)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read the results of target %s: %w", latest.TargetID, err)
	}
	return rs, nil
}

// runsOf are the runs of results, as Import is to keep them: with their
// planned counts, without their targets (copyRuns copied those). A run
// that v1 has no item of is left out: Import creates it as PutResult
// would.
func (m *migration) runsOf(results []store.StoredResult) []store.Run {
	seen := map[string]bool{}
	var runs []store.Run
	for _, sr := range results {
		r := sr.Result
		if seen[r.RunID] {
			continue
		}
		seen[r.RunID] = true
		if run, ok := m.runs[r.RunID]; ok {
			run.Targets = nil
			runs = append(runs, run)
		}
	}
	slices.SortFunc(runs, func(a, b store.Run) int { return strings.Compare(a.ID, b.ID) })
	return runs
}
