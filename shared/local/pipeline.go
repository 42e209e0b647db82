package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"go.uber.org/zap"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/metrics"
	"github.com/cronless/cronless/shared/planner"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/results"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/targets"
	"github.com/cronless/cronless/shared/worker"
)

// MappingConfig is the event source mapping of one function.
type MappingConfig struct {
	BatchSize      int
	BatchWindow    time.Duration
	MaxConcurrency int
	Timeout        time.Duration
}

// Pipeline is the whole of cronless on one machine: the planner fed by the
// local scheduler, the worker and results cores fed by emulated event source
// mappings, over whatever queues and store it is given.
type Pipeline struct {
	Targets *targets.File
	// Ticks holds each schedule tick until its run is planned, as Lambda's
	// asynchronous invocation queue holds the planner's events on AWS. A
	// tick is deleted only after every job of its run was sent, so a
	// process killed while planning plans the same run (same run ID) again
	// once the tick's visibility timeout has passed, on its next start.
	Ticks queue.Queue
	// PlannerFailures holds, as Lambda's invocation records, the ticks and
	// shard events the planner failed on PlannerAttempts times and the bad
	// ones, as the planner's on-failure destination does on AWS: listed and
	// replayed with `cronless dlq --queue planner`. Nil: a bad event is
	// logged and dropped, a failing one retried for ever.
	PlannerFailures queue.Queue
	TargetsQueue    queue.Queue
	TargetsDLQ      queue.Queue
	Results         queue.Queue
	ResultsDLQ      queue.Queue
	Store           store.Store
	// TargetList is the stored target list (cronless targets import),
	// planned in shards whose events go on the ticks queue, one planner
	// invocation each, as the planner sends them to itself on AWS. Nil: only
	// targets.yaml's own targets are planned.
	TargetList planner.TargetList
	Fetcher    worker.Fetcher
	Log        *zap.Logger
	Region     string

	// PlannerMapping invokes the planner with the ticks (one per
	// invocation; default concurrency 2).
	PlannerMapping MappingConfig
	WorkerMapping  MappingConfig
	ResultsMapping MappingConfig
	// PollWait is the long-polling wait of the mappings (default 1s).
	PollWait time.Duration
	// RetryDelay, when set, is when a retryable failure comes back
	// (see worker.Backoff); otherwise after the visibility timeout.
	RetryDelay func(attempt int, retryAfter time.Duration) time.Duration
	// WorkerConcurrency bounds the crawls of one batch (default 10).
	WorkerConcurrency int

	once                             sync.Once
	planner                          *planner.Planner
	worker                           *worker.Worker
	resultsH                         *results.Results
	metrics                          map[string]*metrics.Recorder
	ticksMap, targetsMap, resultsMap *Mapping
}

func (p *Pipeline) init() {
	p.once.Do(func() {
		if p.Log == nil {
			p.Log = zap.NewNop()
		}
		// The same counts the functions write as EMF on Lambda, kept in
		// memory (Metrics).
		p.metrics = map[string]*metrics.Recorder{}
		for _, fn := range []string{"planner", "worker", "results"} {
			p.metrics[fn] = metrics.New(fn)
		}
		popts := []planner.Option{planner.WithLogger(p.Log.With(zap.String("function", "planner"))), planner.WithMetrics(p.metrics["planner"])}
		if p.TargetList != nil && p.Ticks != nil {
			// The shards are planned here, a moment after their tick: their
			// pacing need not wait for Lambda to start them.
			popts = append(popts, planner.WithTargetList(p.TargetList, p.Ticks), planner.WithPlanLead(localPlanLead))
		}
		p.planner = planner.New(p.Targets, p.TargetsQueue, p.Store, popts...)
		wopts := []worker.Option{
			worker.WithDeadLetters(p.TargetsDLQ), worker.WithRequeue(p.TargetsQueue), worker.WithConcurrency(p.WorkerConcurrency),
			worker.WithLogger(p.Log.With(zap.String("function", "worker"))), worker.WithMetrics(p.metrics["worker"]),
		}
		if p.RetryDelay != nil {
			wopts = append(wopts, worker.WithRetryDelay(p.TargetsQueue, p.RetryDelay))
		}
		p.worker = worker.New(p.Fetcher, p.Results, wopts...)
		p.resultsH = results.New(p.Store,
			results.WithDeadLetters(p.ResultsDLQ), results.WithLogger(p.Log.With(zap.String("function", "results"))),
			results.WithMetrics(p.metrics["results"]))
		pm := p.PlannerMapping
		pm.BatchSize = 1 // a tick is one asynchronous invocation on AWS
		p.ticksMap = p.mapping("planner", p.Ticks, p.handleTicks, pm)
		p.targetsMap = p.mapping("worker", p.TargetsQueue, p.worker.Handle, p.WorkerMapping)
		p.resultsMap = p.mapping("results", p.Results, p.resultsH.Handle, p.ResultsMapping)
	})
}

func (p *Pipeline) mapping(fn string, q queue.Queue, h SQSHandler, c MappingConfig) *Mapping {
	m := &Mapping{
		Function: fn, Queue: q, Handler: h, BatchSize: c.BatchSize, BatchWindow: c.BatchWindow,
		MaxConcurrency: c.MaxConcurrency, Timeout: c.Timeout, Region: p.Region, PollWait: p.PollWait,
		Log: p.Log.With(zap.String("function", fn)),
	}
	m.defaults()
	return m
}

// Planner, Worker and ResultsHandler return the handler cores the pipeline runs.
func (p *Pipeline) Planner() *planner.Planner { p.init(); return p.planner }

// Worker returns the worker core.
func (p *Pipeline) Worker() *worker.Worker { p.init(); return p.worker }

// ResultsHandler returns the results core.
func (p *Pipeline) ResultsHandler() *results.Results { p.init(); return p.resultsH }

// Metrics returns the counts recorder of function ("planner", "worker" or
// "results"; nil for another): what the function would write as EMF on
// Lambda, since the pipeline started.
func (p *Pipeline) Metrics(function string) *metrics.Recorder { p.init(); return p.metrics[function] }

// StartMappings runs the planner (when there is a ticks queue), worker and
// results mappings until ctx ends; the returned function waits for them to
// stop.
func (p *Pipeline) StartMappings(ctx context.Context) (wait func()) {
	p.init()
	var wg sync.WaitGroup
	if p.Ticks != nil {
		wg.Go(func() { _ = p.ticksMap.Run(ctx) })
	}
	wg.Go(func() { _ = p.targetsMap.Run(ctx) })
	wg.Go(func() { _ = p.resultsMap.Run(ctx) })
	return wg.Wait
}

// Progress is a snapshot of the pipeline for a progress display.
type Progress struct {
	Planned      int
	Done         int         // results stored
	Ticks        queue.Depth // ticks and shards not yet planned
	TargetsQueue queue.Depth
	Results      queue.Depth
	DeadLetters  int // messages in the targets and results DLQs
}

// Drained reports whether nothing is left to do: every job has a result
// stored or sits in a dead-letter queue.
func (pr Progress) Drained() bool {
	return pr.Ticks.Total() == 0 && pr.TargetsQueue.Total() == 0 && pr.Results.Total() == 0
}

// Snapshot reads the queues and the given runs.
func (p *Pipeline) Snapshot(ctx context.Context, runIDs []string) (Progress, error) {
	var pr Progress
	var err error
	// Upstream first: a message is sent downstream before it is deleted
	// upstream, so one moving between two reads is seen by the second.
	if p.Ticks != nil {
		if pr.Ticks, err = p.Ticks.Depth(ctx); err != nil {
			return pr, fmt.Errorf("depth of %s: %w", p.Ticks.Name(), err)
		}
	}
	if pr.TargetsQueue, err = p.TargetsQueue.Depth(ctx); err != nil {
		return pr, fmt.Errorf("depth of %s: %w", p.TargetsQueue.Name(), err)
	}
	if pr.Results, err = p.Results.Depth(ctx); err != nil {
		return pr, fmt.Errorf("depth of %s: %w", p.Results.Name(), err)
	}
	for _, q := range []queue.Queue{p.TargetsDLQ, p.ResultsDLQ} {
		d, err := q.Depth(ctx)
		if err != nil {
			return pr, fmt.Errorf("depth of %s: %w", q.Name(), err)
		}
		pr.DeadLetters += d.Total()
	}
	for _, id := range runIDs {
		r, err := p.Store.Run(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // its tick is not planned yet
		}
		if err != nil {
			return pr, fmt.Errorf("run %s: %w", id, err)
		}
		pr.Planned += r.Planned
		pr.Done += r.Done()
	}
	return pr, nil
}

// RunReport is one run after it drained.
type RunReport struct {
	store.Run
	// DeadLettered is how many of the run's jobs ended without a result,
	// in the dead-letter queue.
	DeadLettered int `json:"dead_lettered"`
}

// RunOnce fires each named schedule once, at the given scheduled time (all
// schedules when names is empty), and returns when those runs have drained:
// every job has a stored result or sits in a dead-letter queue. Ticks left
// in the ticks queue by an interrupted earlier start are planned and drained
// too. progress, when not nil, is called every interval while waiting.
func (p *Pipeline) RunOnce(ctx context.Context, names []string, at time.Time, progress func(Progress)) ([]RunReport, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	scheds, err := p.selectSchedules(names)
	if err != nil {
		return nil, err
	}
	at = at.UTC().Truncate(time.Second)
	ticks := make([]planner.Tick, 0, len(scheds))
	runIDs := make([]string, 0, len(scheds))
	for _, sc := range scheds {
		ticks = append(ticks, NewTick(sc.Name, at))
		runIDs = append(runIDs, job.RunID(sc.Name, at))
	}
	if err := p.Fire(ctx, ticks...); err != nil {
		return nil, err
	}
	mctx, stop := context.WithCancel(ctx)
	wait := p.StartMappings(mctx)
	defer func() { stop(); wait() }()
	if err := p.WaitDrained(ctx, runIDs, progress); err != nil {
		return nil, err
	}
	return p.reports(ctx, runIDs)
}

// WaitDrained waits until the queues are empty (seen twice in a row),
// calling progress on the way.
func (p *Pipeline) WaitDrained(ctx context.Context, runIDs []string, progress func(Progress)) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	emptySeen := 0
	for {
		pr, err := p.Snapshot(ctx, runIDs)
		if err != nil {
			return err
		}
		if progress != nil {
			progress(pr)
		}
		if pr.Drained() {
			emptySeen++
			if emptySeen == 2 {
				return nil
			}
		} else {
			emptySeen = 0
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func (p *Pipeline) reports(ctx context.Context, runIDs []string) ([]RunReport, error) {
	out := make([]RunReport, 0, len(runIDs))
	for _, id := range runIDs {
		r, err := p.Store.Run(ctx, id)
		if errors.Is(err, store.ErrNotFound) && p.PlannerFailures != nil {
			return nil, fmt.Errorf("run %s was not planned: the planner failed on its tick, now on %s (cronless dlq list --queue planner)", id, p.PlannerFailures.Name())
		}
		if err != nil {
			return nil, fmt.Errorf("run %s: %w", id, err)
		}
		out = append(out, RunReport{Run: r, DeadLettered: max(0, r.Planned-r.Done())})
	}
	return out, nil
}

// Run fires the named schedules (all when names is empty) at their times
// and runs the pipeline until ctx ends. In-flight invocations finish; the
// messages of any that cannot simply become visible again, ticks included.
func (p *Pipeline) Run(ctx context.Context, names []string) error {
	if err := p.check(); err != nil {
		return err
	}
	scheds, err := p.selectSchedules(names)
	if err != nil {
		return err
	}
	wait := p.StartMappings(ctx)
	s := &Scheduler{Schedules: scheds, Log: p.Log, Fire: func(ctx context.Context, t planner.Tick) error {
		return p.Fire(ctx, t)
	}}
	_ = s.Run(ctx)
	wait()
	return nil
}

// check initialises the pipeline and reports what it lacks to run.
func (p *Pipeline) check() error {
	p.init()
	if p.Ticks == nil {
		return errors.New("local pipeline: no ticks queue (Pipeline.Ticks): ticks would not survive an interruption")
	}
	return nil
}

// Fire puts ticks in the ticks queue, where the planner mapping picks them
// up: once Fire returns, the ticks survive a crash.
func (p *Pipeline) Fire(ctx context.Context, ticks ...planner.Tick) error {
	if err := p.check(); err != nil {
		return err
	}
	msgs := make([]queue.Outgoing, 0, len(ticks))
	for i, t := range ticks {
		body, err := json.Marshal(t)
		if err != nil {
			return fmt.Errorf("encode tick of %s: %w", t.Schedule, err)
		}
		msgs = append(msgs, queue.Outgoing{ID: fmt.Sprintf("tick-%d", i), Body: string(body)})
	}
	for start := 0; start < len(msgs); start += queue.MaxBatch {
		part := msgs[start:min(start+queue.MaxBatch, len(msgs))]
		if err := p.Ticks.SendBatch(ctx, part); err != nil {
			return fmt.Errorf("queue ticks in %s: %w", p.Ticks.Name(), err)
		}
	}
	return nil
}

// handleTicks is the planner's handler for the ticks queue: each record is
// one tick, or one shard of a tick's stored targets, planned (with
// retries). One that still fails is left for redelivery, up to
// PlannerAttempts deliveries; then, and at once for a bad one (a tick
// whose schedule is no longer in the targets file, an event that does not
// decode), it is recorded on the planner failures queue, as Lambda records
// a failed asynchronous invocation, and deleted from the ticks queue only
// once recorded.
func (p *Pipeline) handleTicks(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, rec := range ev.Records {
		what, err := p.plan(ctx, json.RawMessage(rec.Body))
		switch {
		case err == nil:
		case p.PlannerFailures != nil && giveUp(rec, err):
			if ferr := p.failed(ctx, rec, err); ferr != nil {
				p.Log.Error("event not planned, and not recorded as failed; it will be delivered again", zap.String("event", what),
					zap.Error(err), zap.NamedError("record_error", ferr))
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
				continue
			}
			p.Log.Error("event not planned; recorded on the planner failures queue (cronless dlq list --queue planner)",
				zap.String("message_id", rec.MessageId), zap.String("event", what), zap.Error(err))
		case errors.Is(err, planner.ErrBadTick):
			p.Log.Error("event dropped: it cannot be planned", zap.String("message_id", rec.MessageId),
				zap.String("event", what), zap.Error(err))
		default:
			p.Log.Error("event not planned; it will be delivered again", zap.String("event", what), zap.Error(err))
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		}
	}
	return resp, nil
}

func (p *Pipeline) selectSchedules(names []string) ([]targets.Schedule, error) {
	if len(names) == 0 {
		names = p.Targets.ScheduleNames
	}
	out := make([]targets.Schedule, 0, len(names))
	for _, n := range names {
		sc, ok := p.Targets.Schedules[n]
		if !ok {
			return nil, fmt.Errorf("schedule %q is not in the targets file (defined: %v)", n, p.Targets.ScheduleNames)
		}
		out = append(out, sc)
	}
	return out, nil
}

// localPlanLead is the local planner's planner.WithPlanLead.
const localPlanLead = time.Second

// planRetries is how often a failed tick is tried again, as EventBridge
// Scheduler and Lambda's asynchronous invocation retry it on AWS.
const planRetries = 4

// plan runs the planner on an event (a tick or a shard), retrying a
// failure (a queue or store that is briefly unavailable) with backoff, and
// says what the event was. A retry plans the same again: its jobs are sent
// again and absorbed downstream. A bad event is not retried.
func (p *Pipeline) plan(ctx context.Context, event json.RawMessage) (string, error) {
	what := cutEvent(event)
	delay := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		_, err := p.planner.HandleEvent(ctx, event)
		if err == nil || errors.Is(err, planner.ErrBadTick) || attempt == planRetries || ctx.Err() != nil {
			return what, err
		}
		p.Log.Warn("planning failed; retrying", zap.String("event", what), zap.Int("attempt", attempt+1), zap.Error(err))
		sleep(ctx, delay)
		delay *= 2
	}
}

// cutEvent is the start of an event, for the log.
func cutEvent(event json.RawMessage) string {
	const most = 200
	if len(event) > most {
		return string(event[:most]) + "…"
	}
	return string(event)
}
