// Package sqsevent holds what the worker and results handler cores share
// about the SQS events Lambda delivers: reading a record's attributes and
// building the partial batch response.
package sqsevent

import (
	"context"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
	"go.uber.org/zap"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/queue"
)

// ReceiveCount returns a record's ApproximateReceiveCount (1 when absent).
func ReceiveCount(m events.SQSMessage) int {
	n, err := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// Failures collects the message IDs to report in BatchItemFailures, in the
// order of the batch.
type Failures struct {
	failed map[string]bool
}

// Add marks a message as failed.
func (f *Failures) Add(messageID string) {
	if f.failed == nil {
		f.failed = make(map[string]bool)
	}
	f.failed[messageID] = true
}

// Has reports whether a message is marked as failed.
func (f *Failures) Has(messageID string) bool { return f.failed[messageID] }

// Response builds the partial batch response for ev: Lambda deletes every
// record not listed, and leaves the listed ones for redelivery.
func (f *Failures) Response(ev events.SQSEvent) events.SQSEventResponse {
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for _, r := range ev.Records {
		if f.failed[r.MessageId] {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
		}
	}
	return resp
}

// StringAttributes converts a record's message attributes to plain strings.
func StringAttributes(m events.SQSMessage) map[string]string {
	if len(m.MessageAttributes) == 0 {
		return nil
	}
	out := make(map[string]string, len(m.MessageAttributes))
	for k, v := range m.MessageAttributes {
		if v.StringValue != nil {
			out[k] = *v.StringValue
		}
	}
	return out
}

// Sender sends a batch of up to queue.MaxBatch messages.
type Sender interface {
	SendBatch(ctx context.Context, msgs []queue.Outgoing) error
}

// Attribute names set on a message that a handler dead-letters itself.
const (
	AttrErrorKind         = "error_kind"
	AttrErrorMessage      = "error_message"
	AttrOriginalMessageID = "original_message_id"
	AttrSourceQueue       = "source_queue"
	// KindBadMessage is the error kind of a message that does not decode.
	KindBadMessage = "bad_message"
)

// DeadLetter sends a malformed record to dlq, with the reason in its message
// attributes, and reports whether it was sent (then the record may be
// deleted). With no dlq it reports false: the record is then reported as
// failed, and SQS dead-letters it after maxReceiveCount receives.
func DeadLetter(ctx context.Context, dlq Sender, rec events.SQSMessage, cause error, log *zap.Logger) bool {
	log.Error("malformed message, not processed", zap.Error(cause))
	return SendDeadLetter(ctx, dlq, rec, rec.Body, KindBadMessage, cause, log)
}

// maxErrorAttribute caps the error_message attribute.
const maxErrorAttribute = 1024

// SendDeadLetter sends body (rec's, or one that replaces it) to dlq with
// rec's attributes and the reason (kind, cause) in its own, and reports
// whether it was sent. With no dlq it reports false.
func SendDeadLetter(ctx context.Context, dlq Sender, rec events.SQSMessage, body, kind string, cause error, log *zap.Logger) bool {
	if dlq == nil {
		return false
	}
	attrs := StringAttributes(rec)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs[AttrErrorKind] = kind
	attrs[AttrErrorMessage] = job.CutText(cause.Error(), maxErrorAttribute)
	attrs[AttrOriginalMessageID] = rec.MessageId
	attrs[AttrSourceQueue] = rec.EventSourceARN
	err := dlq.SendBatch(ctx, []queue.Outgoing{{ID: "dead-letter", Body: body, Attributes: attrs}})
	if err != nil {
		log.Error("could not dead-letter the message; it stays on its queue", zap.Error(err))
		return false
	}
	return true
}
