package sqsq

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/cronless/cronless/shared/dlq"
	"github.com/cronless/cronless/shared/queue"
)

const testURL = "https://sqs.eu-west-1.amazonaws.com/123456789012/cronless-test-targets"

// fast retries: tests never wait long.
var fast = WithBackoff(Backoff{Attempts: 4, Base: time.Millisecond, Max: 5 * time.Millisecond, MaxElapsed: 5 * time.Second})

func entryErr(code, msg string, senderFault bool) types.BatchResultErrorEntry {
	return types.BatchResultErrorEntry{Code: aws.String(code), Message: aws.String(msg), SenderFault: senderFault}
}

// requestSize is the size SQS counts for a SendMessageBatch request.
func requestSize(in *sqs.SendMessageBatchInput) int {
	n := 0
	for _, e := range in.Entries {
		n += len(aws.ToString(e.MessageBody))
		for k, v := range e.MessageAttributes {
			n += len(k) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue)) + len(v.BinaryValue)
		}
	}
	return n
}

func TestSendSplitsBySize(t *testing.T) {
	big := func(id string, n int) queue.Outgoing {
		return queue.Outgoing{ID: id, Body: strings.Repeat("b", n), Attributes: map[string]string{"run": "nightly@2025-01-01T00:00:00Z"}}
	}
	tests := []struct {
		name        string
		msgs        []queue.Outgoing
		minRequests int
	}{
		{"ten of 300 KB", func() []queue.Outgoing {
			var ms []queue.Outgoing
			for i := range 10 {
				ms = append(ms, big(fmt.Sprint("m", i), 300_000))
			}
			return ms
		}(), 4},
		{"one at the limit among small ones", []queue.Outgoing{
			big("a", 10), big("b", queue.MaxMessageSize-len("run")-len("String")-len("nightly@2025-01-01T00:00:00Z")), big("c", 10),
		}, 2},
		{"ten small ones", func() []queue.Outgoing {
			var ms []queue.Outgoing
			for i := range 10 {
				ms = append(ms, big(fmt.Sprint("m", i), 1000))
			}
			return ms
		}(), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAPI{}
			q := New(f, testURL, fast)
			if err := q.SendBatch(context.Background(), tt.msgs); err != nil {
				t.Fatalf("SendBatch: %v", err)
			}
			if len(f.sends) < tt.minRequests {
				t.Errorf("%d requests, want at least %d", len(f.sends), tt.minRequests)
			}
			var all []string
			for _, in := range f.sends {
				if n := requestSize(in); n > MaxBatchSize {
					t.Errorf("request of %d bytes, over the %d-byte limit", n, MaxBatchSize)
				}
				if len(in.Entries) > queue.MaxBatch || aws.ToString(in.QueueUrl) != testURL {
					t.Errorf("request with %d entries to %s", len(in.Entries), aws.ToString(in.QueueUrl))
				}
				for _, e := range in.Entries {
					all = append(all, aws.ToString(e.Id))
					for _, v := range e.MessageAttributes {
						if aws.ToString(v.DataType) != "String" {
							t.Errorf("attribute data type %q", aws.ToString(v.DataType))
						}
					}
				}
			}
			var want []string
			for _, m := range tt.msgs {
				want = append(want, m.ID)
			}
			if !slices.Equal(all, want) {
				t.Errorf("sent %v, want each of %v once, in order", all, want)
			}
		})
	}
}

func TestSendRefusesWhatSQSWould(t *testing.T) {
	f := &fakeAPI{}
	q := New(f, testURL, fast)
	eleven := map[string]string{}
	for i := range 11 {
		eleven[fmt.Sprint("a", i)] = "v"
	}
	msgs := []queue.Outgoing{
		{ID: "ok", Body: "fine", Attributes: map[string]string{"a.b-c_d": "ok"}, Delay: 1500 * time.Millisecond},
		{ID: "huge", Body: strings.Repeat("x", queue.MaxMessageSize+1)},
		{ID: "attrs-too-big", Body: strings.Repeat("x", queue.MaxMessageSize-10), Attributes: map[string]string{"key": "value"}},
		{ID: "empty", Body: ""},
		{ID: "nul", Body: "a\x00b"},
		{ID: "eleven", Body: "x", Attributes: eleven},
		{ID: "aws-attr", Body: "x", Attributes: map[string]string{"AWS.Trace": "v"}},
		{ID: "empty-value", Body: "x", Attributes: map[string]string{"k": ""}},
		{ID: "late", Body: "x", Delay: 16 * time.Minute},
	}
	err := q.SendBatch(context.Background(), msgs)
	var be *queue.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("SendBatch: %v, want a BatchError", err)
	}
	var ids []string
	for _, e := range be.Failed {
		ids = append(ids, e.ID)
		var ef *EntryFailure
		if !e.SenderFault || !errors.As(e.Err, &ef) || ef.Code == "" {
			t.Errorf("entry %s: %+v, want a sender fault with an SQS code", e.ID, e)
		}
	}
	if want := []string{"huge", "attrs-too-big", "empty", "nul", "eleven", "aws-attr", "empty-value", "late"}; !slices.Equal(ids, want) {
		t.Errorf("failed %v, want %v", ids, want)
	}
	if got := f.sentIDs(); !reflect.DeepEqual(got, [][]string{{"ok"}}) {
		t.Errorf("sent %v, want only ok", got)
	}
	if d := f.sends[0].Entries[0].DelaySeconds; d != 2 {
		t.Errorf("DelaySeconds %d for 1.5s, want 2", d)
	}

	for _, bad := range [][]queue.Outgoing{
		nil,
		make([]queue.Outgoing, 11),
	} {
		if err := q.SendBatch(context.Background(), bad); !errors.Is(err, queue.ErrBatchTooLarge) {
			t.Errorf("SendBatch of %d: %v, want ErrBatchTooLarge", len(bad), err)
		}
	}
	for _, bad := range [][]queue.Outgoing{
		{{ID: "same", Body: "a"}, {ID: "same", Body: "b"}},
		{{ID: "has space", Body: "a"}},
		{{ID: "", Body: "a"}},
	} {
		err := q.SendBatch(context.Background(), bad)
		if _, ok := queue.FailedIDs(err); err == nil || ok {
			t.Errorf("SendBatch(%+v): %v, want the whole batch refused", bad, err)
		}
	}
	if len(f.sends) != 1 {
		t.Errorf("%d requests, want the refused batches never sent", len(f.sends))
	}
}

func TestSendRetriesTransientEntries(t *testing.T) {
	f := &fakeAPI{send: func(call int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		if call == 1 {
			return failSome(in, map[string]types.BatchResultErrorEntry{
				"b": entryErr("InternalError", "try again", false),
				"c": entryErr("ServiceUnavailable", "busy", false),
			}), nil
		}
		return acceptAll(in), nil
	}}
	q := New(f, testURL, fast)
	msgs := []queue.Outgoing{{ID: "a", Body: "1"}, {ID: "b", Body: "2"}, {ID: "c", Body: "3", Attributes: map[string]string{"k": "v"}}}
	if err := q.SendBatch(context.Background(), msgs); err != nil {
		t.Fatalf("SendBatch: %v", err)
	}
	if got := f.sentIDs(); !reflect.DeepEqual(got, [][]string{{"a", "b", "c"}, {"b", "c"}}) {
		t.Errorf("requests %v, want the failed entries retried alone", got)
	}
	if v := f.sends[1].Entries[1].MessageAttributes["k"]; aws.ToString(v.StringValue) != "v" {
		t.Errorf("retried entry lost its attributes: %+v", f.sends[1].Entries[1])
	}
}

func TestSendNamesEntriesThatNeverMakeIt(t *testing.T) {
	f := &fakeAPI{send: func(call int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		return failSome(in, map[string]types.BatchResultErrorEntry{
			"bad":   entryErr("InvalidMessageContents", "Invalid characters found.", true),
			"flaky": entryErr("InternalError", "We encountered an internal error.", false),
		}), nil
	}}
	q := New(f, testURL, WithBackoff(Backoff{Attempts: 3, Base: time.Millisecond, Max: time.Millisecond}))
	err := q.SendBatch(context.Background(), []queue.Outgoing{{ID: "bad", Body: "x"}, {ID: "good", Body: "y"}, {ID: "flaky", Body: "z"}})
	var be *queue.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("SendBatch: %v, want a BatchError", err)
	}
	if !strings.Contains(err.Error(), "cronless-test-targets") {
		t.Errorf("error %q does not name the queue", err)
	}
	if len(be.Failed) != 2 || be.Failed[0].ID != "bad" || be.Failed[1].ID != "flaky" {
		t.Fatalf("failed %+v, want bad and flaky", be.Failed)
	}
	for _, c := range []struct {
		e           queue.EntryError
		code        string
		senderFault bool
	}{{be.Failed[0], "InvalidMessageContents", true}, {be.Failed[1], "InternalError", false}} {
		var ae smithy.APIError
		if !errors.As(c.e.Err, &ae) || ae.ErrorCode() != c.code || c.e.SenderFault != c.senderFault {
			t.Errorf("entry %s: %v (sender fault %v), want code %s, sender fault %v", c.e.ID, c.e.Err, c.e.SenderFault, c.code, c.senderFault)
		}
	}
	want := [][]string{{"bad", "good", "flaky"}, {"flaky"}, {"flaky"}}
	if got := f.sentIDs(); !reflect.DeepEqual(got, want) {
		t.Errorf("requests %v, want %v (sender faults not retried, 3 attempts)", got, want)
	}
}

func TestSendRetriesThrottledRequests(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"RequestThrottled", &smithy.GenericAPIError{Code: "RequestThrottled", Message: "slow down", Fault: smithy.FaultClient}},
		{"ThrottlingException", &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}},
		{"KmsThrottled", &smithy.GenericAPIError{Code: "KmsThrottled", Message: "kms", Fault: smithy.FaultClient}},
		{"HTTP 503", &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 503}}, Err: errors.New("service unavailable")}},
		{"server fault", &smithy.GenericAPIError{Code: "InternalError", Fault: smithy.FaultServer}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAPI{send: func(call int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
				if call < 3 {
					return nil, fmt.Errorf("operation error SQS: SendMessageBatch: %w", tt.err)
				}
				return acceptAll(in), nil
			}}
			q := New(f, testURL, fast)
			if err := q.SendBatch(context.Background(), []queue.Outgoing{{ID: "a", Body: "1"}, {ID: "b", Body: "2"}}); err != nil {
				t.Fatalf("SendBatch: %v", err)
			}
			if len(f.sends) != 3 {
				t.Errorf("%d requests, want 3", len(f.sends))
			}
		})
	}

	// A request error that is not transient is not retried, and fails the
	// whole batch (not a BatchError: nothing was sent).
	f := &fakeAPI{send: func(int, *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "no", Fault: smithy.FaultClient}
	}}
	err := New(f, testURL, fast).SendBatch(context.Background(), []queue.Outgoing{{ID: "a", Body: "1"}})
	if _, ok := queue.FailedIDs(err); err == nil || ok || len(f.sends) != 1 {
		t.Errorf("AccessDenied: %v after %d requests, want a plain error after one", err, len(f.sends))
	}
	f = &fakeAPI{send: func(int, *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		return nil, &types.QueueDoesNotExist{Message: aws.String("The specified queue does not exist.")}
	}}
	if err := New(f, testURL, fast).SendBatch(context.Background(), []queue.Outgoing{{ID: "a", Body: "1"}}); !errors.Is(err, queue.ErrNoQueue) {
		t.Errorf("QueueDoesNotExist: %v, want ErrNoQueue", err)
	}

	// Throttled for good: the retries are bounded.
	f = &fakeAPI{send: func(int, *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		return nil, &smithy.GenericAPIError{Code: "RequestThrottled"}
	}}
	err = New(f, testURL, WithBackoff(Backoff{Attempts: 5, Base: time.Millisecond, Max: time.Millisecond})).
		SendBatch(context.Background(), []queue.Outgoing{{ID: "a", Body: "1"}})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "RequestThrottled" || len(f.sends) != 5 {
		t.Errorf("always throttled: %v after %d requests, want RequestThrottled after 5", err, len(f.sends))
	}
}

func TestSendPartlySentThenRequestFails(t *testing.T) {
	// Ten messages of 300 KB go in several requests; the second one fails
	// for good. The BatchError names exactly its entries.
	f := &fakeAPI{send: func(call int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		if call == 2 {
			return nil, &smithy.GenericAPIError{Code: "KmsAccessDenied", Message: "denied", Fault: smithy.FaultClient}
		}
		return acceptAll(in), nil
	}}
	var msgs []queue.Outgoing
	for i := range 10 {
		msgs = append(msgs, queue.Outgoing{ID: fmt.Sprint("m", i), Body: strings.Repeat("x", 300_000)})
	}
	err := New(f, testURL, fast).SendBatch(context.Background(), msgs)
	failed, ok := queue.FailedIDs(err)
	if !ok {
		t.Fatalf("SendBatch: %v, want a BatchError", err)
	}
	reqs := f.sentIDs()
	if len(reqs) < 3 {
		t.Fatalf("requests %v", reqs)
	}
	if len(failed) != len(reqs[1]) {
		t.Errorf("failed %v, want exactly the second request's %v", failed, reqs[1])
	}
	for _, id := range reqs[1] {
		if failed[id] == nil {
			t.Errorf("entry %s of the failed request not named", id)
		}
	}
}

func TestSendStopsRetryingWhenContextEnds(t *testing.T) {
	f := &fakeAPI{send: func(call int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		return failSome(in, map[string]types.BatchResultErrorEntry{"b": entryErr("InternalError", "later", false)}), nil
	}}
	q := New(f, testURL, WithBackoff(Backoff{Attempts: 1000, Base: 10 * time.Second, Max: time.Minute, MaxElapsed: time.Hour}))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := q.SendBatch(ctx, []queue.Outgoing{{ID: "a", Body: "1"}, {ID: "b", Body: "2"}})
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("returned %v after the context ended", elapsed)
	}
	failed, ok := queue.FailedIDs(err)
	if !ok || len(failed) != 1 || failed["b"] == nil {
		t.Fatalf("SendBatch: %v, want a BatchError naming b", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("SendBatch: %v, want it to match context.DeadlineExceeded", err)
	}

	// An ended context sends nothing.
	f = &fakeAPI{}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if err := New(f, testURL).SendBatch(ctx, []queue.Outgoing{{ID: "a", Body: "1"}}); !errors.Is(err, context.Canceled) || len(f.sends) != 0 {
		t.Errorf("SendBatch with a canceled context: %v, %d requests", err, len(f.sends))
	}
}

func TestBackoffDelays(t *testing.T) {
	b := Backoff{Attempts: 10, Base: 10 * time.Millisecond, Max: 200 * time.Millisecond}
	for n := 1; n <= 40; n++ {
		ceiling := min(b.Max, b.Base<<min(n-1, 30))
		var maxSeen time.Duration
		for range 200 {
			d := b.delay(n)
			if d < 0 || d > ceiling {
				t.Fatalf("delay(%d) = %v, want within [0, %v]", n, d, ceiling)
			}
			maxSeen = max(maxSeen, d)
		}
		if maxSeen < ceiling/4 {
			t.Errorf("delay(%d): at most %v in 200 draws, ceiling %v: not jittered over the range", n, maxSeen, ceiling)
		}
	}
}

func TestReceiveMapsMessages(t *testing.T) {
	sent := time.UnixMilli(1_767_225_600_123)
	first := sent.Add(1500 * time.Millisecond)
	f := &fakeAPI{receive: func(in *sqs.ReceiveMessageInput) (*sqs.ReceiveMessageOutput, error) {
		return &sqs.ReceiveMessageOutput{Messages: []types.Message{{
			MessageId:     aws.String("mid-1"),
			ReceiptHandle: aws.String("rh-1"),
			Body:          aws.String(`{"v":1}`),
			Attributes: map[string]string{
				"ApproximateReceiveCount":          "3",
				"SentTimestamp":                    fmt.Sprint(sent.UnixMilli()),
				"ApproximateFirstReceiveTimestamp": fmt.Sprint(first.UnixMilli()),
			},
			MessageAttributes: map[string]types.MessageAttributeValue{
				"run":    {DataType: aws.String("String"), StringValue: aws.String("nightly")},
				"json":   {DataType: aws.String("String.json"), StringValue: aws.String(`{}`)},
				"n":      {DataType: aws.String("Number"), StringValue: aws.String("42")},
				"binary": {DataType: aws.String("Binary"), BinaryValue: []byte{1, 2}},
			},
		}, {
			MessageId: aws.String("mid-2"), ReceiptHandle: aws.String("rh-2"), Body: aws.String("plain"),
		}}}, nil
	}}
	q := New(f, testURL)
	msgs, err := q.Receive(context.Background(), queue.ReceiveOptions{Max: 10, Wait: 1500 * time.Millisecond, Visibility: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	want := []queue.Message{{
		ID: "mid-1", ReceiptHandle: "rh-1", Body: `{"v":1}`,
		Attributes:   map[string]string{"run": "nightly", "json": "{}", "n": "42"},
		ReceiveCount: 3, SentAt: sent, FirstReceivedAt: first,
	}, {ID: "mid-2", ReceiptHandle: "rh-2", Body: "plain"}}
	if !reflect.DeepEqual(msgs, want) {
		t.Errorf("Receive =\n%+v\nwant\n%+v", msgs, want)
	}
	in := f.receives[0]
	wantIn := &sqs.ReceiveMessageInput{
		QueueUrl:            aws.String(testURL),
		MaxNumberOfMessages: 10,
		WaitTimeSeconds:     2,
		VisibilityTimeout:   90,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{
			types.MessageSystemAttributeNameApproximateReceiveCount,
			types.MessageSystemAttributeNameSentTimestamp,
			types.MessageSystemAttributeNameApproximateFirstReceiveTimestamp,
		},
		MessageAttributeNames: []string{"All"},
	}
	if !reflect.DeepEqual(in, wantIn) {
		t.Errorf("ReceiveMessage input %+v, want %+v", in, wantIn)
	}
	if _, err := q.Receive(context.Background(), queue.ReceiveOptions{}); err != nil {
		t.Fatal(err)
	}
	if in := f.receives[1]; in.MaxNumberOfMessages != 1 || in.WaitTimeSeconds != 0 || in.VisibilityTimeout != 0 {
		t.Errorf("zero options sent as %+v, want max 1, no wait, no visibility override", in)
	}

	for _, o := range []queue.ReceiveOptions{{Max: 11}, {Max: -1}, {Wait: -1}, {Wait: 21 * time.Second}, {Visibility: -1}, {Visibility: 13 * time.Hour}} {
		if _, err := q.Receive(context.Background(), o); err == nil {
			t.Errorf("Receive(%+v): no error", o)
		} else if o.Max == 11 && !errors.Is(err, queue.ErrBatchTooLarge) {
			t.Errorf("Receive(%+v): %v, want ErrBatchTooLarge", o, err)
		}
	}
	if len(f.receives) != 2 {
		t.Errorf("invalid options reached SQS: %d calls", len(f.receives))
	}

	f.receive = func(*sqs.ReceiveMessageInput) (*sqs.ReceiveMessageOutput, error) {
		return nil, &types.QueueDoesNotExist{}
	}
	if _, err := q.Receive(context.Background(), queue.ReceiveOptions{}); !errors.Is(err, queue.ErrNoQueue) ||
		!strings.Contains(err.Error(), "receive from cronless-test-targets") {
		t.Errorf("Receive from a missing queue: %v", err)
	}
}

func TestChangeVisibilityMapsErrors(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		invalid     bool
		noQueue     bool
		wantNoError bool
	}{
		{"ok", nil, false, false, true},
		{"ReceiptHandleIsInvalid", &types.ReceiptHandleIsInvalid{Message: aws.String(`The input receipt handle "x" is not a valid receipt handle.`)}, true, false, false},
		{"MessageNotInflight", &types.MessageNotInflight{}, true, false, false},
		{"expired", &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: "Value AQEB for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired."}, true, false, false},
		{"deleted", &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: "Value AQEB for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change."}, true, false, false},
		{"query protocol", &smithy.GenericAPIError{Code: "AWS.SimpleQueueService.MessageNotInflight"}, true, false, false},
		{"visibility too long", &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: "Value 50000 for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [43200 seconds]."}, false, false, false},
		{"no queue", &types.QueueDoesNotExist{}, false, true, false},
		{"throttled", &smithy.GenericAPIError{Code: "RequestThrottled"}, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAPI{change: func(*sqs.ChangeMessageVisibilityInput) error { return tt.err }}
			q := New(f, testURL)
			err := q.ChangeVisibility(context.Background(), "rh", 1500*time.Millisecond)
			if (err == nil) != tt.wantNoError || errors.Is(err, queue.ErrReceiptInvalid) != tt.invalid || errors.Is(err, queue.ErrNoQueue) != tt.noQueue {
				t.Errorf("ChangeVisibility: %v; want invalid %v, no queue %v", err, tt.invalid, tt.noQueue)
			}
			if err != nil && !strings.Contains(err.Error(), "change visibility in cronless-test-targets") {
				t.Errorf("error %q does not name the queue", err)
			}
			want := &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(testURL), ReceiptHandle: aws.String("rh"), VisibilityTimeout: 2}
			if !reflect.DeepEqual(f.changes[0], want) {
				t.Errorf("input %+v, want %+v", f.changes[0], want)
			}
		})
	}
	f := &fakeAPI{}
	q := New(f, testURL)
	if err := q.ChangeVisibility(context.Background(), "", 0); !errors.Is(err, queue.ErrReceiptInvalid) {
		t.Errorf("empty handle: %v", err)
	}
	for _, d := range []time.Duration{-time.Second, 12*time.Hour + time.Second} {
		if err := q.ChangeVisibility(context.Background(), "rh", d); err == nil {
			t.Errorf("ChangeVisibility(%v): no error", d)
		}
	}
	if len(f.changes) != 0 {
		t.Errorf("invalid calls reached SQS")
	}
}

func TestDeleteMapsEntryFailures(t *testing.T) {
	f := &fakeAPI{del: func(call int, in *sqs.DeleteMessageBatchInput) (*sqs.DeleteMessageBatchOutput, error) {
		out := &sqs.DeleteMessageBatchOutput{}
		for _, e := range in.Entries {
			switch h := aws.ToString(e.ReceiptHandle); {
			case h == "not-a-receipt-handle":
				out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("ReceiptHandleIsInvalid"),
					Message: aws.String(`The input receipt handle "not-a-receipt-handle" is not a valid receipt handle.`), SenderFault: true})
			case h == "expired":
				out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InvalidParameterValue"),
					Message: aws.String("Value expired for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired."), SenderFault: true})
			case h == "flaky" && call == 1:
				out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), SenderFault: false})
			default:
				out.Successful = append(out.Successful, types.DeleteMessageBatchResultEntry{Id: e.Id})
			}
		}
		return out, nil
	}}
	q := New(f, testURL, fast)
	ctx := context.Background()
	if err := q.Delete(ctx, []string{"current", "expired", "flaky"}); err != nil {
		t.Errorf("Delete with an expired and a flaky handle: %v, want nil", err)
	}
	wantIn := &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(testURL), Entries: []types.DeleteMessageBatchRequestEntry{
		{Id: aws.String("0"), ReceiptHandle: aws.String("current")},
		{Id: aws.String("1"), ReceiptHandle: aws.String("expired")},
		{Id: aws.String("2"), ReceiptHandle: aws.String("flaky")},
	}}
	if len(f.deletes) != 2 || !reflect.DeepEqual(f.deletes[0], wantIn) || len(f.deletes[1].Entries) != 1 || aws.ToString(f.deletes[1].Entries[0].ReceiptHandle) != "flaky" {
		t.Errorf("DeleteMessageBatch calls %+v, want %+v then flaky alone", f.deletes, wantIn)
	}

	err := q.Delete(ctx, []string{"current", "not-a-receipt-handle"})
	if !errors.Is(err, queue.ErrReceiptInvalid) || !strings.Contains(err.Error(), "handle 1") {
		t.Errorf("Delete with a malformed handle: %v, want ErrReceiptInvalid naming handle 1", err)
	}
	for _, hs := range [][]string{nil, make([]string, 11)} {
		if err := q.Delete(ctx, hs); !errors.Is(err, queue.ErrBatchTooLarge) {
			t.Errorf("Delete of %d: %v", len(hs), err)
		}
	}
	if err := q.Delete(ctx, []string{"x", ""}); !errors.Is(err, queue.ErrReceiptInvalid) {
		t.Errorf("Delete with an empty handle: %v", err)
	}
	f.del = func(int, *sqs.DeleteMessageBatchInput) (*sqs.DeleteMessageBatchOutput, error) {
		return nil, &types.QueueDoesNotExist{}
	}
	if err := q.Delete(ctx, []string{"x"}); !errors.Is(err, queue.ErrNoQueue) {
		t.Errorf("Delete from a missing queue: %v", err)
	}
}

// TestDeleteJudgesByCode checks how Delete takes each answer SQS gives for
// a handle that is not current, by error code alone. The answers are
// AWS's, as the Amazon SQS API Reference (DeleteMessage,
// DeleteMessageBatch, BatchResultErrorEntry) and the AWS Knowledge Center
// (https://repost.aws/knowledge-center/sqs-receipt-handle-error) give
// them: an expired handle is InvalidParameterValue, a malformed one or one
// of another queue ReceiptHandleIsInvalid. The port's contract
// (queue.Queue.Delete): a handle no longer current deletes nothing and is
// not an error; a malformed one is queue.ErrReceiptInvalid.
func TestDeleteJudgesByCode(t *testing.T) {
	tests := []struct {
		name        string
		code, msg   string
		wantInvalid bool // else no error
	}{
		{"expired, as AWS words it", "InvalidParameterValue",
			"Value AQEB for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.", false},
		// The message text is not a contract: a reworded one must not turn
		// an expired handle into an error (Delete used to look for "expired").
		{"expired, worded otherwise", "InvalidParameterValue",
			"Value AQEB for parameter ReceiptHandle is invalid. Reason: The receipt handle is no longer current.", false},
		{"expired, no message", "InvalidParameterValue", "", false},
		{"malformed, as AWS and moto word it", "ReceiptHandleIsInvalid",
			`The input receipt handle "AQEB" is not a valid receipt handle.`, true},
		{"another queue's handle", "ReceiptHandleIsInvalid", `The receipt handle "AQEB" is not valid for this queue.`, true},
		{"malformed, no message", "ReceiptHandleIsInvalid", "", true},
		{"deprecated InvalidIdFormat", "InvalidIdFormat", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAPI{del: func(call int, in *sqs.DeleteMessageBatchInput) (*sqs.DeleteMessageBatchOutput, error) {
				out := &sqs.DeleteMessageBatchOutput{}
				for _, e := range in.Entries {
					if aws.ToString(e.ReceiptHandle) == "current" {
						out.Successful = append(out.Successful, types.DeleteMessageBatchResultEntry{Id: e.Id})
						continue
					}
					out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String(tt.code),
						Message: aws.String(tt.msg), SenderFault: true})
				}
				return out, nil
			}}
			err := New(f, testURL, fast).Delete(context.Background(), []string{"current", "AQEB"})
			switch {
			case tt.wantInvalid && (!errors.Is(err, queue.ErrReceiptInvalid) || !strings.Contains(err.Error(), "handle 1")):
				t.Errorf("Delete: %v, want ErrReceiptInvalid naming handle 1", err)
			case !tt.wantInvalid && err != nil:
				t.Errorf("Delete: %v, want no error (a handle no longer current deletes nothing)", err)
			}
			if len(f.deletes) != 1 {
				t.Errorf("%d DeleteMessageBatch calls, want 1: a sender fault is not retried", len(f.deletes))
			}
		})
	}
}

// TestSendOverQueueLimit checks SendBatch against a queue whose
// MaximumMessageSize is 262,144 (the old default), answering as AWS does
// (the entry over it fails alone, InvalidParameterValue with SenderFault:
// Amazon SQS API Reference, SendMessageBatch, "the result of sending each
// message is reported individually") and as moto 5.2.1 does (the whole
// request refused with that code). Either way the other entries are sent,
// and the one over the limit fails alone, not retried, with an error that
// says what to change.
func TestSendOverQueueLimit(t *testing.T) {
	const limit = OldMaxMessageSize
	refusal := "One or more parameters are invalid. Reason: Message must be shorter than 262144 bytes."
	tooBig := func(e types.SendMessageBatchRequestEntry) bool { return len(aws.ToString(e.MessageBody)) > limit }
	tests := []struct {
		name         string
		answer       func(in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error)
		wantRequests [][]string
	}{
		{"AWS fails the entry", func(in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
			fail := map[string]types.BatchResultErrorEntry{}
			for _, e := range in.Entries {
				if tooBig(e) {
					fail[aws.ToString(e.Id)] = entryErr("InvalidParameterValue", refusal, true)
				}
			}
			return failSome(in, fail), nil
		}, [][]string{{"a", "big", "c"}}},
		{"moto refuses the request", func(in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
			if slices.ContainsFunc(in.Entries, tooBig) {
				return nil, &smithy.GenericAPIError{Code: "InvalidParameterValue", Message: refusal, Fault: smithy.FaultClient}
			}
			return acceptAll(in), nil
		}, [][]string{{"a", "big", "c"}, {"a"}, {"big"}, {"c"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAPI{send: func(_ int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) { return tt.answer(in) }}
			q := New(f, testURL, fast)
			big := queue.Outgoing{ID: "big", Body: strings.Repeat("r", 300<<10), Attributes: map[string]string{"run": "r1"}}
			err := q.SendBatch(context.Background(), []queue.Outgoing{{ID: "a", Body: "1"}, big, {ID: "c", Body: "3"}})
			checkOverQueueLimit(t, err, "cronless-test-targets", queue.MessageSize(big))
			var be *queue.BatchError
			if !errors.As(err, &be) || len(be.Failed) != 1 || be.Failed[0].ID != "big" || !be.Failed[0].SenderFault {
				t.Errorf("SendBatch: %v, want a BatchError naming big alone, a sender fault", err)
			}
			if got := f.sentIDs(); !reflect.DeepEqual(got, tt.wantRequests) {
				t.Errorf("requests %v, want %v (big never retried)", got, tt.wantRequests)
			}
		})
	}
	t.Run("alone", func(t *testing.T) {
		f := &fakeAPI{send: func(_ int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
			return tests[1].answer(in)
		}}
		err := New(f, testURL, fast).SendBatch(context.Background(), []queue.Outgoing{{ID: "big", Body: strings.Repeat("r", limit+1)}})
		checkOverQueueLimit(t, err, "cronless-test-targets", limit+1)
		if _, partial := queue.FailedIDs(err); partial {
			t.Errorf("SendBatch: %v, want the request's error, as moto answers it", err)
		}
	})
	t.Run("small message refused", func(t *testing.T) {
		// A message SQS's limit allows in any queue is refused for
		// something else: not reported as over the queue's limit.
		f := &fakeAPI{send: func(_ int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
			return failSome(in, map[string]types.BatchResultErrorEntry{"a": entryErr("InvalidParameterValue", "something else", true)}), nil
		}}
		err := New(f, testURL, fast).SendBatch(context.Background(), []queue.Outgoing{{ID: "a", Body: strings.Repeat("s", limit)}})
		if err == nil || errors.Is(err, ErrQueueMessageSize) {
			t.Errorf("SendBatch: %v, want an error that is not ErrQueueMessageSize", err)
		}
	})
}

// checkOverQueueLimit checks that err says a message of size bytes was
// over the MaximumMessageSize of the queue name, and how to fix it.
func checkOverQueueLimit(t *testing.T, err error, name string, size int) {
	t.Helper()
	if !errors.Is(err, ErrQueueMessageSize) {
		t.Fatalf("SendBatch: %v, want ErrQueueMessageSize", err)
	}
	for _, want := range []string{"queue " + name, fmt.Sprintf("%d bytes", size), "MaximumMessageSize to 1048576", "serverless.yml"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestDepth(t *testing.T) {
	f := &fakeAPI{attrs: func(in *sqs.GetQueueAttributesInput) (map[string]string, error) {
		return map[string]string{"ApproximateNumberOfMessages": "5", "ApproximateNumberOfMessagesNotVisible": "2", "ApproximateNumberOfMessagesDelayed": "1"}, nil
	}}
	d, err := New(f, testURL).Depth(context.Background())
	if err != nil || d != (queue.Depth{Visible: 5, InFlight: 2, Delayed: 1}) {
		t.Errorf("Depth = %+v, %v", d, err)
	}
	want := []types.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"}
	if !slices.Equal(f.getAttrs[0].AttributeNames, want) || aws.ToString(f.getAttrs[0].QueueUrl) != testURL {
		t.Errorf("GetQueueAttributes input %+v", f.getAttrs[0])
	}
}

func TestNameAndARN(t *testing.T) {
	tests := []struct{ url, name, arn string }{
		{"https://sqs.us-east-1.amazonaws.com/123456789012/cronless-dev-targets", "cronless-dev-targets", "arn:aws:sqs:us-east-1:123456789012:cronless-dev-targets"},
		{"https://sqs.eu-central-2.amazonaws.com/123456789012/q/", "q", "arn:aws:sqs:eu-central-2:123456789012:q"},
		{"https://sqs-fips.us-gov-west-1.amazonaws.com/123456789012/q", "q", "arn:aws-us-gov:sqs:us-gov-west-1:123456789012:q"},
		{"https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q", "q", "arn:aws-cn:sqs:cn-north-1:123456789012:q"},
		{"https://sqs.ap-southeast-4.api.aws/123456789012/q", "q", "arn:aws:sqs:ap-southeast-4:123456789012:q"},
		{"https://vpce-0a1b2c3d-abcdefgh.sqs.us-west-2.vpce.amazonaws.com/123456789012/q", "q", "arn:aws:sqs:us-west-2:123456789012:q"},
		{"https://queue.amazonaws.com/123456789012/legacy", "legacy", "arn:aws:sqs:us-east-1:123456789012:legacy"},
		{"https://eu-west-1.queue.amazonaws.com/123456789012/legacy", "legacy", "arn:aws:sqs:eu-west-1:123456789012:legacy"},
		{"http://sqs.us-east-1.127.0.0.1:4566/000000000000/local", "local", ""},
		{"http://localhost:9324/queue/local", "local", ""},
		{"https://sqs.us-east-1.amazonaws.com/not-an-account/q", "q", ""},
	}
	for _, tt := range tests {
		f := &fakeAPI{attrs: func(in *sqs.GetQueueAttributesInput) (map[string]string, error) {
			return map[string]string{"QueueArn": "arn:aws:sqs:us-east-1:000000000000:fetched"}, nil
		}}
		q := New(f, tt.url)
		if q.Name() != tt.name {
			t.Errorf("Name of %s = %q, want %q", tt.url, q.Name(), tt.name)
		}
		want := tt.arn
		if want == "" {
			want = "arn:aws:sqs:us-east-1:000000000000:fetched"
		}
		for range 2 {
			if got := q.ARN(); got != want {
				t.Errorf("ARN of %s = %q, want %q", tt.url, got, want)
			}
		}
		fetched := 0
		if tt.arn == "" {
			fetched = 1
		}
		if len(f.getAttrs) != fetched {
			t.Errorf("ARN of %s: %d GetQueueAttributes calls, want %d", tt.url, len(f.getAttrs), fetched)
		}
	}

	// WithARN skips the fetch; a failed fetch is not cached.
	f := &fakeAPI{}
	if arn := New(f, "http://127.0.0.1:1/000000000000/q", WithARN("arn:aws:sqs:us-east-1:000000000000:q")).ARN(); arn != "arn:aws:sqs:us-east-1:000000000000:q" || len(f.getAttrs) != 0 {
		t.Errorf("WithARN: %q after %d calls", arn, len(f.getAttrs))
	}
	q := New(f, "http://127.0.0.1:1/000000000000/q")
	if _, err := q.ResolveARN(context.Background()); err == nil || q.ARN() != "" || len(f.getAttrs) != 2 {
		t.Errorf("failed fetch: %v, %q, %d calls", err, q.ARN(), len(f.getAttrs))
	}

	// A URL without a queue name: every call fails, nothing panics.
	for _, bad := range []string{"", "://", "https://sqs.us-east-1.amazonaws.com/", "ftp://x/y"} {
		f := &fakeAPI{}
		q := New(f, bad)
		ctx := context.Background()
		errs := []error{
			q.SendBatch(ctx, []queue.Outgoing{{ID: "a", Body: "x"}}),
			q.Delete(ctx, []string{"h"}),
			q.ChangeVisibility(ctx, "h", 0),
		}
		_, err := q.Receive(ctx, queue.ReceiveOptions{})
		errs = append(errs, err)
		_, err = q.Depth(ctx)
		errs = append(errs, err)
		_, err = q.ResolveARN(ctx)
		errs = append(errs, err)
		for i, err := range errs {
			if err == nil {
				t.Errorf("URL %q: call %d: no error", bad, i)
			}
		}
		if q.ARN() != "" || len(f.sends)+len(f.deletes)+len(f.changes)+len(f.receives)+len(f.getAttrs) != 0 {
			t.Errorf("URL %q: calls reached SQS", bad)
		}
	}
}

// A Queue is the dlq package's Mover as it is: the move tasks are the port's
// queue.MoveTask, so no adapter in between copies them.
var _ dlq.Mover = (*Queue)(nil)

func TestMoves(t *testing.T) {
	const dlqURL = "https://sqs.us-east-1.amazonaws.com/123456789012/cronless-dev-targets-dlq"
	const dlqARN = "arn:aws:sqs:us-east-1:123456789012:cronless-dev-targets-dlq"
	const targetsARN = "arn:aws:sqs:us-east-1:123456789012:cronless-dev-targets"
	ctx := context.Background()
	m := &fakeMoves{}
	q := New(&fakeAPI{}, dlqURL, WithMoveAPI(m))

	handle, err := q.StartMove(ctx, targetsARN, 100)
	if err != nil || handle != "task-1" {
		t.Fatalf("StartMove = %q, %v", handle, err)
	}
	if _, err := q.StartMove(ctx, "", 0); err != nil {
		t.Fatal(err)
	}
	wantStarts := []*sqs.StartMessageMoveTaskInput{
		{SourceArn: aws.String(dlqARN), DestinationArn: aws.String(targetsARN), MaxNumberOfMessagesPerSecond: aws.Int32(100)},
		{SourceArn: aws.String(dlqARN)},
	}
	if !reflect.DeepEqual(m.starts, wantStarts) {
		t.Errorf("StartMessageMoveTask inputs %+v, want %+v", m.starts, wantStarts)
	}
	for _, rate := range []int{-1, 501} {
		if _, err := q.StartMove(ctx, "", rate); err == nil {
			t.Errorf("StartMove at %d a second: no error", rate)
		}
	}
	if len(m.starts) != 2 {
		t.Errorf("invalid rates reached SQS")
	}

	started := time.UnixMilli(1_767_225_600_000)
	m.list = []types.ListMessageMoveTasksResultEntry{{
		TaskHandle: aws.String("task-1"), Status: aws.String("RUNNING"), SourceArn: aws.String(dlqARN),
		DestinationArn: aws.String(targetsARN), MaxNumberOfMessagesPerSecond: aws.Int32(100),
		ApproximateNumberOfMessagesMoved: 7, ApproximateNumberOfMessagesToMove: aws.Int64(30), StartedTimestamp: started.UnixMilli(),
	}, {
		Status: aws.String("FAILED"), SourceArn: aws.String(dlqARN), FailureReason: aws.String("AWS.SimpleQueueService.NonExistentQueue"),
		ApproximateNumberOfMessagesMoved: 0, StartedTimestamp: started.Add(-time.Hour).UnixMilli(),
	}}
	tasks, err := q.ListMoves(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantTasks := []queue.MoveTask{
		{Handle: "task-1", Status: "RUNNING", SourceARN: dlqARN, DestinationARN: targetsARN, MaxPerSecond: 100, Moved: 7, ToMove: 30, StartedAt: started},
		{Status: "FAILED", SourceARN: dlqARN, ToMove: -1, FailureReason: "AWS.SimpleQueueService.NonExistentQueue", StartedAt: started.Add(-time.Hour)},
	}
	if !reflect.DeepEqual(tasks, wantTasks) {
		t.Errorf("ListMoves =\n%+v\nwant\n%+v", tasks, wantTasks)
	}
	if want := []*sqs.ListMessageMoveTasksInput{{SourceArn: aws.String(dlqARN), MaxResults: aws.Int32(10)}}; !reflect.DeepEqual(m.lists, want) {
		t.Errorf("ListMessageMoveTasks inputs %+v, want %+v", m.lists, want)
	}

	moved, err := q.CancelMove(ctx, "task-1")
	if err != nil || moved != 42 {
		t.Errorf("CancelMove = %d, %v", moved, err)
	}
	if want := []*sqs.CancelMessageMoveTaskInput{{TaskHandle: aws.String("task-1")}}; !reflect.DeepEqual(m.cancels, want) {
		t.Errorf("CancelMessageMoveTask inputs %+v, want %+v", m.cancels, want)
	}
	if _, err := q.CancelMove(ctx, ""); err == nil || len(m.cancels) != 1 {
		t.Errorf("CancelMove with no handle: %v", err)
	}

	m.err = &types.ResourceNotFoundException{Message: aws.String("task not found")}
	if _, err := q.CancelMove(ctx, "gone"); err == nil || !strings.Contains(err.Error(), "cancel move of cronless-dev-targets-dlq") {
		t.Errorf("CancelMove of a missing task: %v", err)
	}

	// Without a MoveAPI.
	bare := New(&fakeAPI{}, dlqURL)
	if _, err := bare.StartMove(ctx, "", 0); !errors.Is(err, ErrMovesUnsupported) {
		t.Errorf("StartMove without MoveAPI: %v", err)
	}
	if _, err := bare.ListMoves(ctx); !errors.Is(err, ErrMovesUnsupported) {
		t.Errorf("ListMoves without MoveAPI: %v", err)
	}
	if _, err := bare.CancelMove(ctx, "t"); !errors.Is(err, ErrMovesUnsupported) {
		t.Errorf("CancelMove without MoveAPI: %v", err)
	}
	// A client that implements both is used for both.
	both := &struct {
		*fakeAPI
		*fakeMoves
	}{&fakeAPI{}, &fakeMoves{}}
	if _, err := New(both, dlqURL).StartMove(ctx, "", 0); err != nil || len(both.fakeMoves.starts) != 1 {
		t.Errorf("StartMove with a client implementing MoveAPI: %v", err)
	}
}
