// Package results is the handler core of the results Lambda: a batch of
// Results from the results queue is stored idempotently, keyed by (target,
// run). Records not stored are reported in BatchItemFailures so SQS
// redelivers them.
package results

import (
	"context"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	"go.uber.org/zap"

	"github.com/cronless/cronless/shared/job"
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
func (r *Results) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var (
		mu       sync.Mutex
		failures sqsevent.Failures
		wg       sync.WaitGroup
		sem      = make(chan struct{}, r.concurrency)
	)
	for _, rec := range ev.Records {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if !r.handleSafely(ctx, rec) {
				mu.Lock()
				failures.Add(rec.MessageId)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return failures.Response(ev), nil
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
