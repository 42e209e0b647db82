// Package dlq lists, explains, replays and purges the messages of a
// dead-letter queue, over the queue port (so the same code works on the
// local backend and on SQS).
//
// Everything here pages through a queue with ordinary receives, which hide
// what they return. A scan therefore holds every message it received until
// it ends: it keeps them hidden while it works (extending their visibility
// timeout before it lapses), so that no receive returns the same message
// twice, and makes every one it did not delete visible again when it ends,
// also when it fails or its context is cancelled. A process killed
// outright leaves its messages hidden until their visibility timeout
// (Options.Visibility) passes; then they are back, untouched.
//
// A scan is complete: it ends when a receive finds nothing visible and
// every message in flight is one it holds. A dead-letter queue has no
// consumers, yet messages can be in flight that no one holds: a receive
// whose response was lost (the SDK retried it, say, and the retry got other
// messages) hid its messages all the same, for the scan's visibility
// timeout. So when the queue's depth shows more messages in flight than the
// scan holds, the scan keeps polling until they come back and lists them
// too. It waits at most the visibility timeout (and a second): messages
// still in flight then are held by someone else (another scan, a consumer),
// and the scan ends with an error matching ErrIncomplete. Delayed messages
// are not waited for. Keep Options.Visibility short (the default is 10 s):
// it bounds that wait, and how long a killed scan's messages stay hidden.
//
// Receives count: SQS's ApproximateReceiveCount goes up by one each time a
// scan sees a message. Letter.ReceiveCount is the count as it was before
// the scan that read it (the received count minus one).
//
// A replay sends a message to its source queue first and deletes it from
// the dead-letter queue only after the send succeeded, so an interruption at
// any moment loses nothing: at worst the message is in both queues and is
// delivered twice. A purge with an archive writes and syncs each message to
// the archive before it deletes it.
package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/sqsevent"
)

// Queue is what a scan needs of a dead-letter queue; every queue.Queue
// satisfies it.
type Queue interface {
	Name() string
	Receive(ctx context.Context, opts queue.ReceiveOptions) ([]queue.Message, error)
	Delete(ctx context.Context, receiptHandles []string) error
	ChangeVisibility(ctx context.Context, receiptHandle string, d time.Duration) error
	Depth(ctx context.Context) (queue.Depth, error)
}

// Sender is the queue a replay sends to (the dead-letter queue's source);
// every queue.Queue satisfies it.
type Sender interface {
	Name() string
	SendBatch(ctx context.Context, msgs []queue.Outgoing) error
}

// History is where the error history of a (run, target) is recorded; every
// store.Store satisfies it.
type History interface {
	Attempts(ctx context.Context, runID, targetID string) ([]job.Attempt, error)
}

// Defaults of Options.
const (
	// DefaultVisibility is short: a scan extends the holds of the messages
	// it has, and it waits up to this long for messages that a lost receive
	// left in flight (see the package documentation).
	DefaultVisibility = 10 * time.Second
	// MinVisibility is the shortest hold: SQS counts visibility timeouts in
	// whole seconds.
	MinVisibility = time.Second
	MaxVisibility = 12 * time.Hour
)

// parallel is how many calls a scan makes at once when it changes the
// visibility of many messages or looks up many error histories.
const parallel = 8

// ErrNotFound: no message with that ID is in the queue.
var ErrNotFound = errors.New("message not found")

// ErrIncomplete: messages stayed in flight, held by someone else, through
// the end of a scan, which did not see them.
var ErrIncomplete = errors.New("messages in flight elsewhere were not seen")

// strayPoll is how long a scan sleeps between looks for messages in flight
// elsewhere when its receives do not long-poll (Options.Wait 0).
const strayPoll = 100 * time.Millisecond

// Error sources of ErrorInfo.Source.
const (
	// SourceAttributes: a handler dead-lettered the message itself and put
	// the reason in its error_kind and error_message attributes.
	SourceAttributes = "attributes"
	// SourceHistory: the last failed attempt recorded in the store.
	SourceHistory = "history"
)

// ErrorInfo is why a message is dead-lettered.
type ErrorInfo struct {
	Kind    string    `json:"kind"`
	Message string    `json:"message"`
	Attempt int       `json:"attempt,omitempty"`
	At      time.Time `json:"at,omitzero"`
	// Source is SourceAttributes or SourceHistory.
	Source string `json:"source"`
}

// Letter is one dead-lettered message, explained.
type Letter struct {
	ID string `json:"message_id"`
	// Queue is the dead-letter queue's name.
	Queue    string `json:"queue"`
	TargetID string `json:"target_id,omitempty"`
	RunID    string `json:"run_id,omitempty"`
	URL      string `json:"url,omitempty"`
	// ReceiveCount is ApproximateReceiveCount as it was before this scan
	// received the message.
	ReceiveCount int       `json:"receive_count"`
	SentAt       time.Time `json:"sent_at,omitzero"`
	// LastError is the reason it is dead-lettered: the error_kind and
	// error_message attributes when a handler dead-lettered it itself,
	// else the last failed attempt recorded for its (run, target); nil when
	// neither is known.
	LastError  *ErrorInfo        `json:"last_error,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	Body       string            `json:"body"`

	receipt string
}

// Age is how long ago the message was first sent (zero when unknown).
func (l Letter) Age(now time.Time) time.Duration {
	if l.SentAt.IsZero() {
		return 0
	}
	return now.Sub(l.SentAt)
}

// ErrorKind is the kind of LastError, or "".
func (l Letter) ErrorKind() string {
	if l.LastError == nil {
		return ""
	}
	return l.LastError.Kind
}

// newLetter builds a letter from a received message, with its target, run
// and URL taken from its attributes or, failing that, its body (read
// leniently: the body of a dead letter need not be valid).
func newLetter(q string, m queue.Message) *Letter {
	l := &Letter{
		ID: m.ID, Queue: q, ReceiveCount: max(m.ReceiveCount-1, 0), SentAt: m.SentAt,
		Attributes: m.Attributes, Body: m.Body, receipt: m.ReceiptHandle,
		TargetID: m.Attributes[job.AttrTargetID], RunID: m.Attributes[job.AttrRunID],
	}
	var body struct {
		RunID    string `json:"run_id"`
		TargetID string `json:"target_id"`
		URL      string `json:"url"`
	}
	if json.Unmarshal([]byte(m.Body), &body) == nil {
		if l.TargetID == "" {
			l.TargetID = body.TargetID
		}
		if l.RunID == "" {
			l.RunID = body.RunID
		}
		l.URL = body.URL
	}
	if kind := m.Attributes[sqsevent.AttrErrorKind]; kind != "" {
		l.LastError = &ErrorInfo{Kind: kind, Message: m.Attributes[sqsevent.AttrErrorMessage], Source: SourceAttributes}
	}
	return l
}

// Filter selects dead letters; its zero value selects all of them.
type Filter struct {
	TargetID  string
	RunID     string
	ErrorKind string
	// OlderThan selects messages sent at least this long ago.
	OlderThan time.Duration
	// SentBefore, when set, selects messages sent before it. Replay sets it
	// to its start, so a message dead-lettered again while the replay runs
	// (a poison message the pipeline rejects at once) is not replayed over
	// and over.
	SentBefore time.Time
}

// IsZero reports whether the filter selects every message.
func (f Filter) IsZero() bool {
	return f.TargetID == "" && f.RunID == "" && f.ErrorKind == "" && f.OlderThan == 0 && f.SentBefore.IsZero()
}

// Match reports whether l passes the filter at time now.
func (f Filter) Match(l Letter, now time.Time) bool {
	switch {
	case f.TargetID != "" && l.TargetID != f.TargetID:
		return false
	case f.RunID != "" && l.RunID != f.RunID:
		return false
	case f.ErrorKind != "" && l.ErrorKind() != f.ErrorKind:
		return false
	case f.OlderThan > 0 && (l.SentAt.IsZero() || l.Age(now) < f.OlderThan):
		return false
	case !f.SentBefore.IsZero() && !l.SentAt.IsZero() && !l.SentAt.Before(f.SentBefore):
		return false
	}
	return true
}

// String describes the filter for people ("target=a run=b"), or "all".
func (f Filter) String() string {
	var parts []string
	if f.TargetID != "" {
		parts = append(parts, "target="+f.TargetID)
	}
	if f.RunID != "" {
		parts = append(parts, "run="+f.RunID)
	}
	if f.ErrorKind != "" {
		parts = append(parts, "error-kind="+f.ErrorKind)
	}
	if f.OlderThan > 0 {
		parts = append(parts, "older-than="+f.OlderThan.String())
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, " ")
}

// Progress is how far a scan got.
type Progress struct {
	// Received is how many distinct messages the scan has seen.
	Received int
	// Matched passed the filter (within the limit); Done of them were
	// moved or purged (or would be, in a dry run), Failed were not.
	Matched, Done, Failed int
}

// Options are the parameters every scan shares.
type Options struct {
	Filter Filter
	// Limit is the most matching messages to act on (0: all).
	Limit int
	// Visibility hides each received message for this long, and is
	// extended while the scan works (default DefaultVisibility). After a
	// crash, the messages come back when it passes. It also bounds how long
	// a scan waits for messages in flight that it does not hold.
	Visibility time.Duration
	// Wait is each receive's long-polling time. An empty receive ends the
	// scan (unless messages are in flight elsewhere), so give SQS at least
	// a second (its short receives sample only some servers); the local
	// backend answers exactly with 0.
	Wait time.Duration
	// History explains the messages; nil leaves LastError to the
	// attributes.
	History History
	// Progress, if set, is called after each batch.
	Progress func(Progress)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (o *Options) fill() error {
	if o.Visibility == 0 {
		o.Visibility = DefaultVisibility
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	switch {
	case o.Visibility < MinVisibility || o.Visibility > MaxVisibility:
		return fmt.Errorf("visibility %v out of range %v to %v", o.Visibility, MinVisibility, MaxVisibility)
	case o.Limit < 0:
		return fmt.Errorf("limit %d is negative", o.Limit)
	case o.Wait < 0:
		return fmt.Errorf("wait %v is negative", o.Wait)
	}
	return nil
}

// List returns the messages of q that match opts.Filter (at most
// opts.Limit), oldest first as received, and leaves every message in the
// queue, visible again. When messages held by someone else stayed in
// flight, it returns what it saw and an error matching ErrIncomplete.
func List(ctx context.Context, q Queue, opts Options) (letters []Letter, err error) {
	err = scanWith(ctx, q, opts, nil, &Progress{}, func(ctx context.Context, s *session, batch []*Letter) error {
		for _, l := range batch {
			letters = append(letters, *l)
		}
		return nil
	})
	return letters, err
}

// Find returns the message of q with the given ID, explained, and leaves
// every message in the queue, visible again. It returns an error wrapping
// ErrNotFound when there is none. opts.Filter and opts.Limit are ignored.
func Find(ctx context.Context, q Queue, messageID string, opts Options) (Letter, error) {
	opts.Filter, opts.Limit = Filter{}, 0
	var found *Letter
	errFound := errors.New("found")
	err := scanWith(ctx, q, opts, func(m queue.Message) bool { return m.ID == messageID }, &Progress{},
		func(ctx context.Context, s *session, batch []*Letter) error {
			found = batch[0]
			return errFound
		})
	switch {
	case found != nil:
		if errors.Is(err, errFound) {
			err = nil
		}
		return *found, err
	case errors.Is(err, ErrIncomplete):
		return Letter{}, fmt.Errorf("message %s in %s: %w (%w)", messageID, q.Name(), ErrNotFound, err)
	case err != nil:
		return Letter{}, err
	}
	return Letter{}, fmt.Errorf("message %s in %s: %w", messageID, q.Name(), ErrNotFound)
}

// Action is what a replay or purge did with one matching message.
type Action string

// Actions.
const (
	ActionMoved       Action = "moved"
	ActionWouldMove   Action = "would move"
	ActionPurged      Action = "purged"
	ActionWouldPurge  Action = "would purge"
	ActionFailed      Action = "failed"
	ActionDuplicated  Action = "duplicated" // sent, but not deleted from the DLQ: now in both queues
	ActionNotArchived Action = "not archived"
)

// Summary counts what a replay or purge did.
type Summary struct {
	// Received is how many distinct messages the scan saw.
	Received int `json:"received"`
	// Matched passed the filter within the limit.
	Matched int `json:"matched"`
	// Moved (replay) or Purged (purge): done, or would be in a dry run.
	Moved  int `json:"moved"`
	Purged int `json:"purged"`
	// Skipped did not match (or were beyond the limit) and were left as
	// they were.
	Skipped int `json:"skipped"`
	// Failed matched but were not moved or purged; they are still in the
	// dead-letter queue (a replayed message that was sent but could not be
	// deleted is in both queues: a duplicate, never a loss).
	Failed int  `json:"failed"`
	DryRun bool `json:"dry_run,omitempty"`
}

// session holds the messages one scan received: hidden while it works,
// visible again when it ends.
type session struct {
	q    Queue
	opts Options

	mu   sync.Mutex
	held map[string]*Letter // by message ID: received, not deleted
	seen int

	stop chan struct{}
	done chan struct{}
}

func newSession(q Queue, opts Options) *session {
	s := &session{q: q, opts: opts, held: map[string]*Letter{}, stop: make(chan struct{}), done: make(chan struct{})}
	go s.keepHidden()
	return s
}

// receive returns the messages of the next receive that this session had
// not seen, and how many the receive returned (0: the queue has nothing
// visible left).
func (s *session) receive(ctx context.Context) ([]queue.Message, int, error) {
	msgs, err := s.q.Receive(ctx, queue.ReceiveOptions{Max: queue.MaxBatch, Wait: s.opts.Wait, Visibility: s.opts.Visibility})
	if err != nil {
		return nil, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fresh := msgs[:0:0]
	for _, m := range msgs {
		if l, ok := s.held[m.ID]; ok {
			// Its hold lapsed and it came round again: keep the new handle.
			l.receipt = m.ReceiptHandle
			continue
		}
		fresh = append(fresh, m)
	}
	return fresh, len(msgs), nil
}

// hold adds letters to the held set.
func (s *session) hold(ls []*Letter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range ls {
		s.held[l.ID] = l
	}
	s.seen += len(ls)
}

// strays is how many messages of the queue are in flight that the session
// does not hold.
func (s *session) strays(ctx context.Context) (int, error) {
	d, err := s.q.Depth(ctx)
	if err != nil {
		return 0, fmt.Errorf("count the messages in flight in %s: %w", s.q.Name(), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return d.InFlight - len(s.held), nil
}

// receipts returns the current receipt handles of letters.
func (s *session) receipts(ls []*Letter) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	rh := make([]string, len(ls))
	for i, l := range ls {
		rh[i] = l.receipt
	}
	return rh
}

// forget drops deleted letters from the held set.
func (s *session) forget(ls []*Letter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range ls {
		delete(s.held, l.ID)
	}
}

// keepHidden extends the hold of every held message a third of the way
// into its visibility timeout, until close.
func (s *session) keepHidden() {
	defer close(s.done)
	every := s.opts.Visibility / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		handles := make(map[string]string, len(s.held))
		for id, l := range s.held {
			handles[id] = l.receipt
		}
		s.mu.Unlock()
		// Past the visibility timeout the holds have lapsed anyway.
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.Visibility)
		each(ctx, handles, func(ctx context.Context, rh string) error {
			return s.q.ChangeVisibility(ctx, rh, s.opts.Visibility)
		})
		cancel()
	}
}

// close stops extending the holds and makes every message still held
// visible again, even when ctx is cancelled. A message it cannot release
// comes back on its own when its visibility timeout passes.
func (s *session) close(ctx context.Context) error {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	handles := make(map[string]string, len(s.held))
	for id, l := range s.held {
		handles[id] = l.receipt
	}
	s.held = map[string]*Letter{}
	s.mu.Unlock()
	if len(handles) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	errs := each(ctx, handles, func(ctx context.Context, rh string) error {
		err := s.q.ChangeVisibility(ctx, rh, 0)
		if errors.Is(err, queue.ErrReceiptInvalid) {
			return nil // visible already (its hold lapsed) or taken by someone else
		}
		return err
	})
	if len(errs) > 0 {
		return fmt.Errorf("%d messages of %s could not be made visible again; they come back when their visibility timeout (%v) passes: %w",
			len(errs), s.q.Name(), s.opts.Visibility, errs[0])
	}
	return nil
}

// each calls fn for every handle, parallel at most at once, and returns
// the errors.
func each(ctx context.Context, handles map[string]string, fn func(ctx context.Context, rh string) error) []error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, parallel)
	)
	for _, rh := range handles {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(ctx, rh); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errs
}

// scanWith receives every message of q, explains those that pass pre (nil:
// all; it spares the store lookups of messages that cannot match) and match
// the filter (within the limit), and hands them to fn a batch at a time;
// the others stay hidden until the scan ends. Then every message not
// deleted is made visible again. It counts what it received and matched in
// p, which fn may update too; opts.Progress sees p after every batch.
//
// An empty receive ends the scan only when no message is in flight that
// the scan does not hold; otherwise it polls on, for at most the
// visibility timeout (see the package documentation).
func scanWith(ctx context.Context, q Queue, opts Options, pre func(queue.Message) bool, p *Progress,
	fn func(ctx context.Context, s *session, batch []*Letter) error) (err error) {
	if err := opts.fill(); err != nil {
		return err
	}
	s := newSession(q, opts)
	defer func() {
		if cerr := s.close(ctx); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	ex := explainer{h: opts.History, cache: map[[2]string]*ErrorInfo{}}
	// strayDeadline is when the scan stops waiting for messages in flight
	// that it does not hold (zero: it has not started waiting). The wait is
	// measured on the wall clock, not opts.Now.
	var strayDeadline time.Time
	for opts.Limit == 0 || p.Matched < opts.Limit {
		if err := ctx.Err(); err != nil {
			return err
		}
		msgs, n, err := s.receive(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			stray, err := s.strays(ctx)
			if err != nil || stray <= 0 {
				return err
			}
			if strayDeadline.IsZero() {
				// SQS counts visibility timeouts in whole seconds; a
				// second more for the server to notice.
				strayDeadline = time.Now().Add(time.Duration(math.Ceil(opts.Visibility.Seconds()))*time.Second + time.Second)
			}
			if time.Now().After(strayDeadline) {
				return fmt.Errorf("%d messages of %s stayed in flight, held by someone else (another scan or a consumer): %w",
					stray, q.Name(), ErrIncomplete)
			}
			if opts.Wait == 0 {
				if err := sleep(ctx, strayPoll); err != nil {
					return err
				}
			}
			continue
		}
		all := make([]*Letter, len(msgs))
		var cands []*Letter
		for i, m := range msgs {
			all[i] = newLetter(q.Name(), m)
			if pre == nil || pre(m) {
				cands = append(cands, all[i])
			}
		}
		s.hold(all)
		p.Received += len(all)
		if err := ex.explain(ctx, cands); err != nil {
			return err
		}
		now := opts.Now()
		var batch []*Letter
		for _, l := range cands {
			if opts.Limit > 0 && p.Matched >= opts.Limit {
				break
			}
			if opts.Filter.Match(*l, now) {
				batch = append(batch, l)
				p.Matched++
			}
		}
		if len(batch) > 0 {
			if err := fn(ctx, s, batch); err != nil {
				return err
			}
		}
		if opts.Progress != nil {
			opts.Progress(*p)
		}
	}
	return nil
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// explainer fills in LastError from the store, once per (run, target).
type explainer struct {
	h     History
	cache map[[2]string]*ErrorInfo
}

func (e *explainer) explain(ctx context.Context, ls []*Letter) error {
	if e.h == nil {
		return nil
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, parallel)
		want = map[[2]string]bool{}
	)
	for _, l := range ls {
		key := [2]string{l.RunID, l.TargetID}
		if _, ok := e.cache[key]; ok || l.LastError != nil || l.RunID == "" || l.TargetID == "" || want[key] {
			continue
		}
		want[key] = true
	}
	found := make(map[[2]string]*ErrorInfo, len(want))
	for key := range want {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			as, err := e.h.Attempts(ctx, key[0], key[1])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("error history of run %s, target %s: %w", key[0], key[1], err))
				return
			}
			var info *ErrorInfo
			if n := len(as); n > 0 {
				a := as[n-1]
				info = &ErrorInfo{Kind: a.Error.Kind, Message: a.Error.Message, Attempt: a.Attempt, At: a.At, Source: SourceHistory}
			}
			found[key] = info
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	maps.Copy(e.cache, found)
	for _, l := range ls {
		if l.LastError == nil {
			l.LastError = e.cache[[2]string{l.RunID, l.TargetID}]
		}
	}
	return nil
}
