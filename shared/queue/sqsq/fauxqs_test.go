package sqsq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/queue/queuetest"
	"github.com/cronless/cronless/shared/standin"
)

var queueSeq atomic.Int64

// createQueue creates a new queue on fauxqs and returns its URL.
func createQueue(t *testing.T, c *sqs.Client, base string, attrs map[string]string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d-%s", base, queueSeq.Add(1), nameSafe.ReplaceAllString(t.Name(), "_"))
	if len(name) > 80 {
		name = name[:80]
	}
	out, err := c.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("CreateQueue %s: %v", name, err)
	}
	url := aws.ToString(out.QueueUrl)
	t.Cleanup(func() { _, _ = c.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}) })
	return url
}

var nameSafe = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// TestFauxqs runs the tests that need an SQS server against one fauxqs,
// started here and stopped when they are done.
func TestFauxqs(t *testing.T) {
	fq := standin.Fauxqs(t)
	c := fq.SQS(t)
	t.Run("Contract", func(t *testing.T) { testContract(t, c) })
	for _, tt := range []struct {
		name string
		test func(*testing.T, *sqs.Client)
	}{
		{"URLsAndARN", testFauxqsURLsAndARN},
		{"SplitsLargeBatches", testFauxqsSplitsLargeBatches},
		{"HasNoMoveTasks", testFauxqsHasNoMoveTasks},
		{"ReceiptErrors", testFauxqsReceiptErrors},
		// fauxqs accepts any handle on delete and deletes nothing with an
		// old one (see testContract).
		{"StaleReceipts", func(t *testing.T, c *sqs.Client) { testStaleReceipts(t, c, false) }},
		// fauxqs fails the one entry over MaximumMessageSize, as AWS does.
		{"QueueMessageSize", testQueueMessageSize},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.test(t, c)
		})
	}
}

func testContract(t *testing.T, c *sqs.Client) {
	queuetest.Run(t, func(t *testing.T, s queuetest.Setup) (queue.Queue, queue.Queue) {
		dlqURL := createQueue(t, c, "dlq", nil)
		dlq := New(c, dlqURL)
		attrs := map[string]string{"VisibilityTimeout": strconv.Itoa(int(s.VisibilityTimeout / time.Second))}
		if s.MaxReceiveCount > 0 {
			arn, err := dlq.ResolveARN(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			policy, _ := json.Marshal(map[string]any{"deadLetterTargetArn": arn, "maxReceiveCount": s.MaxReceiveCount})
			attrs["RedrivePolicy"] = string(policy)
		}
		return New(c, createQueue(t, c, "q", attrs)), dlq
	},
		// fauxqs deletes nothing and reports success for any receipt
		// handle it does not know, even a malformed one; SQS answers
		// ReceiptHandleIsInvalid (checked with a fake in
		// TestDeleteMapsEntryFailures).
		queuetest.Unsupported(queuetest.DeleteRejectsMalformedHandle, "fauxqs accepts any receipt handle on delete"),
		// fauxqs checks bodies with a JavaScript regular expression
		// without the u flag, so it sees a character beyond the BMP as
		// two surrogates and refuses it.
		queuetest.Unsupported(queuetest.BodyAllowsSupplementaryCharacters, "fauxqs refuses emoji in message bodies"),
	)
}

// testFauxqsURLsAndARN checks what fauxqs's queue URLs look like: their
// host does not resolve, so the client keeps its endpoint and the adapter
// passes the URL only as QueueUrl; and their ARN cannot be derived, so it
// is fetched once.
func testFauxqsURLsAndARN(t *testing.T, c *sqs.Client) {
	url := createQueue(t, c, "urls", nil)
	if !strings.HasPrefix(url, "http://sqs.us-east-1.127.0.0.1:") {
		t.Logf("fauxqs queue URL %s (expected http://sqs.<region>.127.0.0.1:<port>/000000000000/<name>)", url)
	}
	if arnFromURL(url) != "" {
		t.Errorf("ARN derived from the fauxqs URL %s", url)
	}
	counting := &countingAPI{API: c}
	q := New(counting, url)
	if !strings.HasSuffix(url, "/"+q.Name()) {
		t.Errorf("Name %q of %s", q.Name(), url)
	}
	for range 3 {
		if want := "arn:aws:sqs:us-east-1:000000000000:" + q.Name(); q.ARN() != want {
			t.Errorf("ARN %q, want %q", q.ARN(), want)
		}
	}
	if n := counting.getAttributes.Load(); n != 1 {
		t.Errorf("GetQueueAttributes called %d times, want once", n)
	}
	// A queue that does not exist.
	gone := New(c, strings.TrimSuffix(url, q.Name())+"no-such-queue")
	if _, err := gone.Depth(context.Background()); !errors.Is(err, queue.ErrNoQueue) {
		t.Errorf("Depth of a missing queue: %v, want ErrNoQueue", err)
	}
	if err := gone.SendBatch(context.Background(), []queue.Outgoing{{ID: "a", Body: "x"}}); !errors.Is(err, queue.ErrNoQueue) {
		t.Errorf("SendBatch to a missing queue: %v, want ErrNoQueue", err)
	} else if _, ok := queue.FailedIDs(err); ok {
		t.Errorf("SendBatch to a missing queue: %v, want the whole batch failed, not a BatchError", err)
	}
	if gone.ARN() != "" {
		t.Errorf("ARN of a missing queue: %q", gone.ARN())
	}
}

// testFauxqsSplitsLargeBatches sends ten messages of 300 KB: fauxqs, like
// SQS, refuses a request over 1 MiB in total (BatchRequestTooLong), so this
// passes only when the adapter splits the batch.
func testFauxqsSplitsLargeBatches(t *testing.T, c *sqs.Client) {
	counting := &countingAPI{API: c}
	q := New(counting, createQueue(t, c, "large", nil))
	ctx := context.Background()
	msgs := make([]queue.Outgoing, 10)
	for i := range msgs {
		msgs[i] = queue.Outgoing{ID: fmt.Sprint("m", i), Body: fmt.Sprintf("%d%s", i, strings.Repeat("x", 300_000)),
			Attributes: map[string]string{"i": strconv.Itoa(i)}}
	}
	if err := q.SendBatch(ctx, msgs); err != nil {
		t.Fatalf("SendBatch: %v", err)
	}
	if n := counting.sends.Load(); n < 3 {
		t.Errorf("%d SendMessageBatch requests, want at least 3", n)
	}
	seen := make(map[string]bool)
	for len(seen) < len(msgs) {
		got, err := q.Receive(ctx, queue.ReceiveOptions{Max: 10, Wait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			t.Fatalf("received %d of %d messages", len(seen), len(msgs))
		}
		for _, m := range got {
			i := m.Body[:1]
			if m.Attributes["i"] != i || len(m.Body) != 300_001 {
				t.Errorf("message %s: attributes %v, %d bytes", i, m.Attributes, len(m.Body))
			}
			seen[i] = true
		}
	}
}

// testFauxqsHasNoMoveTasks records that fauxqs lacks the move-task API:
// it answers InvalidAction, which the adapter reports as
// ErrMovesUnsupported (the DLQ commands then replay by receive and send).
func testFauxqsHasNoMoveTasks(t *testing.T, c *sqs.Client) {
	q := New(c, createQueue(t, c, "moves", nil))
	_, err := q.StartMove(context.Background(), "", 0)
	if !errors.Is(err, ErrMovesUnsupported) {
		t.Errorf("StartMove on fauxqs: %v, want ErrMovesUnsupported", err)
	}
}

// testFauxqsReceiptErrors checks the error mapping against fauxqs's
// answers for handles that are not current.
func testFauxqsReceiptErrors(t *testing.T, c *sqs.Client) {
	q := New(c, createQueue(t, c, "receipts", map[string]string{"VisibilityTimeout": "30"}))
	ctx := context.Background()
	if err := q.SendBatch(ctx, []queue.Outgoing{{ID: "a", Body: "x"}}); err != nil {
		t.Fatal(err)
	}
	got, err := q.Receive(ctx, queue.ReceiveOptions{Max: 1, Wait: 5 * time.Second, Visibility: 1500 * time.Millisecond})
	if err != nil || len(got) != 1 {
		t.Fatalf("Receive = %v, %v", got, err)
	}
	// Visibility rounds up to 2 s: still hidden after 1.2 s.
	time.Sleep(1200 * time.Millisecond)
	if more, err := q.Receive(ctx, queue.ReceiveOptions{Max: 1}); err != nil || len(more) != 0 {
		t.Fatalf("Receive during the visibility timeout = %v, %v", more, err)
	}
	if err := q.ChangeVisibility(ctx, "0f2d8d0e-nope", time.Second); !errors.Is(err, queue.ErrReceiptInvalid) {
		t.Errorf("ChangeVisibility with an unknown handle: %v, want ErrReceiptInvalid", err)
	}
	if err := q.ChangeVisibility(ctx, got[0].ReceiptHandle, 1500*time.Millisecond); err != nil {
		t.Errorf("ChangeVisibility with the current handle: %v", err)
	}
	if err := q.Delete(ctx, []string{got[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	if err := q.ChangeVisibility(ctx, got[0].ReceiptHandle, 0); !errors.Is(err, queue.ErrReceiptInvalid) {
		t.Errorf("ChangeVisibility of a deleted message: %v, want ErrReceiptInvalid", err)
	}
}

// countingAPI counts calls to a real client.
type countingAPI struct {
	API
	getAttributes, sends atomic.Int64
}

func (c *countingAPI) GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	for _, n := range in.AttributeNames {
		if n == types.QueueAttributeNameQueueArn {
			c.getAttributes.Add(1)
		}
	}
	return c.API.GetQueueAttributes(ctx, in, opts...)
}

func (c *countingAPI) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	c.sends.Add(1)
	return c.API.SendMessageBatch(ctx, in, opts...)
}
