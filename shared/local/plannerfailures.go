package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cronless/cronless/shared/invocationrecord"
	"github.com/cronless/cronless/shared/planner"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/sqsevent"
)

// PlannerAttempts is how many deliveries of a tick or shard event the local
// pipeline makes before it records the event on the planner failures
// queue: Lambda's 1 + maximumRetryAttempts (2, serverless.yml) for an
// asynchronous invocation. Each delivery itself retries (planRetries).
const PlannerAttempts = 3

// LocalFunctionARN stands for the planner's function ARN in the records
// the local pipeline writes.
const LocalFunctionARN = "local:function:cronless-planner"

// failed records an event the planner failed on for good on the planner
// failures queue, as the invocation record Lambda sends to the planner's
// on-failure destination; it returns an error when the record could not be
// written (then the event stays on the ticks queue).
func (p *Pipeline) failed(ctx context.Context, rec events.SQSMessage, planErr error) error {
	payload := json.RawMessage(rec.Body)
	if !json.Valid(payload) {
		// requestPayload is JSON; keep an unreadable event as a string, so
		// that it is listed (and never replayed).
		b, err := json.Marshal(rec.Body)
		if err != nil {
			return fmt.Errorf("encode event %s: %w", rec.MessageId, err)
		}
		payload = b
	}
	r := invocationrecord.Record{
		Version:   invocationrecord.Version,
		Timestamp: time.Now().UTC(),
		RequestContext: invocationrecord.RequestContext{
			RequestID: rec.MessageId, FunctionARN: LocalFunctionARN,
			Condition: invocationrecord.RetriesExhausted, ApproximateInvokeCount: sqsevent.ReceiveCount(rec),
		},
		RequestPayload:  payload,
		ResponseContext: invocationrecord.ResponseContext{StatusCode: 200, ExecutedVersion: "$LATEST", FunctionError: "Unhandled"},
		ResponsePayload: &invocationrecord.ErrorPayload{ErrorMessage: planErr.Error(), ErrorType: errorType(planErr)},
	}
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode the invocation record of %s: %w", rec.MessageId, err)
	}
	if err := p.PlannerFailures.SendBatch(ctx, []queue.Outgoing{{ID: "r", Body: string(body)}}); err != nil {
		return fmt.Errorf("record event %s on %s: %w", rec.MessageId, p.PlannerFailures.Name(), err)
	}
	return nil
}

// errorType names an error's type as the Go runtime of Lambda does in a
// function error's errorType (the type's name without its package); a
// bad event is BadTick, whatever wraps it.
func errorType(err error) string {
	if errors.Is(err, planner.ErrBadTick) {
		return "BadTick"
	}
	t := reflect.TypeOf(err)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// giveUp reports whether a tick or shard event that failed with err is to
// be recorded as failed now: a bad one at once (no retry helps), another
// on its last delivery.
func giveUp(rec events.SQSMessage, err error) bool {
	return errors.Is(err, planner.ErrBadTick) || sqsevent.ReceiveCount(rec) >= PlannerAttempts
}
