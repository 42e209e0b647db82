package sqsevent_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"go.uber.org/zap"

	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/sqsevent"
)

func TestReceiveCount(t *testing.T) {
	tests := []struct {
		name  string
		attrs map[string]string
		want  int
	}{
		{"no attributes", nil, 1},
		{"attribute missing", map[string]string{"SentTimestamp": "1795770000123"}, 1},
		{"empty", map[string]string{"ApproximateReceiveCount": ""}, 1},
		{"garbage", map[string]string{"ApproximateReceiveCount": "many"}, 1},
		{"not an integer", map[string]string{"ApproximateReceiveCount": "2.5"}, 1},
		{"padded", map[string]string{"ApproximateReceiveCount": " 3"}, 1},
		{"zero", map[string]string{"ApproximateReceiveCount": "0"}, 1},
		{"negative", map[string]string{"ApproximateReceiveCount": "-4"}, 1},
		{"first receive", map[string]string{"ApproximateReceiveCount": "1"}, 1},
		{"second receive", map[string]string{"ApproximateReceiveCount": "2"}, 2},
		{"many receives", map[string]string{"ApproximateReceiveCount": "17"}, 17},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sqsevent.ReceiveCount(events.SQSMessage{MessageId: "m", Attributes: tt.attrs})
			if got != tt.want {
				t.Errorf("ReceiveCount(%v) = %d, want %d", tt.attrs, got, tt.want)
			}
		})
	}
}

func batch(ids ...string) events.SQSEvent {
	var ev events.SQSEvent
	for _, id := range ids {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: id})
	}
	return ev
}

func failureIDs(resp events.SQSEventResponse) []string {
	out := []string{}
	for _, f := range resp.BatchItemFailures {
		out = append(out, f.ItemIdentifier)
	}
	return out
}

func TestFailuresResponse(t *testing.T) {
	tests := []struct {
		name     string
		batch    []string
		add      []string // in this order
		want     []string // in batch order
		wantJSON string
	}{
		{
			name: "none failed", batch: []string{"a", "b", "c"},
			want: []string{}, wantJSON: `{"batchItemFailures":[]}`,
		},
		{
			name: "empty batch", batch: nil,
			want: []string{}, wantJSON: `{"batchItemFailures":[]}`,
		},
		{
			name: "batch order, not the order added", batch: []string{"a", "b", "c", "d"}, add: []string{"d", "b"},
			want: []string{"b", "d"}, wantJSON: `{"batchItemFailures":[{"itemIdentifier":"b"},{"itemIdentifier":"d"}]}`,
		},
		{
			name: "added twice is listed once", batch: []string{"a", "b"}, add: []string{"a", "a"},
			want: []string{"a"}, wantJSON: `{"batchItemFailures":[{"itemIdentifier":"a"}]}`,
		},
		{
			name: "an ID not in the batch is not listed", batch: []string{"a", "b"}, add: []string{"zz", "b"},
			want: []string{"b"}, wantJSON: `{"batchItemFailures":[{"itemIdentifier":"b"}]}`,
		},
		{
			name: "all failed", batch: []string{"c", "a", "b"}, add: []string{"a", "b", "c"},
			want: []string{"c", "a", "b"}, wantJSON: `{"batchItemFailures":[{"itemIdentifier":"c"},{"itemIdentifier":"a"},{"itemIdentifier":"b"}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f sqsevent.Failures
			for _, id := range tt.add {
				f.Add(id)
			}
			resp := f.Response(batch(tt.batch...))
			if resp.BatchItemFailures == nil {
				t.Fatal("BatchItemFailures is nil; Lambda needs an empty list, not null")
			}
			if got := failureIDs(resp); !slices.Equal(got, tt.want) {
				t.Errorf("failures = %q, want %q", got, tt.want)
			}
			b, err := json.Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.wantJSON {
				t.Errorf("JSON = %s, want %s", b, tt.wantJSON)
			}
		})
	}
}

func TestFailuresHas(t *testing.T) {
	var f sqsevent.Failures
	if f.Has("a") {
		t.Error("zero Failures has a")
	}
	f.Add("a")
	if !f.Has("a") {
		t.Error("Has(a) = false after Add(a)")
	}
	if f.Has("b") {
		t.Error("Has(b) = true, b was never added")
	}
}

func str(s string) *string { return &s }

func TestStringAttributes(t *testing.T) {
	tests := []struct {
		name  string
		attrs map[string]events.SQSMessageAttribute
		want  map[string]string
	}{
		{"none", nil, nil},
		{"empty", map[string]events.SQSMessageAttribute{}, nil},
		{
			name: "strings",
			attrs: map[string]events.SQSMessageAttribute{
				"run_id":    {DataType: "String", StringValue: str("hourly-20261127T090000Z")},
				"target_id": {DataType: "String", StringValue: str("example")},
			},
			want: map[string]string{"run_id": "hourly-20261127T090000Z", "target_id": "example"},
		},
		{
			name: "numbers keep their text; binaries are left out",
			attrs: map[string]events.SQSMessageAttribute{
				"n":   {DataType: "Number", StringValue: str("42")},
				"bin": {DataType: "Binary", BinaryValue: []byte{1, 2}},
			},
			want: map[string]string{"n": "42"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sqsevent.StringAttributes(events.SQSMessage{MessageAttributes: tt.attrs})
			if (got == nil) != (tt.want == nil) || !maps.Equal(got, tt.want) {
				t.Errorf("StringAttributes = %#v, want %#v", got, tt.want)
			}
		})
	}
}

// fakeSender records what is sent and fails when err is set.
type fakeSender struct {
	calls [][]queue.Outgoing
	err   error
}

func (s *fakeSender) SendBatch(_ context.Context, msgs []queue.Outgoing) error {
	s.calls = append(s.calls, slices.Clone(msgs))
	return s.err
}

func badRecord() events.SQSMessage {
	return events.SQSMessage{
		MessageId:      "m-1",
		ReceiptHandle:  "rh-1",
		Body:           `{"v":2}`,
		EventSourceARN: "arn:aws:sqs:us-east-1:123456789012:cronless-dev-targets",
		MessageAttributes: map[string]events.SQSMessageAttribute{
			"run_id":    {DataType: "String", StringValue: str("hourly-20261127T090000Z")},
			"target_id": {DataType: "String", StringValue: str("example")},
		},
	}
}

func TestDeadLetter(t *testing.T) {
	cause := errors.New("invalid message: job: version 2 is not supported")

	t.Run("sent with the reason", func(t *testing.T) {
		dlq := &fakeSender{}
		rec := badRecord()
		if !sqsevent.DeadLetter(context.Background(), dlq, rec, cause, zap.NewNop()) {
			t.Fatal("DeadLetter = false, want true")
		}
		if len(dlq.calls) != 1 || len(dlq.calls[0]) != 1 {
			t.Fatalf("sent %v, want one batch of one message", dlq.calls)
		}
		m := dlq.calls[0][0]
		if m.Body != rec.Body {
			t.Errorf("body = %q, want the original %q", m.Body, rec.Body)
		}
		want := map[string]string{
			"run_id":                       "hourly-20261127T090000Z",
			"target_id":                    "example",
			sqsevent.AttrErrorKind:         sqsevent.KindBadMessage,
			sqsevent.AttrErrorMessage:      cause.Error(),
			sqsevent.AttrOriginalMessageID: "m-1",
			sqsevent.AttrSourceQueue:       rec.EventSourceARN,
		}
		if !maps.Equal(m.Attributes, want) {
			t.Errorf("attributes = %v, want %v", m.Attributes, want)
		}
		if len(rec.MessageAttributes) != 2 {
			t.Errorf("the record's own attributes were changed: %v", rec.MessageAttributes)
		}
	})

	t.Run("record without attributes", func(t *testing.T) {
		dlq := &fakeSender{}
		rec := badRecord()
		rec.MessageAttributes = nil
		if !sqsevent.DeadLetter(context.Background(), dlq, rec, cause, zap.NewNop()) {
			t.Fatal("DeadLetter = false, want true")
		}
		if got := dlq.calls[0][0].Attributes[sqsevent.AttrErrorKind]; got != sqsevent.KindBadMessage {
			t.Errorf("error_kind = %q", got)
		}
	})

	t.Run("long reason is cut to 1024 bytes of valid UTF-8, marked as cut", func(t *testing.T) {
		for _, filler := range []string{"x", "é", "日本", "🙂"} {
			dlq := &fakeSender{}
			long := errors.New("a" + strings.Repeat(filler, 2000))
			if !sqsevent.DeadLetter(context.Background(), dlq, badRecord(), long, zap.NewNop()) {
				t.Fatal("DeadLetter = false, want true")
			}
			msg := dlq.calls[0][0].Attributes[sqsevent.AttrErrorMessage]
			if len(msg) > 1024 || len(msg) < 1020 {
				t.Errorf("filler %q: error_message is %d bytes, want just under or at 1024", filler, len(msg))
			}
			if !utf8.ValidString(msg) {
				t.Errorf("filler %q: error_message is not valid UTF-8 (cut inside a character)", filler)
			}
			kept, marker, found := strings.Cut(msg, " … [cut: ")
			if !found || !strings.HasPrefix(long.Error(), kept) || marker != fmt.Sprintf("%d bytes in all]", len(long.Error())) {
				t.Errorf("filler %q: error_message %q… is not the cause's start and the cut marker", filler, msg[:20])
			}
		}
	})

	t.Run("no DLQ", func(t *testing.T) {
		if sqsevent.DeadLetter(context.Background(), nil, badRecord(), cause, zap.NewNop()) {
			t.Error("DeadLetter with no DLQ = true, want false")
		}
	})

	t.Run("DLQ send fails", func(t *testing.T) {
		dlq := &fakeSender{err: errors.New("throttled")}
		if sqsevent.DeadLetter(context.Background(), dlq, badRecord(), cause, zap.NewNop()) {
			t.Error("DeadLetter = true although the send failed")
		}
		if len(dlq.calls) != 1 {
			t.Errorf("send attempts = %d, want 1", len(dlq.calls))
		}
	})

	t.Run("DLQ send partly fails", func(t *testing.T) {
		dlq := &fakeSender{err: &queue.BatchError{Failed: []queue.EntryError{{ID: "dead-letter", Err: errors.New("too big")}}}}
		if sqsevent.DeadLetter(context.Background(), dlq, badRecord(), cause, zap.NewNop()) {
			t.Error("DeadLetter = true although its one entry was not sent")
		}
	})
}
