package dlq

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/sqsevent"
)

// StrippedAttributes are the attributes a replay drops: those a handler
// adds when it dead-letters a message itself. Kept, they would explain a
// later failure of the replayed message with a stale reason.
var StrippedAttributes = []string{
	sqsevent.AttrErrorKind, sqsevent.AttrErrorMessage, sqsevent.AttrOriginalMessageID, sqsevent.AttrSourceQueue,
}

// finishTimeout bounds the deletes that complete a step already taken
// (a message sent, or archived) after the context is cancelled: finishing
// them avoids a duplicate.
const finishTimeout = 30 * time.Second

// Report is told what was done with each matching message; err says why
// an action failed.
type Report func(l Letter, a Action, err error)

// ReplayOptions are the parameters of Replay.
type ReplayOptions struct {
	Options
	// Rate caps the messages sent a second (0: no cap).
	Rate float64
	// DryRun changes nothing: the matching messages are reported as
	// ActionWouldMove and made visible again with the others.
	DryRun bool
	// Report, if set, is told about every matching message.
	Report Report
}

// Replay moves the messages of dlq that match opts.Filter (at most opts.Limit)
// back to dest, less StrippedAttributes, deleting each only once it was sent.
// A wholly failed send stops it; the summary is returned in every case.
func Replay(ctx context.Context, dlq Queue, dest Sender, opts ReplayOptions) (Summary, error) {
	return replay(ctx, dlq, dest, opts, func(l *Letter) (queue.Outgoing, error) {
		return queue.Outgoing{Body: l.Body, Attributes: replayAttributes(l.Attributes)}, nil
	})
}

// ReplayPlanner re-delivers the planner failures of dlq (the planner
// failures queue) that match opts.Filter (at most opts.Limit) to the
// planner through dest: each failure's event (the tick or the shard
// event), without attributes, deleted from dlq only once dest took it. On
// a stage dest invokes the planner asynchronously (shared/lambdaasync);
// locally it is the ticks queue. A malformed failure is reported as
// ActionNotReplayable, counted failed, and left in the queue.
func ReplayPlanner(ctx context.Context, dlq Queue, dest Sender, opts ReplayOptions) (Summary, error) {
	opts.Planner = true
	return replay(ctx, dlq, dest, opts, func(l *Letter) (queue.Outgoing, error) {
		if l.Planner == nil || !l.Planner.Replayable() {
			why := "not a planner failure"
			if l.Planner != nil {
				why = l.Planner.Malformed
			}
			return queue.Outgoing{}, fmt.Errorf("%w: %s; it stays in %s (read it with dlq show, then purge it)", ErrNotReplayable, why, dlq.Name())
		}
		return queue.Outgoing{Body: string(l.Planner.Payload)}, nil
	})
}

// replay is Replay with what is sent for each letter given by outgoing; a
// letter it refuses is reported ActionNotReplayable and left in place.
func replay(ctx context.Context, dlq Queue, dest Sender, opts ReplayOptions, outgoing func(*Letter) (queue.Outgoing, error)) (Summary, error) {
	if opts.Rate < 0 {
		return Summary{}, fmt.Errorf("rate %v is negative", opts.Rate)
	}
	pace := &pacer{rate: opts.Rate}
	return act(ctx, dlq, opts.Options, opts.DryRun, opts.Report, func(ctx context.Context, s *session, batch []*Letter, t *tally) error {
		var ok []*Letter
		out := map[*Letter]queue.Outgoing{}
		for _, l := range batch {
			o, err := outgoing(l)
			if err != nil {
				t.failed([]*Letter{l}, ActionNotReplayable, err)
				continue
			}
			out[l] = o
			ok = append(ok, l)
		}
		if opts.DryRun {
			t.done(ok, ActionWouldMove, &t.sum.Moved)
			return nil
		}
		for len(ok) > 0 {
			n := min(len(ok), pace.chunk())
			chunk := ok[:n]
			ok = ok[n:]
			if err := pace.wait(ctx, n); err != nil {
				return err
			}
			if err := move(ctx, s, dest, chunk, out, t); err != nil {
				return err
			}
		}
		return nil
	})
}

// tally tells the Report about each acted-on letter and counts it.
type tally struct {
	report Report
	sum    *Summary
	p      *Progress
}

// done reports ls with a and adds them to *n (Moved or Purged) and Done.
func (t *tally) done(ls []*Letter, a Action, n *int) {
	for _, l := range ls {
		t.report(*l, a, nil)
	}
	*n += len(ls)
	t.p.Done += len(ls)
}

// failed reports ls with a and err and counts them failed.
func (t *tally) failed(ls []*Letter, a Action, err error) {
	for _, l := range ls {
		t.report(*l, a, err)
	}
	t.sum.Failed += len(ls)
	t.p.Failed += len(ls)
}

// act is what Replay and Purge share: a scan of what was dead-lettered
// before it started (what a confirmation counted), handing the matching
// batches to do, and the scan's counts in the summary.
func act(ctx context.Context, q Queue, o Options, dryRun bool, report Report,
	do func(ctx context.Context, s *session, batch []*Letter, t *tally) error) (Summary, error) {
	if o.Filter.SentBefore.IsZero() {
		o.Filter.SentBefore = time.Now()
	}
	if report == nil {
		report = func(Letter, Action, error) {}
	}
	sum := Summary{DryRun: dryRun}
	t := &tally{report: report, sum: &sum, p: &Progress{}}
	err := scanWith(ctx, q, o, nil, t.p, func(ctx context.Context, s *session, batch []*Letter) error {
		return do(ctx, s, batch, t)
	})
	sum.Received, sum.Matched = t.p.Received, t.p.Matched
	sum.Skipped = sum.Received - sum.Matched
	return sum, err
}

// move sends chunk to dest (each letter as msgs has it), then deletes
// from the DLQ what was sent.
func move(ctx context.Context, s *session, dest Sender, chunk []*Letter, msgs map[*Letter]queue.Outgoing, t *tally) error {
	out := make([]queue.Outgoing, len(chunk))
	for i, l := range chunk {
		out[i] = msgs[l]
		out[i].ID = "m" + strconv.Itoa(i)
	}
	err := dest.SendBatch(ctx, out)
	failed, partial := queue.FailedIDs(err)
	if err != nil && !partial {
		t.failed(chunk, ActionFailed, err)
		return fmt.Errorf("send to %s: %w", dest.Name(), err)
	}
	var sent []*Letter
	for i, l := range chunk {
		if e, ok := failed[out[i].ID]; ok {
			t.failed([]*Letter{l}, ActionFailed, e)
			continue
		}
		sent = append(sent, l)
	}
	if len(sent) == 0 {
		return nil
	}
	// Sent: now delete, even if ctx was cancelled meanwhile, so an
	// interruption leaves no duplicate when it can.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if err := s.q.Delete(dctx, s.receipts(sent)); err != nil {
		err = fmt.Errorf("sent to %s, but not deleted from %s, so it may be in both: %w", dest.Name(), s.q.Name(), err)
		t.failed(sent, ActionDuplicated, err)
		return nil
	}
	s.forget(sent)
	t.done(sent, ActionMoved, &t.sum.Moved)
	return nil
}

// replayAttributes is attrs less StrippedAttributes (nil when none remain).
func replayAttributes(attrs map[string]string) map[string]string {
	out := maps.Clone(attrs)
	for _, k := range StrippedAttributes {
		delete(out, k)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// pacer spaces sends to a rate (0: none).
type pacer struct {
	rate float64
	next time.Time
}

// chunk is how many messages to send at once: a batch, or fewer under a
// low rate so that the rate holds second by second.
func (p *pacer) chunk() int {
	if p.rate <= 0 {
		return queue.MaxBatch
	}
	return max(1, min(queue.MaxBatch, int(p.rate)))
}

// wait blocks until n more messages may be sent.
func (p *pacer) wait(ctx context.Context, n int) error {
	if p.rate <= 0 {
		return ctx.Err()
	}
	now := time.Now()
	if p.next.Before(now) {
		p.next = now
	}
	at := p.next
	p.next = p.next.Add(time.Duration(float64(n) / p.rate * float64(time.Second)))
	if d := time.Until(at); d > 0 {
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
	return ctx.Err()
}
