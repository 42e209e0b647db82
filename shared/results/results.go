// Package results is the handler core of the results Lambda: a batch of
// Results from the results queue is stored idempotently, keyed by (target,
// run). Records not stored are reported in BatchItemFailures so SQS
// redelivers them.
package results

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/metrics"
	"github.com/cronless/cronless/shared/obs"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/sqsevent"
	"github.com/cronless/cronless/shared/store"
)

// Store stores results and failed attempts idempotently.
type Store interface {
	PutResult(ctx context.Context, r job.Result) (store.Outcome, error)
	RecordAttempt(ctx context.Context, a job.Attempt) error
}

// BatchStore is a Store that stores several results in one write, all or
// none, each with PutResult's outcome (localstore: one transaction). DynamoDB's
// store has none: a result there is single-item conditional writes, no transaction.
type BatchStore interface {
	PutResults(ctx context.Context, rs []job.Result) ([]store.Outcome, error)
}

// Sender sends a batch of up to queue.MaxBatch messages.
type Sender interface {
	SendBatch(ctx context.Context, msgs []queue.Outgoing) error
}

// Results stores batches of results. It is safe for concurrent use.
type Results struct {
	store       Store
	deadLetters Sender
	concurrency int
	log         *zap.Logger
	metrics     *metrics.Recorder
}

// Option configures Results.
type Option func(*Results)

// WithLogger sets the logger (default: none).
func WithLogger(l *zap.Logger) Option { return func(r *Results) { r.log = l } }

// WithConcurrency bounds how many results of a batch are written at once (default 10).
func WithConcurrency(n int) Option {
	return func(r *Results) {
		if n > 0 {
			r.concurrency = n
		}
	}
}

// WithDeadLetters sends malformed messages straight to this queue (the
// results queue's DLQ) with the reason in their attributes.
func WithDeadLetters(dlq Sender) Option { return func(r *Results) { r.deadLetters = dlq } }

// WithMetrics counts the results stored, the duplicates and the changed
// results into m, and flushes it at the end of each batch (docs/aws.md,
// Metrics).
func WithMetrics(m *metrics.Recorder) Option { return func(r *Results) { r.metrics = m } }

// New returns a results handler writing to s.
func New(s Store, opts ...Option) *Results {
	r := &Results{store: s, concurrency: 10, log: zap.NewNop()}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Handle stores the results of one SQS batch. Every per-message problem is
// reported in the response (the error is always nil).
//
// With a BatchStore, the batch's well-formed results are stored with one
// PutResults; should that fail, each is stored on its own, so that one
// result the store rejects fails its own record only. Attempts and
// malformed messages are handled one by one, as without a BatchStore.
func (r *Results) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var (
		mu       sync.Mutex
		failures sqsevent.Failures
		// records holds the per-record work, at most r.concurrency at once;
		// no WithContext: a failed record does not stop the others.
		records errgroup.Group
		// batch is the one PutResults, beside the records and outside their
		// limit, as it may add records of its own.
		batch sync.WaitGroup
	)
	records.SetLimit(r.concurrency)
	handle := func(rec events.SQSMessage) {
		records.Go(func() error {
			if !r.handleSafely(ctx, rec) {
				mu.Lock()
				failures.Add(rec.MessageId)
				mu.Unlock()
			}
			return nil
		})
	}
	recs := ev.Records
	if bs, ok := r.store.(BatchStore); ok {
		var ds []decoded
		ds, recs = splitResults(recs)
		if len(ds) > 0 {
			batch.Go(func() {
				if !r.putBatch(ctx, bs, ds) {
					// One by one, beside the others.
					for _, d := range ds {
						handle(d.rec)
					}
				}
			})
		}
	}
	for _, rec := range recs {
		handle(rec)
	}
	batch.Wait() // before records.Wait: the batch may still add records
	_ = records.Wait()
	if err := r.metrics.Flush(); err != nil {
		obs.FromContext(ctx, r.log).Warn("metrics not written", zap.Error(err))
	}
	return failures.Response(ev), nil
}

// decoded is a record of the batch and its result.
type decoded struct {
	rec events.SQSMessage
	res job.Result
}

// splitResults separates the records that hold a well-formed result from
// the others (attempts and malformed messages).
func splitResults(recs []events.SQSMessage) (results []decoded, others []events.SQSMessage) {
	for _, rec := range recs {
		if t := rec.MessageAttributes[job.AttrType].StringValue; t != nil && *t == job.TypeAttempt {
			others = append(others, rec)
			continue
		}
		res, err := job.DecodeResult([]byte(rec.Body))
		if err != nil {
			others = append(others, rec)
			continue
		}
		results = append(results, decoded{rec: rec, res: res})
	}
	return results, others
}

// putBatch stores the batch's results with one PutResults and reports
// whether they are stored; a panic counts as a failure.
func (r *Results) putBatch(ctx context.Context, bs BatchStore, batch []decoded) (stored bool) {
	log := obs.FromContext(ctx, r.log)
	defer func() {
		if p := recover(); p != nil {
			log.Error("storing a batch panicked; storing its results one by one", zap.Any("panic", p), zap.Stack("stack"))
			stored = false
		}
	}()
	rs := make([]job.Result, len(batch))
	for i, d := range batch {
		rs[i] = d.res
	}
	outs, err := bs.PutResults(ctx, rs)
	if err == nil && len(outs) != len(rs) {
		err = fmt.Errorf("%d outcomes for %d results", len(outs), len(rs))
	}
	if err != nil {
		log.Warn("results not stored as a batch; storing them one by one", zap.Int("results", len(rs)), zap.Error(err))
		return false
	}
	for i, d := range batch {
		r.count(d.res.Schedule, outs[i])
		log.With(obs.MessageID(d.rec.MessageId), obs.RunID(d.res.RunID), obs.TargetID(d.res.TargetID)).
			Info("result stored", zap.String("status", string(d.res.Status)),
				zap.Bool("duplicate", outs[i].Duplicate), zap.Bool("changed", outs[i].Changed), zap.Bool("latest", outs[i].Latest))
	}
	return true
}

// handleSafely is handleOne with a panic turned into a failure of that
// record alone (redelivered, and dead-lettered after maxReceiveCount):
// unrecovered, a panic in this goroutine would end the process.
func (r *Results) handleSafely(ctx context.Context, rec events.SQSMessage) (done bool) {
	defer func() {
		if p := recover(); p != nil {
			obs.FromContext(ctx, r.log).With(obs.MessageID(rec.MessageId)).
				Error("storing panicked, will retry", zap.Any("panic", p), zap.Stack("stack"))
			done = false
		}
	}()
	return r.handleOne(ctx, rec)
}

// handleOne stores one record's result (or failed attempt) and reports
// whether the record is done (stored, or dead-lettered as malformed).
func (r *Results) handleOne(ctx context.Context, rec events.SQSMessage) bool {
	log := obs.FromContext(ctx, r.log).With(obs.MessageID(rec.MessageId))
	if t := rec.MessageAttributes[job.AttrType].StringValue; t != nil && *t == job.TypeAttempt {
		return r.handleAttempt(ctx, rec, log)
	}
	res, err := job.DecodeResult([]byte(rec.Body))
	if err != nil {
		return sqsevent.DeadLetter(ctx, r.deadLetters, rec, err, log)
	}
	log = log.With(obs.RunID(res.RunID), obs.TargetID(res.TargetID))
	out, err := r.store.PutResult(ctx, res)
	if err != nil {
		log.Warn("result not stored, will retry", zap.Error(err))
		return false
	}
	r.count(res.Schedule, out)
	log.Info("result stored", zap.String("status", string(res.Status)),
		zap.Bool("duplicate", out.Duplicate), zap.Bool("changed", out.Changed), zap.Bool("latest", out.Latest))
	return true
}

func (r *Results) handleAttempt(ctx context.Context, rec events.SQSMessage, log *zap.Logger) bool {
	a, err := job.DecodeAttempt([]byte(rec.Body))
	if err != nil {
		return sqsevent.DeadLetter(ctx, r.deadLetters, rec, err, log)
	}
	log = log.With(obs.RunID(a.RunID), obs.TargetID(a.TargetID))
	if err := r.store.RecordAttempt(ctx, a); err != nil {
		log.Warn("attempt not stored, will retry", zap.Error(err))
		return false
	}
	log.Info("failed attempt stored", zap.Int("attempt", a.Attempt), zap.String("kind", a.Error.Kind))
	return true
}

// count counts a stored result: new or a duplicate, and changed.
func (r *Results) count(schedule string, out store.Outcome) {
	if out.Duplicate {
		r.metrics.Add(metrics.Duplicates, schedule, "", 1)
	} else {
		r.metrics.Add(metrics.ResultsStored, schedule, "", 1)
	}
	if out.Changed {
		r.metrics.Add(metrics.Changed, schedule, "", 1)
	}
}
