package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"go.uber.org/zap"

	"github.com/cronless/cronless/shared/crawl"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/metrics"
	"github.com/cronless/cronless/shared/obs"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/sqsevent"
)

// A job is handed back, not failed, when it may not start yet: it is not
// due (its not_before, the planner's pacing beyond SQS's 15-minute delay),
// or its page could not start before the invocation's end because its host
// had no free slot (crawl.Deferred). Handing back sends the job again to the
// targets queue, delayed, and then lets the record be deleted: SQS counts
// every receive of a message, so returning the record itself (a visibility
// change) would move a job that only waited towards the dead-letter queue.
// A job handed back for want of a slot counts it in its deferrals; at
// job.MaxDeferrals it is dead-lettered as host_busy, a finding to act on.

// KindHostBusy is the error kind of a job dead-lettered after
// job.MaxDeferrals deferrals.
const KindHostBusy = "host_busy"

// WithRequeue hands jobs back to targets (the targets queue), delayed.
// Without it a job that may not start yet is returned in BatchItemFailures,
// after a visibility change when WithRetryDelay is set, which counts as a
// receive.
func WithRequeue(targets Sender) Option { return func(w *Worker) { w.requeue = targets } }

// notYet hands back a job received before its not_before.
func (w *Worker) notYet(ctx context.Context, rec events.SQSMessage, j job.Job, wait time.Duration, log *zap.Logger) outcome {
	d := delay(wait)
	log.Debug("not due yet, handed back", zap.Time("not_before", j.NotBefore), zap.Duration("delay", d))
	return w.handBackJob(ctx, rec, j, d, log)
}

// deferred hands back a job whose page could not start in time, or
// dead-letters it after job.MaxDeferrals.
func (w *Worker) deferred(ctx context.Context, rec events.SQSMessage, j job.Job, d *crawl.Deferred, log *zap.Logger) outcome {
	if j.Deferrals >= job.MaxDeferrals {
		cause := fmt.Errorf("handed back %d times for want of a slot at %s (the last time: %s); the host has more pages than the fleet crawls at its host_concurrency and host_rate: raise them in targets.yaml's hosts:, or spread its targets over more schedules, then replay",
			j.Deferrals, d.Host, d.Why)
		log.Error("deferred too often, dead-lettered", zap.String("host", d.Host), zap.Int("deferrals", j.Deferrals), zap.Error(cause))
		w.failed(j.Schedule, KindHostBusy, false)
		j.Deferrals = 0 // a replay starts afresh
		body, err := job.Encode(j)
		if err == nil && sqsevent.SendDeadLetter(ctx, w.deadLetters, rec, body, KindHostBusy, cause, log) {
			return outcome{msg: rec}
		}
		return outcome{msg: rec, retry: true}
	}
	j.Deferrals++
	w.metrics.Add(metrics.Deferred, j.Schedule, "", 1)
	after := delay(d.After)
	log.Info("deferred: its host had no free slot in time, handed back", zap.String("host", d.Host),
		zap.Int("deferrals", j.Deferrals), zap.Duration("delay", after), zap.String("why", d.Why))
	return w.handBackJob(ctx, rec, j, after, log)
}

// delay is d in whole seconds, rounded up, within what SQS allows.
func delay(d time.Duration) time.Duration {
	return min((d + time.Second - 1).Truncate(time.Second), queue.MaxDelay)
}

func (w *Worker) handBackJob(ctx context.Context, rec events.SQSMessage, j job.Job, d time.Duration, log *zap.Logger) outcome {
	if w.requeue == nil {
		if w.jobs != nil {
			vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := w.jobs.ChangeVisibility(vctx, rec.ReceiptHandle, d); err != nil {
				log.Warn("could not delay the job; it comes back after the visibility timeout", zap.Error(err))
			}
		}
		return outcome{msg: rec, retry: true}
	}
	body, err := job.Encode(j)
	if err != nil {
		log.Error("job not encodable; it is retried", zap.Error(err))
		return outcome{msg: rec, retry: true}
	}
	return outcome{msg: rec, handBack: &queue.Outgoing{Body: body, Attributes: job.Attributes(j.RunID, j.TargetID), Delay: d}}
}

// handBack sends the jobs handed back in batches of queue.MaxBatch. A
// record whose job was not sent is reported failed: it comes back after its
// visibility timeout, and nothing is lost.
func (w *Worker) handBack(ctx context.Context, outs []outcome, failures *sqsevent.Failures) {
	for start := 0; start < len(outs); start += queue.MaxBatch {
		batch := outs[start:min(start+queue.MaxBatch, len(outs))]
		msgs := make([]queue.Outgoing, len(batch))
		for i, o := range batch {
			msgs[i] = *o.handBack
			msgs[i].ID = fmt.Sprintf("h%d", i)
		}
		err := w.requeue.SendBatch(ctx, msgs)
		if err == nil {
			continue
		}
		markUnsent(err, msgs, batch, failures)
		obs.FromContext(ctx, w.log).Error("jobs not handed back; they come back after the visibility timeout", zap.Error(err))
	}
}
