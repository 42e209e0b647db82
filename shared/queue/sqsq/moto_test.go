package sqsq

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/standin"
)

// TestMoto runs the adapter against moto, a second SQS emulator that does
// not know this code, beside fauxqs (TestFauxqs). The two answer the
// adapter differently in the cases below; the adapter must give its
// callers the same result with both, and with AWS.
func TestMoto(t *testing.T) {
	c := standin.Moto(t).SQS(t)
	for _, tt := range []struct {
		name string
		test func(*testing.T, *sqs.Client)
	}{
		// moto 5.2.1 deletes a message by any handle it ever had, and
		// answers ReceiptHandleIsInvalid for one it never had.
		{"StaleReceipts", func(t *testing.T, c *sqs.Client) { testStaleReceipts(t, c, true) }},
		// moto 5.2.1 refuses a whole SendMessageBatch for one message over
		// the queue's MaximumMessageSize (InvalidParameterValue).
		{"QueueMessageSize", testQueueMessageSize},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.test(t, c)
		})
	}
}

// testStaleReceipts deletes a message with the receipt handle of an
// earlier receive, after its visibility timeout expired and it was
// received again: as the port's contract says (queue.Queue.Delete), and
// as AWS does (Amazon SQS API Reference, DeleteMessage: with an old
// handle "the request will succeed, but the message might not be
// deleted"), that is not an error, and the current handle deletes it. A
// malformed handle fails with queue.ErrReceiptInvalid when the server
// checks handles (AWS: ReceiptHandleIsInvalid).
func testStaleReceipts(t *testing.T, c *sqs.Client, checksHandles bool) {
	q := New(c, createQueue(t, c, "stale", map[string]string{"VisibilityTimeout": "30"}))
	ctx := context.Background()
	if err := q.SendBatch(ctx, []queue.Outgoing{{ID: "a", Body: "x"}}); err != nil {
		t.Fatal(err)
	}
	first := receiveOne(t, q, time.Second)
	second := receiveOne(t, q, 30*time.Second) // after first's visibility timeout
	if second.ReceiptHandle == first.ReceiptHandle || second.ReceiveCount != 2 {
		t.Fatalf("second receive: handle %q (first %q), receive count %d; want a new handle, count 2",
			second.ReceiptHandle, first.ReceiptHandle, second.ReceiveCount)
	}
	if err := q.Delete(ctx, []string{first.ReceiptHandle}); err != nil {
		t.Errorf("Delete with the handle of the first receive: %v, want no error", err)
	}
	if err := q.Delete(ctx, []string{second.ReceiptHandle}); err != nil {
		t.Errorf("Delete with the current handle: %v", err)
	}
	if d, err := q.Depth(ctx); err != nil || d.Total() != 0 {
		t.Errorf("Depth after the deletes = %+v, %v; want the message gone", d, err)
	}
	if err := q.Delete(ctx, []string{second.ReceiptHandle, first.ReceiptHandle}); err != nil {
		t.Errorf("Delete of a deleted message: %v, want no error", err)
	}
	err := q.Delete(ctx, []string{"not-a-receipt-handle"})
	if checksHandles && !errors.Is(err, queue.ErrReceiptInvalid) {
		t.Errorf("Delete with a malformed handle: %v, want ErrReceiptInvalid", err)
	}
	if !checksHandles && err != nil {
		t.Errorf("Delete with a malformed handle, on a server that accepts any: %v", err)
	}
}

// receiveOne receives the queue's one message, hiding it for visibility,
// waiting up to 5 s for it to be visible.
func receiveOne(t *testing.T, q *Queue, visibility time.Duration) queue.Message {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := q.Receive(context.Background(), queue.ReceiveOptions{Max: 1, Visibility: visibility})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 1 {
			return got[0]
		}
		if time.Now().After(deadline) {
			t.Fatal("no message visible within 5 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// testQueueMessageSize sends a batch holding one message of 300 KiB to a
// queue whose MaximumMessageSize is 262,144 (the default of a queue created
// before August 2025) and to one at 1,048,576 (what serverless.yml sets;
// Amazon SQS API Reference, SetQueueAttributes: MaximumMessageSize, "the
// limit of how many bytes a message can contain before Amazon SQS rejects
// it"). At 262,144 the large message fails alone, with an error that names
// the queue, its size and the fix, and the others are sent; at 1,048,576
// all are sent.
func testQueueMessageSize(t *testing.T, c *sqs.Client) {
	big := queue.Outgoing{ID: "big", Body: strings.Repeat("r", 300<<10), Attributes: map[string]string{"run": "r1"}}
	batch := []queue.Outgoing{{ID: "a", Body: "a"}, big, {ID: "c", Body: "c"}}
	tests := []struct {
		max      string
		wantSent []string // bodies' first bytes
	}{
		{"262144", []string{"a", "c"}},
		{"1048576", []string{"a", "c", "r"}},
	}
	for _, tt := range tests {
		t.Run(tt.max, func(t *testing.T) {
			q := New(c, createQueue(t, c, "size", map[string]string{"MaximumMessageSize": tt.max}), fast)
			ctx := context.Background()
			err := q.SendBatch(ctx, batch)
			if len(tt.wantSent) == len(batch) {
				if err != nil {
					t.Fatalf("SendBatch: %v", err)
				}
			} else {
				checkOverQueueLimit(t, err, q.Name(), queue.MessageSize(big))
				failed, partial := queue.FailedIDs(err)
				if !partial || !slices.Equal(slices.Sorted(maps.Keys(failed)), []string{"big"}) {
					t.Errorf("SendBatch: %v, want big alone not sent", err)
				}
				// Alone, it fails the call: as a BatchError naming it
				// where SQS fails the entry (AWS, fauxqs), as the request's
				// error where SQS refuses the request (moto).
				err := q.SendBatch(ctx, []queue.Outgoing{big})
				checkOverQueueLimit(t, err, q.Name(), queue.MessageSize(big))
				if failed, partial := queue.FailedIDs(err); partial && failed["big"] == nil {
					t.Errorf("SendBatch of big alone: %v, want big named", err)
				}
			}
			var got []string
			for {
				msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: 10})
				if err != nil {
					t.Fatal(err)
				}
				if len(msgs) == 0 {
					break
				}
				for _, m := range msgs {
					got = append(got, m.Body[:1])
					if m.Body[:1] == "r" && len(m.Body) != len(big.Body) {
						t.Errorf("large message received with %d bytes, want %d", len(m.Body), len(big.Body))
					}
				}
			}
			if slices.Sort(got); !slices.Equal(got, tt.wantSent) {
				t.Errorf("received %q, want %q", got, tt.wantSent)
			}
		})
	}
}
