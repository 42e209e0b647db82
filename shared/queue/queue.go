// Package queue is the queue port of cronless: what the local runtime, the
// DLQ commands and the tests need from a queue with SQS semantics. Adapters:
// localq (SQLite, for local mode) and sqsq (Amazon SQS).
//
// Handler cores do not take this whole interface: each declares the one or
// two methods it uses, which every Queue satisfies.
package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MaxBatch is the most entries one send, receive or delete may carry (as on SQS).
const MaxBatch = 10

// Errors adapters return; check them with errors.Is.
var (
	// ErrBatchTooLarge: more than MaxBatch entries, or an empty batch.
	ErrBatchTooLarge = errors.New("batch must hold 1 to 10 entries")
	// ErrReceiptInvalid: the receipt handle is unknown or no longer current
	// (the message was received again or deleted).
	ErrReceiptInvalid = errors.New("receipt handle is not current")
	// ErrNoQueue: the named queue does not exist.
	ErrNoQueue = errors.New("queue does not exist")
)

// Outgoing is a message to send.
type Outgoing struct {
	// ID identifies the entry within its batch (as SQS's batch entry Id).
	// It must be unique within the batch; BatchError names entries by it.
	ID   string
	Body string
	// Attributes are message attributes of data type String.
	Attributes map[string]string
	// Delay keeps the message invisible for this long after sending.
	Delay time.Duration
}

// Message is a received message.
type Message struct {
	ID            string
	ReceiptHandle string
	Body          string
	// Attributes are the message attributes it was sent with.
	Attributes map[string]string
	// ReceiveCount is SQS's ApproximateReceiveCount, this receive included.
	ReceiveCount    int
	SentAt          time.Time
	FirstReceivedAt time.Time
}

// ReceiveOptions are the parameters of one receive call.
type ReceiveOptions struct {
	// Max is the most messages to return, 1 to 10 (0 means 1).
	Max int
	// Wait is the long-polling time: return as soon as a message is
	// available, or with none after Wait. Zero returns at once.
	Wait time.Duration
	// Visibility overrides the queue's visibility timeout when positive.
	Visibility time.Duration
}

// Check checks the options against SQS's limits and returns how many
// messages to receive (Max, or 1 when it is 0). An out-of-range Max wraps
// ErrBatchTooLarge.
func (o ReceiveOptions) Check() (int, error) {
	n := o.Max
	if n == 0 {
		n = 1
	}
	switch {
	case n < 0 || n > MaxBatch:
		return 0, fmt.Errorf("max %d: %w", o.Max, ErrBatchTooLarge)
	case o.Wait < 0 || o.Wait > MaxWait:
		return 0, fmt.Errorf("wait %v out of range 0 to %v", o.Wait, MaxWait)
	case o.Visibility < 0 || o.Visibility > MaxVisibility:
		return 0, fmt.Errorf("visibility %v out of range 0 to %v", o.Visibility, MaxVisibility)
	}
	return n, nil
}

// Depth counts a queue's messages, as SQS's approximate attributes do.
type Depth struct {
	Visible  int // ApproximateNumberOfMessages
	InFlight int // ApproximateNumberOfMessagesNotVisible
	Delayed  int // ApproximateNumberOfMessagesDelayed
}

// Total is every message the queue holds.
func (d Depth) Total() int { return d.Visible + d.InFlight + d.Delayed }

// Queue is one named queue with SQS semantics.
type Queue interface {
	// Name is the queue's name; ARN its Amazon Resource Name (the
	// eventSourceARN of the SQS events built from it).
	Name() string
	ARN() string
	// SendBatch sends 1 to MaxBatch messages. When some entries fail it
	// returns a *BatchError naming them; the others were sent.
	SendBatch(ctx context.Context, msgs []Outgoing) error
	// Receive returns up to opts.Max visible messages and hides them for
	// the visibility timeout. A message already received maxReceiveCount
	// times is moved to the dead-letter queue instead of being returned.
	Receive(ctx context.Context, opts ReceiveOptions) ([]Message, error)
	// Delete deletes messages by their current receipt handles (1 to
	// MaxBatch). A handle that is no longer current deletes nothing and is
	// not an error, as on SQS.
	Delete(ctx context.Context, receiptHandles []string) error
	// ChangeVisibility makes an in-flight message visible again after d
	// (zero: now). It returns ErrReceiptInvalid for a stale handle.
	ChangeVisibility(ctx context.Context, receiptHandle string, d time.Duration) error
	// Depth counts the queue's messages.
	Depth(ctx context.Context) (Depth, error)
}

// EntryError is one entry of a batch that was not sent.
type EntryError struct {
	ID  string // Outgoing.ID
	Err error
	// SenderFault is SQS's flag: the entry itself is wrong and retrying it
	// as is will not help.
	SenderFault bool
}

// BatchError reports the entries of a batch that were not sent.
type BatchError struct {
	Failed []EntryError
}

func (e *BatchError) Error() string {
	parts := make([]string, 0, len(e.Failed))
	for _, f := range e.Failed {
		parts = append(parts, fmt.Sprintf("%s: %v", f.ID, f.Err))
	}
	return fmt.Sprintf("%d entries not sent: %s", len(e.Failed), strings.Join(parts, "; "))
}

// FailedIDs returns the IDs of the entries that were not sent when err is a
// *BatchError, or nil and false when err is some other error (then the whole
// batch must be taken as failed).
func FailedIDs(err error) (map[string]error, bool) {
	var be *BatchError
	if !errors.As(err, &be) {
		return nil, false
	}
	ids := make(map[string]error, len(be.Failed))
	for _, f := range be.Failed {
		ids[f.ID] = f.Err
	}
	return ids, true
}

// CheckEntryIDs checks that a batch's entry IDs are valid and distinct, as
// SQS requires (1 to 80 letters, digits, hyphens or underscores).
func CheckEntryIDs(msgs []Outgoing) error {
	seen := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		if !ValidEntryID(m.ID) {
			return fmt.Errorf("entry ID %q: must be 1 to 80 letters, digits, hyphens or underscores", m.ID)
		}
		if seen[m.ID] {
			return fmt.Errorf("entry ID %q is not distinct", m.ID)
		}
		seen[m.ID] = true
	}
	return nil
}
