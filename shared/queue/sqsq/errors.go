package sqsq

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"

	"github.com/cronless/cronless/shared/queue"
)

// ErrMovesUnsupported: the client has no move-task API (see WithMoveAPI),
// or the server does not know the action (fauxqs answers InvalidAction).
var ErrMovesUnsupported = errors.New("message move tasks are not supported")

// ErrQueueMessageSize: SQS refused a message larger than the queue's
// MaximumMessageSize attribute, which is set below queue.MaxMessageSize. A queue
// created before SQS raised its limit to 1 MiB (August 2025) keeps the old
// default, 262,144 bytes, unless its template sets the attribute.
var ErrQueueMessageSize = errors.New("message is larger than the queue's MaximumMessageSize")

// OldMaxMessageSize is SQS's message size limit before August 2025, and
// the MaximumMessageSize of a queue created then without setting it.
const OldMaxMessageSize = 256 << 10

// SQS error codes the adapter acts on (JSON protocol; the Query protocol's
// AWS.SimpleQueueService.* spellings are accepted too).
const (
	codeReceiptHandleIsInvalid = "ReceiptHandleIsInvalid"
	codeInvalidIDFormat        = "InvalidIdFormat"
	codeMessageNotInflight     = "MessageNotInflight"
	codeInvalidParameterValue  = "InvalidParameterValue"
	codeInvalidMessageContents = "InvalidMessageContents"
	codeBatchRequestTooLong    = "BatchRequestTooLong"
	codeQueueDoesNotExist      = "QueueDoesNotExist"
	codeInvalidAction          = "InvalidAction"
)

// EntryFailure is the error of one batch entry SQS did not accept (a
// BatchResultErrorEntry), or that the adapter refused before sending. It
// satisfies smithy.APIError, like the SDK's own errors.
type EntryFailure struct {
	Code        string
	Message     string
	SenderFault bool
}

func (e *EntryFailure) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

// ErrorCode returns SQS's error code.
func (e *EntryFailure) ErrorCode() string { return e.Code }

// ErrorMessage returns SQS's error message.
func (e *EntryFailure) ErrorMessage() string { return e.Message }

// ErrorFault is the client's fault when SenderFault is set, else the server's.
func (e *EntryFailure) ErrorFault() smithy.ErrorFault {
	if e.SenderFault {
		return smithy.FaultClient
	}
	return smithy.FaultServer
}

var _ smithy.APIError = (*EntryFailure)(nil)

// apiError returns the code and message of an SQS error.
func apiError(err error) (code, msg string, ok bool) {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return "", "", false
	}
	return normCode(ae.ErrorCode()), ae.ErrorMessage(), true
}

// normCode strips the Query protocol's prefix from an error code.
func normCode(code string) string {
	code = strings.TrimPrefix(code, "AWS.SimpleQueueService.")
	if code == "NonExistentQueue" {
		return codeQueueDoesNotExist
	}
	return code
}

// receiptProblem reports whether SQS rejected a ChangeMessageVisibility's
// receipt handle. InvalidParameterValue also means a visibility past 12 h in
// all, which only the message tells apart, so for that code it reads it.
func receiptProblem(code, msg string) bool {
	switch code {
	case codeReceiptHandleIsInvalid, codeMessageNotInflight, codeInvalidIDFormat:
		return true
	case codeInvalidParameterValue:
		m := strings.ToLower(msg)
		return strings.Contains(m, "receipthandle") || strings.Contains(m, "receipt handle") ||
			strings.Contains(m, "message does not exist")
	}
	return false
}

// staleReceipt reports whether a delete entry failed because its handle is no
// longer current: expired (InvalidParameterValue, the one thing a batch entry
// can fail that for). Deleting with it deletes nothing, which is no error.
func staleReceipt(code string) bool { return code == codeInvalidParameterValue }

// malformedReceipt reports whether a delete entry failed because its
// handle is not a handle of this queue at all: a caller's bug, reported as
// queue.ErrReceiptInvalid.
func malformedReceipt(code string) bool {
	return code == codeReceiptHandleIsInvalid || code == codeInvalidIDFormat
}

// refusedForContent reports whether a whole SendMessageBatch request was
// refused for what one of its entries holds, so that nothing was sent and
// each entry may be sent again alone. On AWS a message over the queue's
// MaximumMessageSize fails its entry alone (InvalidParameterValue, with
// SenderFault); moto 5.2.1 refuses the whole request with that code.
func refusedForContent(err error) bool {
	code, _, ok := apiError(err)
	if !ok {
		return false
	}
	switch code {
	case codeInvalidParameterValue, codeInvalidMessageContents, codeBatchRequestTooLong:
		return true
	}
	return false
}

// mapErr makes an SQS error match the port's errors (queue.ErrNoQueue,
// ErrMovesUnsupported) with errors.Is, keeping the original in the chain.
func mapErr(err error) error {
	code, _, ok := apiError(err)
	if !ok {
		return err
	}
	switch code {
	case codeQueueDoesNotExist:
		return fmt.Errorf("%w: %w", queue.ErrNoQueue, err)
	case codeInvalidAction:
		return fmt.Errorf("%w: %w", ErrMovesUnsupported, err)
	}
	return err
}

// retryables is the SDK's own classification of transient errors:
// throttling codes (RequestThrottled, ThrottlingException, …), HTTP 500,
// 502, 503 and 504, connection errors, timeouts.
var retryables = retry.IsErrorRetryables(retry.DefaultRetryables)

// transient reports whether a whole request failed in a way worth
// retrying: throttled, a server fault or 5xx, a connection error.
func transient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if retryables.IsErrorRetryable(err) == aws.TrueTernary {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch normCode(ae.ErrorCode()) {
		case "KmsThrottled", "InternalError", "InternalFailure", "ServiceUnavailable":
			return true
		}
		return ae.ErrorFault() == smithy.FaultServer
	}
	return false
}
