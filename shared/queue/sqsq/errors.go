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

// SQS error codes the adapter acts on (JSON protocol; the Query protocol's
// AWS.SimpleQueueService.* spellings are accepted too).
const (
	codeReceiptHandleIsInvalid = "ReceiptHandleIsInvalid"
	codeMessageNotInflight     = "MessageNotInflight"
	codeInvalidParameterValue  = "InvalidParameterValue"
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

// receiptProblem reports whether SQS rejected a receipt handle: malformed
// (ReceiptHandleIsInvalid), expired or no longer current
// (InvalidParameterValue "… for parameter ReceiptHandle is invalid. Reason:
// The receipt handle has expired."), or its message not in flight
// (MessageNotInflight, or InvalidParameterValue "Message does not exist or
// is not available for visibility timeout change").
func receiptProblem(code, msg string) bool {
	switch code {
	case codeReceiptHandleIsInvalid, codeMessageNotInflight, "InvalidIdFormat":
		return true
	case codeInvalidParameterValue:
		m := strings.ToLower(msg)
		return strings.Contains(m, "receipthandle") || strings.Contains(m, "receipt handle") ||
			strings.Contains(m, "message does not exist")
	}
	return false
}

// staleReceipt reports whether a rejected receipt handle was a real one
// that has expired: deleting with it deletes nothing, which the port does
// not count as an error.
func staleReceipt(code, msg string) bool {
	return receiptProblem(code, msg) && strings.Contains(strings.ToLower(msg), "expired")
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
