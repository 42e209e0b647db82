// Package lambdaasync sends messages as asynchronous invocations of a Lambda
// function: each message's body is one event, which Lambda queues, delivers
// at least once, retries on error and, past its retries, sends to the
// function's on-failure destination (Lambda Developer Guide, "Invoking a
// Lambda function asynchronously"). The planner sends a tick's shards to
// itself this way.
package lambdaasync

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"golang.org/x/sync/errgroup"

	"github.com/cronless/cronless/shared/queue"
)

// API is the part of the Lambda API the sender calls; *lambda.Client
// satisfies it.
type API interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Sender invokes one function asynchronously, once per message.
type Sender struct {
	api      API
	function string
}

// New returns a sender that invokes function (a name or ARN).
func New(api API, function string) *Sender { return &Sender{api: api, function: function} }

// Name is the function the sender invokes (for messages).
func (s *Sender) Name() string { return s.function }

// maxPayload is the largest event an asynchronous invocation takes: 1 MB
// (Lambda Developer Guide, "Lambda quotas": invocation payload,
// asynchronous).
const maxPayload = 1 << 20

// SendBatch invokes the function once per message, all at once. A message
// that could not be sent is named in a *queue.BatchError, as SQS's partial
// failures are; the others were accepted by Lambda. Delays and attributes
// have no place in an invocation and are refused.
func (s *Sender) SendBatch(ctx context.Context, msgs []queue.Outgoing) error {
	if err := queue.CheckEntryIDs(msgs); err != nil {
		return err
	}
	failed := make([]error, len(msgs))
	var g errgroup.Group
	for i, m := range msgs {
		if m.Delay != 0 || len(m.Attributes) > 0 {
			failed[i] = fmt.Errorf("an asynchronous invocation takes neither a delay nor attributes (message %s)", m.ID)
			continue
		}
		if len(m.Body) > maxPayload {
			failed[i] = fmt.Errorf("message %s is %d bytes, over an asynchronous invocation's %d", m.ID, len(m.Body), maxPayload)
			continue
		}
		g.Go(func() error {
			out, err := s.api.Invoke(ctx, &lambda.InvokeInput{
				FunctionName:   aws.String(s.function),
				InvocationType: types.InvocationTypeEvent,
				Payload:        []byte(m.Body),
			})
			switch {
			case err != nil:
				failed[i] = fmt.Errorf("invoke %s: %w", s.function, err)
			case out.StatusCode != 202: // Event invocations answer 202 Accepted
				failed[i] = fmt.Errorf("invoke %s: status %d, want 202", s.function, out.StatusCode)
			}
			return nil
		})
	}
	_ = g.Wait()
	be := &queue.BatchError{}
	for i, err := range failed {
		if err != nil {
			be.Failed = append(be.Failed, queue.EntryError{ID: msgs[i].ID, Err: err})
		}
	}
	if len(be.Failed) == 0 {
		return nil
	}
	return be
}
