// Package planner is the handler core of the planner Lambda: a schedule tick
// becomes one Job per target of that schedule on the targets queue, and the
// run is recorded with its planned count.
package planner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/metrics"
	"github.com/cronless/cronless/shared/obs"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/targets"
)

// Tick is what EventBridge Scheduler delivers to the planner: the schedule's
// Input, set in serverless.yml to
// {"schedule": "<name>", "scheduled_time": "<aws.scheduler.scheduled-time>"}.
// The local runtime sends the same payload.
type Tick struct {
	Schedule      string `json:"schedule"`
	ScheduledTime string `json:"scheduled_time"`
}

// ErrBadTick is wrapped by errors about the tick itself (retrying will not help).
var ErrBadTick = errors.New("bad tick")

// UnmarshalJSON decodes a tick strictly, so a wrong payload (for example an
// EventBridge rule's event instead of a Scheduler input) is named as such.
func (t *Tick) UnmarshalJSON(b []byte) error {
	type plain Tick
	var p plain
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("%w: want {\"schedule\": \"<name>\", \"scheduled_time\": \"<RFC 3339 time>\"}: %v", ErrBadTick, err)
	}
	*t = Tick(p)
	return nil
}

// Time parses the tick's scheduled time.
func (t Tick) Time() (time.Time, error) {
	if t.ScheduledTime == "" {
		return time.Time{}, fmt.Errorf("%w: scheduled_time is missing; the schedule's input must carry \"scheduled_time\": \"<aws.scheduler.scheduled-time>\"", ErrBadTick)
	}
	at, err := time.Parse(time.RFC3339, t.ScheduledTime)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: scheduled_time %q is not an RFC 3339 time (Scheduler fills it in from <aws.scheduler.scheduled-time>)", ErrBadTick, t.ScheduledTime)
	}
	return at.UTC(), nil
}

// Response is what a tick planned.
type Response struct {
	RunID       string    `json:"run_id"`
	Schedule    string    `json:"schedule"`
	ScheduledAt time.Time `json:"scheduled_at"`
	Planned     int       `json:"planned"`
	// NewRun is false when the tick was delivered before (the same run is
	// planned again; its jobs are sent again and absorbed downstream).
	NewRun bool `json:"new_run"`
	// Shards is how many shards of the stored target list were sent, each
	// to be planned by an invocation of its own; their jobs are counted in
	// the run as each is planned.
	Shards int `json:"shards,omitempty"`
	// Tails is how many of the stored targets in Planned this invocation
	// planned itself, the last few of each shard, so that every shard sends
	// full batches (tails.go).
	Tails int `json:"tails,omitempty"`
}

// Sender sends a batch of up to queue.MaxBatch messages.
type Sender interface {
	SendBatch(ctx context.Context, msgs []queue.Outgoing) error
}

// RunRecorder records a run and its planned count.
type RunRecorder interface {
	PutRun(ctx context.Context, run store.Run) (created bool, err error)
}

// PreviousReader reads the validators of a schedule's targets' results in
// its most recent runs, as store.Store does.
type PreviousReader interface {
	Previous(ctx context.Context, schedule string, before time.Time) ([]store.Validators, error)
}

// Store is what the planner needs of the store: it records runs, and reads
// the targets' latest results once per tick for the validators of
// conditional requests.
type Store interface {
	RunRecorder
	PreviousReader
}

// previousTimeout bounds the read of the previous results: without it a
// tick is planned with unconditional requests, which is only more
// expensive.
const previousTimeout = 10 * time.Second

// Planner plans runs. It is safe for concurrent use.
type Planner struct {
	targets     *targets.File
	jobs        Sender
	runs        Store
	log         *zap.Logger
	parallelism int
	now         func() time.Time
	metrics     *metrics.Recorder

	// A stored target list, planned in shards (shard.go).
	list   TargetList
	shards Sender        // sends each shard's event
	lead   time.Duration // PlanLead, or WithPlanLead's
	ownMu  sync.Mutex
	own    map[string]map[string]int // targets.yaml's targets per schedule and host
}

// Option configures a Planner.
type Option func(*Planner)

// WithLogger sets the logger (default: none).
func WithLogger(l *zap.Logger) Option { return func(p *Planner) { p.log = l } }

// WithParallelism sets how many batches are sent at once (default 8).
func WithParallelism(n int) Option {
	return func(p *Planner) {
		if n > 0 {
			p.parallelism = n
		}
	}
}

// WithClock sets the clock that stamps runs and paces jobs (default time.Now).
func WithClock(now func() time.Time) Option { return func(p *Planner) { p.now = now } }

// WithMetrics counts the jobs planned and the span their pacing spreads
// them over, by schedule, into m, and flushes it at the end of each tick
// (docs/aws.md, Metrics).
func WithMetrics(m *metrics.Recorder) Option { return func(p *Planner) { p.metrics = m } }

// New returns a planner for the targets in tf, sending jobs with jobs and
// recording runs (and reading the latest results) with runs.
func New(tf *targets.File, jobs Sender, runs Store, opts ...Option) *Planner {
	p := &Planner{targets: tf, jobs: jobs, runs: runs, log: zap.NewNop(), parallelism: 8, now: time.Now, lead: PlanLead}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Handle plans the run of one tick. A repeated delivery of the same tick
// plans the same run again (same run ID, no second run). It returns an error
// when the tick is bad or when some jobs could not be sent; then the whole
// tick should be retried (Scheduler does), which is safe.
func (p *Planner) Handle(ctx context.Context, tick Tick) (Response, error) {
	at, err := tick.Time()
	if err != nil {
		return Response{}, err
	}
	if _, ok := p.targets.Schedules[tick.Schedule]; !ok {
		return Response{}, fmt.Errorf("%w: schedule %q is not in the targets file (defined: %s)",
			ErrBadTick, tick.Schedule, strings.Join(p.targets.ScheduleNames, ", "))
	}
	runID := job.RunID(tick.Schedule, at)
	log := obs.FromContext(ctx, p.log).With(obs.RunID(runID), zap.String("schedule", tick.Schedule))

	shards, err := p.shardsOf(ctx, tick.Schedule)
	if err != nil {
		return Response{}, fmt.Errorf("plan %s: %w", runID, err)
	}
	tgts := p.targets.TargetsFor(tick.Schedule)
	var (
		prevRuns []string // a stored list's: the runs its validators come from
		prev     map[string]*job.Previous
	)
	if len(shards) > 0 {
		prevRuns = p.recentRuns(ctx, tick.Schedule, at, log)
		prev = p.ownPrevious(ctx, tick.Schedule, prevRuns, tgts, log)
	} else {
		prev = p.previous(ctx, tick.Schedule, at, tgts, log)
	}
	msgs := make([]queue.Outgoing, 0, len(tgts))
	ids := make([]string, 0, len(tgts))
	pace := newPacer(p.now())
	for _, t := range tgts {
		j := t.Job(runID, at)
		j.Previous = prev[t.ID]
		delay, notBefore := pace.next(t.Host(), t.HostRate)
		j.NotBefore = notBefore
		body, err := job.Encode(j)
		if err != nil {
			return Response{}, fmt.Errorf("plan %s: %w", runID, err)
		}
		msgs = append(msgs, queue.Outgoing{
			ID:         entryID(len(msgs)),
			Body:       body,
			Attributes: job.Attributes(j.RunID, j.TargetID),
			Delay:      delay,
		})
		ids = append(ids, t.ID)
	}

	// A stored list's shards, each planned by its own invocation but for
	// its tail, which this one plans with its own targets (tails.go).
	var (
		run   ShardMessage // the shards' event, but for its shard and tail
		tails tailJobs
	)
	if len(shards) > 0 {
		run = ShardMessage{V: ShardVersion, RunID: runID, Schedule: tick.Schedule, ScheduledAt: at,
			PacedFrom: pace.base.Add(p.lead), PreviousRuns: prevRuns}
		if tails, err = p.planTails(ctx, run, shards, log); err != nil {
			return Response{}, fmt.Errorf("plan %s: %w", runID, err)
		}
		msgs, ids = append(msgs, tails.msgs...), append(ids, tails.ids...)
		for i := range msgs {
			msgs[i].ID = entryID(i)
		}
		shards = tails.rest
	}

	// The run is recorded before its jobs are sent, so no result can be
	// stored for a run whose planned count is unknown for long. It records
	// the planned targets too, so that the targets without a result are
	// known exactly (cronless runs show), and how many shards will add
	// theirs.
	created, err := p.runs.PutRun(ctx, store.Run{
		ID: runID, Schedule: tick.Schedule, ScheduledAt: at, Planned: len(msgs), CreatedAt: p.now().UTC(),
		Targets: ids, Shards: len(shards),
	})
	if err != nil {
		return Response{}, fmt.Errorf("record run %s: %w", runID, err)
	}
	if err := p.send(ctx, p.jobs, "jobs", msgs, ids); err != nil {
		return Response{}, fmt.Errorf("plan %s: %w", runID, err)
	}
	if len(shards) > 0 {
		if err := p.sendShards(ctx, run, shards, tails.from); err != nil {
			return Response{}, fmt.Errorf("plan %s: %w", runID, err)
		}
	}
	log.Info("run planned", zap.Int("planned", len(msgs)), zap.Int("shards", len(shards)), zap.Int("tails", len(tails.ids)), zap.Bool("new_run", created),
		zap.Duration("paced_over", pace.span), zap.String("slowest_host", pace.slowest))
	p.metrics.Add(metrics.JobsPlanned, tick.Schedule, "", float64(len(msgs)))
	p.metrics.Add(metrics.PacedOverSeconds, tick.Schedule, "", pace.span.Seconds())
	if err := p.metrics.Flush(); err != nil {
		log.Warn("metrics not written", zap.Error(err))
	}
	return Response{RunID: runID, Schedule: tick.Schedule, ScheduledAt: at, Planned: len(msgs), NewRun: created, Shards: len(shards),
		Tails: len(tails.ids)}, nil
}

// previous returns, by target ID, the validators of each target's latest
// result in the schedule's most recent runs before at (store.Previous) when
// it is ok and of the same URL and rules; none when the read fails, and the
// tick's requests are unconditional.
//
// Same rules, because a 304 is completed with the previous result's fields;
// a result without a rules hash gets none, so that the next one has one.
func (p *Planner) previous(ctx context.Context, schedule string, at time.Time, tgts []targets.Target, log *zap.Logger) map[string]*job.Previous {
	if len(tgts) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, previousTimeout)
	defer cancel()
	latest, err := p.runs.Previous(ctx, schedule, at)
	if err != nil {
		log.Warn("previous results not read; the run's requests are unconditional", zap.Error(err))
		return nil
	}
	return validators(tgts, latest)
}

// ownPrevious is previous for targets.yaml's own targets of a schedule
// that also has a stored list: store.Previous would read the previous
// run's every result (10^6 of them at scale) to keep these few, so their
// validators are read as a shard's are, by key, over the range of their
// IDs in each hash group (ShardPrevious), holding only theirs.
func (p *Planner) ownPrevious(ctx context.Context, schedule string, runIDs []string, tgts []targets.Target, log *zap.Logger) map[string]*job.Previous {
	if len(tgts) == 0 {
		return nil
	}
	ids := make([]string, len(tgts))
	for i, t := range tgts {
		ids[i] = t.ID
	}
	slices.Sort(ids)
	span := targets.Shard{Schedule: schedule, Group: targets.AllGroups, From: ids[0], To: ids[len(ids)-1] + "\x00"}
	return p.shardPrevious(ctx, span, runIDs, tgts, ids, log)
}

// validators keeps, by target ID, the validators of each target's result
// that are usable for its next request: an ok result of the same URL and
// rules, whose validators are sendable.
func validators(tgts []targets.Target, latest []store.Validators) map[string]*job.Previous {
	type current struct{ url, rules string }
	cur := make(map[string]current, len(tgts))
	for _, t := range tgts {
		cur[t.ID] = current{url: t.URL, rules: job.RulesHash(t.Extract)}
	}
	prev := map[string]*job.Previous{}
	for _, r := range latest {
		// A result of another URL (the target's was edited) is another page;
		// one of other rules (or of unknown rules) has other fields.
		c, ok := cur[r.TargetID]
		if !ok || c.url != r.URL || r.Status != job.StatusOK || r.RulesHash == "" || r.RulesHash != c.rules {
			continue
		}
		pr := job.Previous{ETag: r.ETag, LastModified: r.LastModified, ContentHash: r.ContentHash}
		if pr.Validate() != nil { // none, or not sendable: the job would be malformed
			continue
		}
		prev[r.TargetID] = &pr
	}
	return prev
}

// send sends msgs with to in batches of queue.MaxBatch, p.parallelism
// batches at a time, and returns an error naming, by names (one per
// message), every one that was not sent: what of jobs (targets) or of shard
// events (shards).
func (p *Planner) send(ctx context.Context, to Sender, what string, msgs []queue.Outgoing, names []string) error {
	var (
		mu     sync.Mutex
		failed []string
		g      errgroup.Group // no WithContext: a failed batch does not stop the others
	)
	g.SetLimit(p.parallelism)
	for start := 0; start < len(msgs); start += queue.MaxBatch {
		end := min(start+queue.MaxBatch, len(msgs))
		batch := msgs[start:end]
		g.Go(func() error {
			err := to.SendBatch(ctx, batch)
			if err == nil {
				return nil
			}
			bad, partial := queue.FailedIDs(err)
			mu.Lock()
			defer mu.Unlock()
			for i, m := range batch {
				if e, ok := bad[m.ID]; ok || !partial {
					if !partial {
						e = err
					}
					failed = append(failed, fmt.Sprintf("%s (%v)", names[start+i], e))
				}
			}
			return nil
		})
	}
	_ = g.Wait() // never an error: the failures are collected
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d %s not sent: %s", len(failed), len(msgs), what, strings.Join(failed, ", "))
	}
	return nil
}

func entryID(i int) string { return fmt.Sprintf("job-%d", i) }
