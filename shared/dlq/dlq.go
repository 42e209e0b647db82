// Package dlq lists, explains, replays and purges the messages of a
// dead-letter queue over the queue port, so it works on both backends.
//
// A scan pages with ordinary receives, holds what it received hidden until
// it ends, then makes it visible again; how, and why a scan waits for
// messages in flight, is in docs/aws.md ("Scanning a dead-letter queue").
package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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
	// left in flight (docs/aws.md, "Scanning a dead-letter queue").
	DefaultVisibility = 10 * time.Second
	// MinVisibility is the shortest hold: SQS counts visibility timeouts in
	// whole seconds.
	MinVisibility = time.Second
	MaxVisibility = queue.MaxVisibility
)

// ErrNotFound: no message with that ID is in the queue.
var ErrNotFound = errors.New("message not found")

// ErrIncomplete: messages stayed in flight, held by someone else, through
// the end of a scan, which did not see them.
var ErrIncomplete = errors.New("messages in flight elsewhere were not seen")

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
	LastError *ErrorInfo `json:"last_error,omitempty"`
	// Planner explains a message of the planner failures queue (a scan
	// with Options.Planner); nil for the other queues.
	Planner    *PlannerFailure   `json:"planner,omitempty"`
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
	// Planner reads the messages as planner failures (Letter.Planner):
	// the queue is the planner failures queue.
	Planner bool
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
	// ActionNotReplayable: a malformed planner failure, left in the queue.
	ActionNotReplayable Action = "not replayable"
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
