// Package worker is the handler core of the worker Lambda: a batch of jobs
// from the targets queue is crawled concurrently, the results are sent to the
// results queue, and retryable failures are reported in BatchItemFailures so
// SQS redelivers them (and, after maxReceiveCount, dead-letters them).
package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/cronless/cronless/shared/crawl"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/metrics"
	"github.com/cronless/cronless/shared/obs"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/sqsevent"
)

// Fetcher crawls one job's page.
type Fetcher interface {
	Fetch(ctx context.Context, j job.Job) (crawl.Page, error)
}

// Sender sends a batch of up to queue.MaxBatch messages.
type Sender interface {
	SendBatch(ctx context.Context, msgs []queue.Outgoing) error
}

// VisibilityChanger delays the redelivery of a message (SQS's
// ChangeMessageVisibility).
type VisibilityChanger interface {
	ChangeVisibility(ctx context.Context, receiptHandle string, d time.Duration) error
}

// Worker crawls batches of jobs. It is safe for concurrent use.
type Worker struct {
	fetch       Fetcher
	results     Sender
	deadLetters Sender
	requeue     Sender // the targets queue: jobs handed back (requeue.go)
	jobs        VisibilityChanger
	retryDelay  func(attempt int, retryAfter time.Duration) time.Duration
	concurrency int
	log         *zap.Logger
	now         func() time.Time
	metrics     *metrics.Recorder
}

// Option configures a Worker.
type Option func(*Worker)

// WithLogger sets the logger (default: none).
func WithLogger(l *zap.Logger) Option { return func(w *Worker) { w.log = l } }

// MaxConcurrency is the most crawls at once that WORKER_CONCURRENCY and
// the deployment's crawlConcurrency accept.
const MaxConcurrency = 100

// WithConcurrency bounds how many jobs of a batch are crawled at once (default 10).
func WithConcurrency(n int) Option {
	return func(w *Worker) {
		if n > 0 {
			w.concurrency = n
		}
	}
}

// WithDeadLetters sends malformed messages straight to this queue (the
// targets queue's DLQ), with the reason in their attributes, instead of
// letting SQS redeliver them maxReceiveCount times first.
func WithDeadLetters(dlq Sender) Option { return func(w *Worker) { w.deadLetters = dlq } }

// WithRetryDelay makes a retryable failure come back after delay(attempt,
// retryAfter) instead of after the queue's visibility timeout, by changing
// the message's visibility on jobs (the targets queue). retryAfter is the
// server's Retry-After, zero when it sent none.
func WithRetryDelay(jobs VisibilityChanger, delay func(attempt int, retryAfter time.Duration) time.Duration) Option {
	return func(w *Worker) { w.jobs, w.retryDelay = jobs, delay }
}

// Backoff is a retry delay: the server's Retry-After when it sent one (up
// to max), else base doubled for each attempt after the first (up to max),
// in whole seconds (rounded up) as SQS takes them.
func Backoff(base, limit time.Duration) func(attempt int, retryAfter time.Duration) time.Duration {
	return func(attempt int, retryAfter time.Duration) time.Duration {
		d := retryAfter
		if d <= 0 {
			shift := min(max(attempt-1, 0), 20)
			d = base << shift
			if d>>shift != base { // overflowed: as long as allowed
				d = limit
			}
		}
		// Whole seconds, rounded up, so a Retry-After is never cut short.
		return (min(d, limit) + time.Second - 1).Truncate(time.Second)
	}
}

// WithMetrics counts the pages crawled, failed (by kind), retried,
// deferred and not modified, the crawl durations and the bytes into m, and
// flushes it at the end of each batch (docs/aws.md, Metrics).
func WithMetrics(m *metrics.Recorder) Option { return func(w *Worker) { w.metrics = m } }

// WithClock sets the clock that stamps results and attempts and times the
// crawls (default time.Now), like the store's dynamo.WithClock: with a
// fixed clock a batch's results are reproducible.
func WithClock(now func() time.Time) Option { return func(w *Worker) { w.now = now } }

// New returns a worker that crawls with fetch, sends results with results
// (where it also reports failed attempts, for the results handler to store).
func New(fetch Fetcher, results Sender, opts ...Option) *Worker {
	w := &Worker{fetch: fetch, results: results, concurrency: 10, log: zap.NewNop(), now: time.Now}
	for _, o := range opts {
		o(w)
	}
	return w
}

// outcome is what became of one record.
type outcome struct {
	msg      events.SQSMessage
	result   *job.Result     // to send; its job is done once it is sent
	attempt  *job.Attempt    // a failed attempt to report (the job is retried)
	handBack *queue.Outgoing // the job again, delayed: the record is done once it is sent
	retry    bool            // report in BatchItemFailures
}

// Handle crawls the jobs of one SQS batch. Every per-message problem is
// reported in the response (so the error is always nil): retryable failures
// and jobs whose results could not be sent are listed in BatchItemFailures.
func (w *Worker) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	outs := make([]outcome, len(ev.Records))
	var g errgroup.Group // no WithContext: each record is handled to its end
	g.SetLimit(w.concurrency)
	for i, rec := range ev.Records {
		g.Go(func() error {
			outs[i] = w.handleSafely(ctx, rec)
			return nil
		})
	}
	_ = g.Wait() // never an error: outcomes say what failed

	var failures sqsevent.Failures
	var toSend, handBacks []outcome
	for _, o := range outs {
		switch {
		case o.handBack != nil:
			handBacks = append(handBacks, o)
		case o.retry:
			failures.Add(o.msg.MessageId)
			if o.attempt != nil {
				toSend = append(toSend, o)
			}
		case o.result != nil:
			toSend = append(toSend, o)
		}
	}
	if ctx.Err() != nil {
		// The invocation's context is done (work was cut short): still send
		// what there is, the failed attempts above all, but briefly.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
	}
	w.sendResults(ctx, toSend, &failures)
	w.handBack(ctx, handBacks, &failures)
	if err := w.metrics.Flush(); err != nil {
		obs.FromContext(ctx, w.log).Warn("metrics not written", zap.Error(err))
	}
	return failures.Response(ev), nil
}

// KindPanic is the error kind of an attempt whose crawl panicked.
const KindPanic = "panic"

// handleSafely is handleOne with a panic (of the fetcher on a hostile page,
// say) turned into a retryable failure of that record alone, recorded as a
// failed attempt. Unrecovered, a panic in this goroutine would end the
// process: the local runtime would die, and on Lambda the whole batch would
// be retried, its other jobs counted towards maxReceiveCount with it.
func (w *Worker) handleSafely(ctx context.Context, rec events.SQSMessage) (o outcome) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		log := obs.FromContext(ctx, w.log).With(obs.MessageID(rec.MessageId))
		log.Error("crawl panicked, will retry", zap.Any("panic", p), zap.Stack("stack"))
		o = outcome{msg: rec, retry: true}
		j, err := job.DecodeJob([]byte(rec.Body))
		w.failed(j.Schedule, KindPanic, true)
		if err == nil {
			o.attempt = &job.Attempt{
				V: job.Version, RunID: j.RunID, TargetID: j.TargetID, MessageID: rec.MessageId,
				Attempt: sqsevent.ReceiveCount(rec), At: w.now().UTC(),
				Error: job.Error{Kind: KindPanic, Message: fmt.Sprint(p)}.Capped(),
			}
		}
	}()
	return w.handleOne(ctx, rec)
}

func (w *Worker) handleOne(ctx context.Context, rec events.SQSMessage) outcome {
	log := obs.FromContext(ctx, w.log).With(obs.MessageID(rec.MessageId))
	j, err := job.DecodeJob([]byte(rec.Body))
	if err != nil {
		w.failed("", sqsevent.KindBadMessage, false)
		return outcome{msg: rec, retry: !w.deadLetter(ctx, rec, err, log)}
	}
	log = log.With(obs.RunID(j.RunID), obs.TargetID(j.TargetID))
	attempt := sqsevent.ReceiveCount(rec)
	if !j.NotBefore.IsZero() {
		if wait := j.NotBefore.Sub(w.now()); wait >= time.Second {
			return w.notYet(ctx, rec, j, wait, log)
		}
	}

	start := w.now()
	page, err := w.fetch.Fetch(ctx, j)
	elapsed := w.now().Sub(start)
	var deferred *crawl.Deferred
	if errors.As(err, &deferred) {
		return w.deferred(ctx, rec, j, deferred, log)
	}
	w.metrics.Add(metrics.CrawlDuration, j.Schedule, "", float64(elapsed.Milliseconds()))
	// Every result records the rules it was crawled with (a 304's too: the
	// planner sent validators only because they are the previous result's),
	// so that the next plan sends validators only while they are unchanged.
	res := job.Result{
		V: job.Version, RunID: j.RunID, Schedule: j.Schedule, TargetID: j.TargetID, URL: j.URL,
		ScheduledAt: j.ScheduledAt, FetchedAt: start.UTC(), DurationMS: elapsed.Milliseconds(), Attempt: attempt,
		RulesHash: job.RulesHash(j.Extract),
	}
	if err == nil {
		res.Status, res.HTTPStatus, res.ETag, res.LastModified = job.StatusOK, page.HTTPStatus, page.ETag, page.LastModified
		if page.NotModified {
			notModified(&res, j.Previous)
		} else {
			res.Fields, res.ContentHash, res.BodyHash, res.Truncated = page.Fields, page.ContentHash, page.BodyHash, page.Truncated
		}
		w.metrics.Add(metrics.PagesOK, j.Schedule, "", 1)
		w.metrics.Add(metrics.Bytes, j.Schedule, "", float64(page.Bytes))
		if page.NotModified {
			w.metrics.Add(metrics.NotModified, j.Schedule, "", 1)
		}
		log.Log(crawledLevel(res.Truncated), "crawled", zap.Int("http_status", page.HTTPStatus), zap.Bool("not_modified", page.NotModified),
			zap.Duration("duration", elapsed), truncatedLog(res.Truncated))
		return outcome{msg: rec, result: &res}
	}

	kind := crawl.KindOf(err)
	if crawl.Retryable(err) || ctx.Err() != nil {
		log.Warn("crawl failed, will retry", zap.Int("attempt", attempt), zap.String("kind", string(kind)), zap.Error(err))
		w.failed(j.Schedule, string(kind), true)
		w.delayRetry(ctx, rec, attempt, err, log)
		return outcome{msg: rec, retry: true, attempt: &job.Attempt{
			V: job.Version, RunID: j.RunID, TargetID: j.TargetID, MessageID: rec.MessageId, Attempt: attempt, At: start.UTC(),
			Error: job.Error{Kind: string(kind), Message: err.Error()}.Capped(),
		}}
	}
	var ce *crawl.Error
	if errors.As(err, &ce) {
		res.HTTPStatus = ce.HTTPStatus
	}
	// Capped, as every error message a result or an attempt carries: a
	// huge one would make the message too large for the results queue and
	// the item too large for DynamoDB.
	e := job.Error{Kind: string(kind), Message: err.Error()}.Capped()
	res.Status, res.Error = job.StatusFailed, &e
	w.failed(j.Schedule, string(kind), false)
	log.Info("crawl failed permanently", zap.String("kind", string(kind)), zap.Error(err))
	return outcome{msg: rec, result: &res}
}

// notModified makes res the result of a 304 to the job's conditional
// request: ok, unchanged, with the previous content hash and no fields (the
// store carries the previous result's fields over). A 304 need not repeat
// the validators; the ones sent are still the page's then.
func notModified(res *job.Result, prev *job.Previous) {
	res.NotModified, res.Fields = true, nil
	if prev == nil {
		return
	}
	res.ContentHash = prev.ContentHash
	if res.ETag == "" {
		res.ETag = prev.ETag
	}
	if res.LastModified == "" {
		res.LastModified = prev.LastModified
	}
}

// delayRetry sets when a failed message comes back. Failing to is logged
// and otherwise ignored: it then comes back after the visibility timeout.
func (w *Worker) delayRetry(ctx context.Context, rec events.SQSMessage, attempt int, cause error, log *zap.Logger) {
	if w.jobs == nil || w.retryDelay == nil {
		return
	}
	var retryAfter time.Duration
	var ce *crawl.Error
	if errors.As(cause, &ce) {
		retryAfter = ce.RetryAfter
	}
	d := w.retryDelay(attempt, retryAfter)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := w.jobs.ChangeVisibility(ctx, rec.ReceiptHandle, d); err != nil {
		log.Warn("could not delay the retry; it comes back after the visibility timeout", zap.Error(err))
	}
}

// deadLetter sends a malformed message to the dead-letter queue with the
// reason, and reports whether that succeeded (then the message may be
// deleted). Without a dead-letter queue it reports false, and SQS dead-letters
// the message after maxReceiveCount receives.
func (w *Worker) deadLetter(ctx context.Context, rec events.SQSMessage, cause error, log *zap.Logger) bool {
	return sqsevent.DeadLetter(ctx, w.deadLetters, rec, cause, log)
}

// sendResults sends the results and failed attempts in batches of
// queue.MaxBatch. A job whose result was not sent is marked failed, so its
// message is redelivered: it is deleted only after its result is durably on
// the results queue. An attempt not sent is only logged: its job is retried
// anyway.
func (w *Worker) sendResults(ctx context.Context, outs []outcome, failures *sqsevent.Failures) {
	for start := 0; start < len(outs); start += queue.MaxBatch {
		batch := outs[start:min(start+queue.MaxBatch, len(outs))]
		msgs := make([]queue.Outgoing, 0, len(batch))
		sent := make([]outcome, 0, len(batch))
		for _, o := range batch {
			m, err := o.message(fmt.Sprintf("r%d", len(msgs)))
			if err != nil {
				obs.FromContext(ctx, w.log).Error("result not encodable; its job will be retried", obs.MessageID(o.msg.MessageId), zap.Error(err))
				failures.Add(o.msg.MessageId)
				continue
			}
			msgs = append(msgs, m)
			sent = append(sent, o)
		}
		if len(msgs) == 0 {
			continue
		}
		err := w.results.SendBatch(ctx, msgs)
		if err == nil {
			continue
		}
		markUnsent(err, msgs, sent, failures)
		obs.FromContext(ctx, w.log).Error("results not sent; their jobs will be retried", zap.Error(err))
	}
}

// markUnsent reports as failed the records of outs (msgs[i] is outs[i]'s
// message) that err says were not sent: the entries a *queue.BatchError
// names, or all of them for any other error.
func markUnsent(err error, msgs []queue.Outgoing, outs []outcome, failures *sqsevent.Failures) {
	bad, partial := queue.FailedIDs(err)
	for i, o := range outs {
		if _, ok := bad[msgs[i].ID]; ok || !partial {
			failures.Add(o.msg.MessageId)
		}
	}
}

// message is the results-queue message of an outcome: its result, or its
// failed attempt (with the type attribute saying so).
func (o outcome) message(id string) (queue.Outgoing, error) {
	if o.attempt != nil {
		body, err := job.Encode(o.attempt)
		attrs := job.Attributes(o.attempt.RunID, o.attempt.TargetID)
		attrs[job.AttrType] = job.TypeAttempt
		return queue.Outgoing{ID: id, Body: body, Attributes: attrs}, err
	}
	body, err := job.Encode(o.result)
	return queue.Outgoing{ID: id, Body: body, Attributes: job.Attributes(o.result.RunID, o.result.TargetID)}, err
}

// metricKinds are the kinds a failure is counted under: a bounded set, so
// that the kind can be a metric dimension.
// ErrorKinds are the error kinds a job's failure can have: the crawl's
// failure kinds, and the worker's own panic, host_busy and bad_message.
// `dlq --error-kind` takes one of them; metrics count failures by them.
func ErrorKinds() []string {
	kinds := make([]string, 0, len(crawl.Kinds)+3)
	for _, k := range crawl.Kinds {
		kinds = append(kinds, string(k))
	}
	return append(kinds, KindPanic, KindHostBusy, sqsevent.KindBadMessage)
}

// metricKinds are ErrorKinds as a set: a failure of any other kind is
// counted as "other", so the kind dimension's values stay bounded.
var metricKinds = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range ErrorKinds() {
		m[k] = true
	}
	return m
}()

// failed counts a failed crawl (or message) of kind, and a retry.
func (w *Worker) failed(schedule, kind string, retried bool) {
	if w.metrics == nil {
		return
	}
	if !metricKinds[kind] {
		kind = "other"
	}
	w.metrics.Add(metrics.PagesFailed, schedule, kind, 1)
	if retried {
		w.metrics.Add(metrics.Retried, schedule, "", 1)
	}
}
