package lambdaasync_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/cronless/cronless/shared/lambdaasync"
	"github.com/cronless/cronless/shared/queue"
)

// fakeLambda answers Invoke as Lambda's API does for an Event invocation
// (Lambda API Reference, Invoke: 202 for InvocationType Event), failing
// the payloads fail names.
type fakeLambda struct {
	mu   sync.Mutex
	got  []*lambda.InvokeInput
	fail string
}

func (f *fakeLambda) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	f.mu.Lock()
	f.got = append(f.got, in)
	f.mu.Unlock()
	if f.fail != "" && strings.Contains(string(in.Payload), f.fail) {
		return nil, errors.New("TooManyRequestsException")
	}
	return &lambda.InvokeOutput{StatusCode: 202}, nil
}

func TestSendBatchInvokesOncePerMessage(t *testing.T) {
	f := &fakeLambda{fail: "bad"}
	s := lambdaasync.New(f, "cronless-dev-planner")
	err := s.SendBatch(context.Background(), []queue.Outgoing{
		{ID: "a", Body: `{"shard":{"index":0}}`},
		{ID: "b", Body: `{"shard":"bad"}`},
		{ID: "c", Body: `{"shard":{"index":2}}`, Delay: time.Second},
	})
	bad, partial := queue.FailedIDs(err)
	if !partial || len(bad) != 2 || bad["b"] == nil || bad["c"] == nil {
		t.Fatalf("error %v, want entries b (refused by Lambda) and c (a delay) named", err)
	}
	if len(f.got) != 2 {
		t.Fatalf("%d invocations, want 2 (c is refused before)", len(f.got))
	}
	for _, in := range f.got {
		if *in.FunctionName != "cronless-dev-planner" || in.InvocationType != types.InvocationTypeEvent {
			t.Errorf("invocation %+v, want an Event invocation of cronless-dev-planner", in)
		}
	}
	if err := s.SendBatch(context.Background(), []queue.Outgoing{{ID: "a", Body: "{}"}, {ID: "a", Body: "{}"}}); err == nil {
		t.Error("two entries with one ID were sent")
	}
}
