// Package queuetest is the contract suite of the queue port: what every
// queue.Queue adapter (localq, sqsq) must do, as the local runtime, the
// handlers and the DLQ commands rely on it. An adapter's test calls Run
// with a function that makes fresh queues:
//
//	func TestContract(t *testing.T) {
//		queuetest.Run(t, func(t *testing.T, s queuetest.Setup) (q, dlq queue.Queue) {
//			... create two new, empty queues configured by s ...
//		})
//	}
//
// A stand-in for SQS that lacks a behaviour SQS documents is run with
// Unsupported(check, reason), which logs the gap instead of checking it.
//
// Durations in the suite are whole seconds (SQS knows no other) and short,
// and its subtests run in parallel, so the whole suite takes a few seconds.
package queuetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/queue"
)

// Setup configures the queues of one test.
type Setup struct {
	// VisibilityTimeout is the main queue's visibility timeout, a whole
	// number of seconds.
	VisibilityTimeout time.Duration
	// MaxReceiveCount is the main queue's redrive policy: after this many
	// receives a message moves to the dead-letter queue. Zero: no redrive.
	MaxReceiveCount int
}

// NewQueues returns two new, empty queues for one test: q, configured by s,
// and dlq, q's dead-letter queue when s.MaxReceiveCount > 0 and otherwise a
// second independent queue. It may be called from parallel tests; it should
// fail t rather than return nil queues, and clean up with t.Cleanup.
type NewQueues func(t *testing.T, s Setup) (q, dlq queue.Queue)

// Check names one behaviour the suite checks that SQS documents but a
// stand-in for SQS may lack.
type Check string

// DeleteRejectsMalformedHandle: deleting with a receipt handle the queue
// never issued ("not-a-receipt-handle") fails with queue.ErrReceiptInvalid
// (SQS answers ReceiptHandleIsInvalid). fauxqs accepts any handle.
const DeleteRejectsMalformedHandle Check = "delete rejects a malformed receipt handle"

// BodyAllowsSupplementaryCharacters: a message body may hold characters
// beyond the Basic Multilingual Plane (#x10000 to #x10FFFF), such as emoji,
// as SQS documents. fauxqs refuses them in bodies (InvalidMessageContents),
// though not in attribute values.
const BodyAllowsSupplementaryCharacters Check = "message bodies allow characters beyond the BMP"

// Option adjusts Run.
type Option func(*options)

type options struct {
	unsupported map[Check]string
}

// Unsupported tells Run that the server under test lacks the documented
// behaviour check, for reason: the suite logs it instead of checking it.
// Use it only for a stand-in's known gap, never for an adapter's, and cover
// the adapter's side of that behaviour with a unit test.
func Unsupported(check Check, reason string) Option {
	return func(o *options) { o.unsupported[check] = reason }
}

// skipped reports whether check is unsupported, logging why.
func (o *options) skipped(t *testing.T, check Check) bool {
	t.Helper()
	reason, ok := o.unsupported[check]
	if ok {
		t.Logf("not checked: %s (%s)", check, reason)
	}
	return ok
}

// Run runs the contract suite against the queues newQueues makes, each case
// as a parallel subtest of t.
func Run(t *testing.T, newQueues NewQueues, opts ...Option) {
	t.Helper()
	o := &options{unsupported: make(map[Check]string)}
	for _, opt := range opts {
		opt(o)
	}
	cases := []struct {
		name string
		test func(t *testing.T, newQueues NewQueues)
	}{
		{"RoundTrip", func(t *testing.T, nq NewQueues) { testRoundTrip(t, nq, o) }},
		{"NameAndARN", testNameAndARN},
		{"BatchLimits", testBatchLimits},
		{"OversizedEntry", testOversizedEntry},
		{"Visibility", testVisibility},
		{"ChangeVisibility", testChangeVisibility},
		{"InvalidReceipts", func(t *testing.T, nq NewQueues) { testInvalidReceipts(t, nq, o) }},
		{"Redrive", testRedrive},
		{"NoDoubleDelivery", testNoDoubleDelivery},
		{"LongPolling", testLongPolling},
		{"DepthAndDelay", testDepthAndDelay},
		{"QueuesDoNotMix", testQueuesDoNotMix},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.test(t, newQueues)
		})
	}
}

// oneSecond is the shortest visibility timeout SQS allows but zero.
const oneSecond = time.Second

func testRoundTrip(t *testing.T, newQueues NewQueues, o *options) {
	q, _ := newQueues(t, Setup{VisibilityTimeout: 30 * time.Second})
	ctx := context.Background()
	tenAttrs := make(map[string]string)
	for i := range 10 {
		tenAttrs[fmt.Sprintf("attr-%d_x.y", i)] = fmt.Sprintf("value %d: ünïcødé 🚀 <&>\"'", i)
	}
	rocket := "🚀" // U+1F680, beyond the BMP
	if o.skipped(t, BodyAllowsSupplementaryCharacters) {
		rocket = "☃"
	}
	want := []queue.Outgoing{
		{ID: "unicode", Body: "  héllo, 世界 " + rocket + "\ttabs\r\nand newlines\n{\"json\": [1, 2]} <xml/> &amp;  "},
		{ID: "no-attrs", Body: "x", Attributes: map[string]string{}},
		{ID: "ten-attrs", Body: "with attributes", Attributes: tenAttrs},
		{ID: "one-attr", Body: strings.Repeat("long body ", 10_000), Attributes: map[string]string{"run_id": "nightly@2025-01-01T00:00:00Z"}},
	}
	before := time.Now()
	if err := q.SendBatch(ctx, want); err != nil {
		t.Fatalf("SendBatch: %v", err)
	}
	got := receiveN(t, q, len(want), 10*time.Second)
	byBody := make(map[string]queue.Message)
	ids := make(map[string]bool)
	for _, m := range got {
		byBody[m.Body] = m
		if m.ID == "" || m.ReceiptHandle == "" {
			t.Errorf("message %q: empty ID %q or receipt handle %q", short(m.Body), m.ID, m.ReceiptHandle)
		}
		if ids[m.ID] {
			t.Errorf("message ID %s given twice", m.ID)
		}
		ids[m.ID] = true
	}
	for _, w := range want {
		m, ok := byBody[w.Body]
		if !ok {
			t.Errorf("entry %s: body not received exactly", w.ID)
			continue
		}
		if !sameAttributes(m.Attributes, w.Attributes) {
			t.Errorf("entry %s: attributes %v, want %v", w.ID, m.Attributes, w.Attributes)
		}
		if m.ReceiveCount != 1 {
			t.Errorf("entry %s: ReceiveCount %d, want 1", w.ID, m.ReceiveCount)
		}
		if m.SentAt.Before(before.Add(-time.Minute)) || m.SentAt.After(time.Now().Add(time.Minute)) {
			t.Errorf("entry %s: SentAt %v, not about now", w.ID, m.SentAt)
		}
		if m.FirstReceivedAt.IsZero() || m.FirstReceivedAt.Before(m.SentAt.Add(-time.Second)) {
			t.Errorf("entry %s: FirstReceivedAt %v, SentAt %v", w.ID, m.FirstReceivedAt, m.SentAt)
		}
	}
	deleteAll(t, q, got)
	expectDepth(t, q, queue.Depth{})
	expectNothing(t, q, 0)
}

func testNameAndARN(t *testing.T, newQueues NewQueues) {
	q, dlq := newQueues(t, Setup{VisibilityTimeout: 30 * time.Second})
	for _, x := range []queue.Queue{q, dlq} {
		if x.Name() == "" {
			t.Errorf("empty queue name")
		}
		if !strings.HasPrefix(x.ARN(), "arn:aws:sqs:") || !strings.HasSuffix(x.ARN(), ":"+x.Name()) {
			t.Errorf("ARN %q of queue %q: want arn:aws:sqs:<region>:<account>:<name>", x.ARN(), x.Name())
		}
	}
	if q.Name() == dlq.Name() {
		t.Errorf("two queues named %q", q.Name())
	}
}

func testBatchLimits(t *testing.T, newQueues NewQueues) {
	q, _ := newQueues(t, Setup{VisibilityTimeout: 30 * time.Second})
	ctx := context.Background()
	handles := func(n int) []string {
		hs := make([]string, n)
		for i := range hs {
			hs[i] = fmt.Sprintf("handle-%d", i)
		}
		return hs
	}
	tests := []struct {
		name string
		call func() error
	}{
		{"send 0", func() error { return q.SendBatch(ctx, nil) }},
		{"send 11", func() error { return q.SendBatch(ctx, outgoing("m", 11)) }},
		{"receive 11", func() error { _, err := q.Receive(ctx, queue.ReceiveOptions{Max: 11}); return err }},
		{"delete 0", func() error { return q.Delete(ctx, nil) }},
		{"delete 11", func() error { return q.Delete(ctx, handles(11)) }},
	}
	for _, tt := range tests {
		if err := tt.call(); !errors.Is(err, queue.ErrBatchTooLarge) {
			t.Errorf("%s: error %v, want ErrBatchTooLarge", tt.name, err)
		}
	}
	dup := []queue.Outgoing{{ID: "same", Body: "a"}, {ID: "same", Body: "b"}}
	if err := q.SendBatch(ctx, dup); err == nil {
		t.Errorf("send with duplicate entry IDs: no error")
	} else if _, ok := queue.FailedIDs(err); ok {
		t.Errorf("send with duplicate entry IDs: %v, want the whole batch rejected, not a BatchError", err)
	}
	// A full batch is fine.
	if err := q.SendBatch(ctx, outgoing("full", 10)); err != nil {
		t.Fatalf("send 10: %v", err)
	}
	got := receiveN(t, q, 10, 10*time.Second)
	for _, m := range got {
		if !strings.HasPrefix(m.Body, "full-") {
			t.Errorf("received %q from a rejected batch", m.Body)
		}
	}
}

func testOversizedEntry(t *testing.T, newQueues NewQueues) {
	q, _ := newQueues(t, Setup{VisibilityTimeout: 30 * time.Second})
	ctx := context.Background()
	const maxSize = 1 << 20
	msgs := []queue.Outgoing{
		{ID: "small", Body: "small"},
		{ID: "huge", Body: strings.Repeat("x", maxSize+1)},
		{ID: "at-limit", Body: strings.Repeat("y", maxSize-64)},
	}
	err := q.SendBatch(ctx, msgs)
	var be *queue.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("SendBatch with an oversized entry: error %v, want a *queue.BatchError", err)
	}
	if len(be.Failed) != 1 || be.Failed[0].ID != "huge" || !be.Failed[0].SenderFault || be.Failed[0].Err == nil {
		t.Errorf("failed entries %+v, want only huge, with SenderFault and an error", be.Failed)
	}
	got := receiveN(t, q, 2, 10*time.Second)
	for _, m := range got {
		if m.Body != msgs[0].Body && m.Body != msgs[2].Body {
			t.Errorf("received unexpected body %q", short(m.Body))
		}
	}
}

func testDepthAndDelay(t *testing.T, newQueues NewQueues) {
	const delay = 2 * time.Second
	q, _ := newQueues(t, Setup{VisibilityTimeout: 30 * time.Second})
	ctx := context.Background()
	expectDepth(t, q, queue.Depth{})
	sentAt := time.Now()
	msgs := append(outgoing("now", 3), queue.Outgoing{ID: "late", Body: "late", Delay: delay})
	if err := q.SendBatch(ctx, msgs); err != nil {
		t.Fatalf("SendBatch: %v", err)
	}
	expectDepth(t, q, queue.Depth{Visible: 3, Delayed: 1})

	got, err := q.Receive(ctx, queue.ReceiveOptions{Max: 2})
	if err != nil || len(got) == 0 {
		t.Fatalf("Receive: %d messages, error %v", len(got), err)
	}
	got = append(got, receiveN(t, q, 3-len(got), 10*time.Second)...)
	for _, m := range got {
		if m.Body == "late" {
			t.Fatalf("delayed message received after %v, delay %v", time.Since(sentAt), delay)
		}
	}
	expectDepth(t, q, queue.Depth{InFlight: 3, Delayed: 1})

	late := receiveN(t, q, 1, delay+10*time.Second)[0]
	if late.Body != "late" {
		t.Fatalf("received %q, want the delayed message", late.Body)
	}
	if elapsed := time.Since(sentAt); elapsed < delay-500*time.Millisecond {
		t.Errorf("delayed message received %v after sending, delay %v", elapsed, delay)
	}
	expectDepth(t, q, queue.Depth{InFlight: 4})
	deleteAll(t, q, append(got, late))
	expectDepth(t, q, queue.Depth{})
}

func testQueuesDoNotMix(t *testing.T, newQueues NewQueues) {
	q1, q2 := newQueues(t, Setup{VisibilityTimeout: 30 * time.Second})
	ctx := context.Background()
	if err := q1.SendBatch(ctx, outgoing("one", 5)); err != nil {
		t.Fatalf("SendBatch: %v", err)
	}
	if err := q2.SendBatch(ctx, outgoing("two", 3)); err != nil {
		t.Fatalf("SendBatch: %v", err)
	}
	expectDepth(t, q1, queue.Depth{Visible: 5})
	expectDepth(t, q2, queue.Depth{Visible: 3})
	for _, c := range []struct {
		q      queue.Queue
		n      int
		prefix string
	}{{q1, 5, "one-"}, {q2, 3, "two-"}} {
		got := receiveN(t, c.q, c.n, 10*time.Second)
		for _, m := range got {
			if !strings.HasPrefix(m.Body, c.prefix) {
				t.Errorf("queue %s: received %q", c.q.Name(), m.Body)
			}
		}
		expectNothing(t, c.q, 0)
		// A handle of one queue deletes nothing in the other.
		other := q2
		if c.q == q2 {
			other = q1
		}
		if err := other.Delete(ctx, []string{got[0].ReceiptHandle}); err != nil && !errors.Is(err, queue.ErrReceiptInvalid) {
			t.Errorf("Delete in %s with a handle of %s: %v", other.Name(), c.q.Name(), err)
		}
	}
	expectDepth(t, q1, queue.Depth{InFlight: 5})
	expectDepth(t, q2, queue.Depth{InFlight: 3})
}

// outgoing returns n messages with bodies and entry IDs prefix-0 ... prefix-(n-1).
func outgoing(prefix string, n int) []queue.Outgoing {
	msgs := make([]queue.Outgoing, n)
	for i := range msgs {
		id := fmt.Sprintf("%s-%03d", prefix, i)
		msgs[i] = queue.Outgoing{ID: id, Body: id}
	}
	return msgs
}

// send sends msgs in one batch, failing t on error.
func send(t *testing.T, q queue.Queue, msgs ...queue.Outgoing) {
	t.Helper()
	if err := q.SendBatch(context.Background(), msgs); err != nil {
		t.Fatalf("SendBatch to %s: %v", q.Name(), err)
	}
}

// receiveN receives until it has n messages, failing t if that takes longer
// than timeout or if more than n arrive.
func receiveN(t *testing.T, q queue.Queue, n int, timeout time.Duration) []queue.Message {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	var got []queue.Message
	for len(got) < n {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("received %d of %d messages from %s in %v", len(got), n, q.Name(), timeout)
		}
		msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: queue.MaxBatch, Wait: oneSecond})
		if err != nil {
			t.Fatalf("Receive from %s: %v", q.Name(), err)
		}
		got = append(got, msgs...)
	}
	if len(got) > n {
		t.Fatalf("received %d messages from %s, want %d", len(got), q.Name(), n)
	}
	return got
}

// expectNothing fails t if a receive with the given wait returns a message.
func expectNothing(t *testing.T, q queue.Queue, wait time.Duration) {
	t.Helper()
	msgs, err := q.Receive(context.Background(), queue.ReceiveOptions{Max: queue.MaxBatch, Wait: wait})
	if err != nil {
		t.Fatalf("Receive from %s: %v", q.Name(), err)
	}
	if len(msgs) > 0 {
		t.Fatalf("received %d messages from %s (first %q), want none", len(msgs), q.Name(), short(msgs[0].Body))
	}
}

// deleteAll deletes msgs by their receipt handles, in batches.
func deleteAll(t *testing.T, q queue.Queue, msgs []queue.Message) {
	t.Helper()
	for i := 0; i < len(msgs); i += queue.MaxBatch {
		var hs []string
		for _, m := range msgs[i:min(i+queue.MaxBatch, len(msgs))] {
			hs = append(hs, m.ReceiptHandle)
		}
		if err := q.Delete(context.Background(), hs); err != nil {
			t.Fatalf("Delete from %s: %v", q.Name(), err)
		}
	}
}

// expectDepth fails t unless q's depth becomes want, or one of the other
// acceptable depths, within a few seconds (SQS's counts are approximate and
// lag).
func expectDepth(t *testing.T, q queue.Queue, want queue.Depth, orElse ...queue.Depth) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := q.Depth(context.Background())
		if err != nil {
			t.Fatalf("Depth of %s: %v", q.Name(), err)
		}
		if got == want || slices.Contains(orElse, got) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Depth of %s: %+v, want %+v", q.Name(), got, append([]queue.Depth{want}, orElse...))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sameAttributes compares attributes, taking nil and empty as equal.
func sameAttributes(a, b map[string]string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return maps.Equal(a, b)
}

// short abbreviates a body for messages.
func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
