package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/sqsevent"
)

// StrippedAttributes are the attributes a replay drops: those a handler
// adds when it dead-letters a message itself. They describe that failure,
// not the message; kept, they would explain a later failure of the
// replayed message with a stale reason. Every other attribute (run_id,
// target_id, type) is kept.
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

// Replay moves the messages of dlq that match opts.Filter (at most
// opts.Limit) to dest, the queue they were dead-lettered from. Each is sent
// first and deleted from dlq only once the send succeeded, so an
// interruption at any moment loses nothing: at worst a message is in both
// queues. Messages keep their body and attributes, less
// StrippedAttributes. The others are left as they were, visible again.
//
// A send that fails for some messages of a batch leaves them in dlq
// (counted as failed) and goes on; one that fails as a whole stops the
// replay with its error. The summary is returned in every case.
func Replay(ctx context.Context, dlq Queue, dest Sender, opts ReplayOptions) (Summary, error) {
	if opts.Rate < 0 {
		return Summary{}, fmt.Errorf("rate %v is negative", opts.Rate)
	}
	if opts.Filter.SentBefore.IsZero() {
		// Only what was dead-lettered before the replay started.
		opts.Filter.SentBefore = time.Now()
	}
	sum := Summary{DryRun: opts.DryRun}
	p := &Progress{}
	report := opts.Report
	if report == nil {
		report = func(Letter, Action, error) {}
	}
	pace := newPacer(opts.Rate)
	err := scanWith(ctx, dlq, opts.Options, nil, p, func(ctx context.Context, s *session, batch []*Letter) error {
		if opts.DryRun {
			for _, l := range batch {
				report(*l, ActionWouldMove, nil)
				sum.Moved++
				p.Done++
			}
			return nil
		}
		for len(batch) > 0 {
			n := min(len(batch), pace.chunk())
			chunk := batch[:n]
			batch = batch[n:]
			if err := pace.wait(ctx, n); err != nil {
				return err
			}
			if err := move(ctx, s, dest, chunk, report, &sum, p); err != nil {
				return err
			}
		}
		return nil
	})
	sum.Received, sum.Matched = p.Received, p.Matched
	sum.Skipped = sum.Received - sum.Matched
	return sum, err
}

// move sends chunk to dest, then deletes from the DLQ what was sent.
func move(ctx context.Context, s *session, dest Sender, chunk []*Letter, report Report, sum *Summary, p *Progress) error {
	out := make([]queue.Outgoing, len(chunk))
	for i, l := range chunk {
		out[i] = queue.Outgoing{ID: "m" + strconv.Itoa(i), Body: l.Body, Attributes: replayAttributes(l.Attributes)}
	}
	err := dest.SendBatch(ctx, out)
	failed, partial := queue.FailedIDs(err)
	if err != nil && !partial {
		for _, l := range chunk {
			report(*l, ActionFailed, err)
		}
		sum.Failed += len(chunk)
		p.Failed += len(chunk)
		return fmt.Errorf("send to %s: %w", dest.Name(), err)
	}
	var sent []*Letter
	for i, l := range chunk {
		if e, ok := failed[out[i].ID]; ok {
			report(*l, ActionFailed, e)
			sum.Failed++
			p.Failed++
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
		for _, l := range sent {
			report(*l, ActionDuplicated, err)
		}
		sum.Failed += len(sent)
		p.Failed += len(sent)
		return nil
	}
	s.forget(sent)
	for _, l := range sent {
		report(*l, ActionMoved, nil)
	}
	sum.Moved += len(sent)
	p.Done += len(sent)
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

// pacer spaces sends to a rate.
type pacer struct {
	rate float64
	next time.Time
}

func newPacer(rate float64) *pacer { return &pacer{rate: rate} }

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
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return ctx.Err()
}

// Archive is where a purge writes each message before deleting it; an
// *os.File opened for appending satisfies it.
type Archive interface {
	Write(p []byte) (int, error)
	// Sync makes what was written durable (fsync).
	Sync() error
}

// Archived is one line of a purge archive (JSON lines).
type Archived struct {
	Letter
	ArchivedAt time.Time `json:"archived_at"`
}

// PurgeOptions are the parameters of Purge.
type PurgeOptions struct {
	Options
	// Archive, if set, receives every purged message as a JSON line
	// (Archived), synced before the message is deleted.
	Archive Archive
	// DryRun changes nothing: the matching messages are reported as
	// ActionWouldPurge and made visible again.
	DryRun bool
	Report Report
}

// Purge deletes the messages of dlq that match opts.Filter (at most
// opts.Limit). With an archive, each batch is written and synced to it
// before it is deleted; when that fails, the purge stops and the batch
// stays in the queue. The others are left as they were, visible again.
func Purge(ctx context.Context, dlq Queue, opts PurgeOptions) (Summary, error) {
	if err := opts.fill(); err != nil {
		return Summary{}, err
	}
	if opts.Filter.SentBefore.IsZero() {
		// Only what was dead-lettered before the purge started (what a
		// confirmation counted).
		opts.Filter.SentBefore = time.Now()
	}
	sum := Summary{DryRun: opts.DryRun}
	p := &Progress{}
	report := opts.Report
	if report == nil {
		report = func(Letter, Action, error) {}
	}
	err := scanWith(ctx, dlq, opts.Options, nil, p, func(ctx context.Context, s *session, batch []*Letter) error {
		if opts.DryRun {
			for _, l := range batch {
				report(*l, ActionWouldPurge, nil)
				sum.Purged++
				p.Done++
			}
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if opts.Archive != nil {
			if err := archive(opts.Archive, batch, opts.Now()); err != nil {
				for _, l := range batch {
					report(*l, ActionNotArchived, err)
				}
				sum.Failed += len(batch)
				p.Failed += len(batch)
				return fmt.Errorf("archive: %w (the purge stopped; nothing unarchived was deleted)", err)
			}
		}
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
		defer cancel()
		if err := s.q.Delete(dctx, s.receipts(batch)); err != nil {
			for _, l := range batch {
				report(*l, ActionFailed, err)
			}
			sum.Failed += len(batch)
			p.Failed += len(batch)
			return fmt.Errorf("delete from %s: %w", s.q.Name(), err)
		}
		s.forget(batch)
		for _, l := range batch {
			report(*l, ActionPurged, nil)
		}
		sum.Purged += len(batch)
		p.Done += len(batch)
		return nil
	})
	sum.Received, sum.Matched = p.Received, p.Matched
	sum.Skipped = sum.Received - sum.Matched
	return sum, err
}

// archive writes batch to a as JSON lines and syncs it.
func archive(a Archive, batch []*Letter, now time.Time) error {
	var buf []byte
	for _, l := range batch {
		b, err := json.Marshal(Archived{Letter: *l, ArchivedAt: now.UTC()})
		if err != nil {
			return fmt.Errorf("encode message %s: %w", l.ID, err)
		}
		buf = append(append(buf, b...), '\n')
	}
	if _, err := a.Write(buf); err != nil {
		return err
	}
	if err := a.Sync(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	return nil
}

// MoveTask is one of SQS's message move tasks (StartMessageMoveTask).
type MoveTask struct {
	// Handle identifies a running task; SQS gives none for a finished one.
	Handle string
	// Status is RUNNING, COMPLETED, CANCELLING, CANCELLED or FAILED.
	Status         string
	DestinationARN string
	MaxPerSecond   int
	Moved          int64
	// ToMove is -1 when SQS does not report it.
	ToMove        int64
	FailureReason string
	StartedAt     time.Time
}

// Move task statuses.
const (
	StatusRunning    = "RUNNING"
	StatusCompleted  = "COMPLETED"
	StatusCancelling = "CANCELLING"
	StatusCancelled  = "CANCELLED"
	StatusFailed     = "FAILED"
)

// Running reports whether the task has not finished.
func (t MoveTask) Running() bool { return t.Status == StatusRunning || t.Status == StatusCancelling }

// Mover runs SQS's message move tasks of one dead-letter queue (package
// sqsq's Queue, adapted).
type Mover interface {
	// StartMove starts moving every message to destinationARN ("" : back
	// to each message's source queue), at most maxPerSecond a second (0:
	// as SQS sees fit), and returns the task's handle.
	StartMove(ctx context.Context, destinationARN string, maxPerSecond int) (string, error)
	// ListMoves returns the queue's recent tasks, newest first.
	ListMoves(ctx context.Context) ([]MoveTask, error)
	// CancelMove cancels a running task and returns how many it moved.
	CancelMove(ctx context.Context, handle string) (int64, error)
}

// ErrNoRunningMove: the queue has no running move task to cancel.
var ErrNoRunningMove = errors.New("no running move task")

// MaxMovePerSecond is the highest rate SQS accepts for a move task.
const MaxMovePerSecond = 500

// StartMove starts a move task of every message back to its source queue.
// It refuses when a task is already running (SQS allows one per queue) and
// names its handle.
func StartMove(ctx context.Context, m Mover, maxPerSecond int) (string, error) {
	if maxPerSecond < 0 || maxPerSecond > MaxMovePerSecond {
		return "", fmt.Errorf("rate %d out of range 0 to %d", maxPerSecond, MaxMovePerSecond)
	}
	tasks, err := m.ListMoves(ctx)
	if err != nil {
		return "", err
	}
	for _, t := range tasks {
		if t.Running() {
			return "", fmt.Errorf("a move task is already %s (handle %s, %d moved); wait for it or cancel it", t.Status, t.Handle, t.Moved)
		}
	}
	return m.StartMove(ctx, "", maxPerSecond)
}

// WatchMove polls the move task with the given handle every interval,
// telling progress (if set) each time, until the task finishes or ctx is
// done, and returns its last state. A finished task has no handle any
// more; it is then the queue's newest task (SQS runs one at a time).
func WatchMove(ctx context.Context, m Mover, handle string, interval time.Duration, progress func(MoveTask)) (MoveTask, error) {
	var last MoveTask
	for {
		tasks, err := m.ListMoves(ctx)
		if err != nil {
			return last, err
		}
		found := false
		for _, t := range tasks {
			if t.Handle == handle {
				last, found = t, true
				break
			}
		}
		if !found && len(tasks) > 0 && !tasks[0].Running() {
			last, found = tasks[0], true
		}
		if !found {
			return last, fmt.Errorf("move task %s is not among the queue's tasks", handle)
		}
		if progress != nil {
			progress(last)
		}
		if !last.Running() {
			return last, nil
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return last, ctx.Err()
		case <-t.C:
		}
	}
}

// CancelMove cancels the move task with the given handle, or the queue's
// running task when handle is empty (ErrNoRunningMove when there is none),
// and returns the handle and how many messages it had moved. Moved messages
// stay moved.
func CancelMove(ctx context.Context, m Mover, handle string) (string, int64, error) {
	if handle == "" {
		tasks, err := m.ListMoves(ctx)
		if err != nil {
			return "", 0, err
		}
		for _, t := range tasks {
			if t.Status == StatusRunning && t.Handle != "" {
				handle = t.Handle
				break
			}
		}
		if handle == "" {
			return "", 0, ErrNoRunningMove
		}
	}
	n, err := m.CancelMove(ctx, handle)
	return handle, n, err
}
