package queuetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/queue"
)

func testVisibility(t *testing.T, newQueues NewQueues) {
	const vt = 2 * time.Second
	q, _ := newQueues(t, Setup{VisibilityTimeout: vt})
	ctx := context.Background()
	send(t, q, queue.Outgoing{ID: "a", Body: "hidden for a while", Attributes: map[string]string{"k": "v"}})
	first := receiveN(t, q, 1, 10*time.Second)[0]
	firstAt := time.Now()
	expectNothing(t, q, 0)

	again := receiveN(t, q, 1, vt+10*time.Second)[0]
	if elapsed := time.Since(firstAt); elapsed < vt/2 {
		t.Errorf("received again %v after the first receive, visibility timeout %v", elapsed, vt)
	}
	if again.ID != first.ID || again.Body != first.Body || !sameAttributes(again.Attributes, first.Attributes) {
		t.Errorf("received again %+v, want the same message as %+v", again, first)
	}
	if again.ReceiveCount != 2 {
		t.Errorf("ReceiveCount %d on the second receive, want 2", again.ReceiveCount)
	}
	if again.ReceiptHandle == first.ReceiptHandle {
		t.Errorf("second receive has the first receive's receipt handle")
	}
	if !again.FirstReceivedAt.Equal(first.FirstReceivedAt) {
		t.Errorf("FirstReceivedAt changed from %v to %v", first.FirstReceivedAt, again.FirstReceivedAt)
	}
	// A stale handle is not an error. SQS documents that deleting with it
	// "will still succeed, but the message might not be deleted": so the
	// message may be left in flight (localq, fauxqs) or gone.
	if err := q.Delete(ctx, []string{first.ReceiptHandle}); err != nil {
		t.Errorf("Delete with a stale handle: %v, want nil", err)
	}
	expectDepth(t, q, queue.Depth{InFlight: 1}, queue.Depth{})
	// Deleting with the current handle works either way.
	if err := q.Delete(ctx, []string{again.ReceiptHandle}); err != nil {
		t.Fatalf("Delete with the current handle: %v", err)
	}
	expectDepth(t, q, queue.Depth{})
}

func testChangeVisibility(t *testing.T, newQueues NewQueues) {
	const vt = 30 * time.Second
	q, _ := newQueues(t, Setup{VisibilityTimeout: vt})
	ctx := context.Background()
	send(t, q, queue.Outgoing{ID: "a", Body: "retry me"})
	first := receiveN(t, q, 1, 10*time.Second)[0]
	if err := q.ChangeVisibility(ctx, first.ReceiptHandle, 0); err != nil {
		t.Fatalf("ChangeVisibility to 0: %v", err)
	}
	start := time.Now()
	again := receiveN(t, q, 1, 10*time.Second)[0]
	if elapsed := time.Since(start); elapsed > vt/2 {
		t.Errorf("visible again only after %v", elapsed)
	}
	if again.ID != first.ID || again.ReceiveCount != 2 {
		t.Errorf("received %s with ReceiveCount %d, want %s with 2", again.ID, again.ReceiveCount, first.ID)
	}
	if err := q.ChangeVisibility(ctx, first.ReceiptHandle, 10*time.Second); !errors.Is(err, queue.ErrReceiptInvalid) {
		t.Errorf("ChangeVisibility with a stale handle: %v, want ErrReceiptInvalid", err)
	}
	// Extending the current receive works and keeps the message hidden.
	if err := q.ChangeVisibility(ctx, again.ReceiptHandle, 20*time.Second); err != nil {
		t.Errorf("ChangeVisibility with the current handle: %v", err)
	}
	expectNothing(t, q, 0)
	deleteAll(t, q, []queue.Message{again})
	if err := q.ChangeVisibility(ctx, again.ReceiptHandle, 0); !errors.Is(err, queue.ErrReceiptInvalid) {
		t.Errorf("ChangeVisibility of a deleted message: %v, want ErrReceiptInvalid", err)
	}
}

func testInvalidReceipts(t *testing.T, newQueues NewQueues, o *options) {
	q, _ := newQueues(t, Setup{VisibilityTimeout: 30 * time.Second})
	ctx := context.Background()
	for _, h := range []string{"", "not-a-receipt-handle"} {
		if h != "" && o.skipped(t, DeleteRejectsMalformedHandle) {
			if err := q.Delete(ctx, []string{h}); err != nil && !errors.Is(err, queue.ErrReceiptInvalid) {
				t.Errorf("Delete(%q): %v, want nil or ErrReceiptInvalid", h, err)
			}
		} else if err := q.Delete(ctx, []string{h}); !errors.Is(err, queue.ErrReceiptInvalid) {
			t.Errorf("Delete(%q): %v, want ErrReceiptInvalid", h, err)
		}
		if err := q.ChangeVisibility(ctx, h, 0); !errors.Is(err, queue.ErrReceiptInvalid) {
			t.Errorf("ChangeVisibility(%q): %v, want ErrReceiptInvalid", h, err)
		}
	}
}

func testRedrive(t *testing.T, newQueues NewQueues) {
	const maxReceives = 3
	q, dlq := newQueues(t, Setup{VisibilityTimeout: oneSecond, MaxReceiveCount: maxReceives})
	ctx := context.Background()
	out := queue.Outgoing{ID: "poison", Body: "fails every time", Attributes: map[string]string{"run": "r1", "target": "t-9"}}
	send(t, q, out)
	var deliveries []queue.Message
	for range maxReceives + 2 {
		// Each wait outlasts the visibility timeout, so an empty receive
		// means the message has left the queue.
		msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: 10, Wait: 3 * oneSecond})
		if err != nil {
			t.Fatalf("Receive: %v", err)
		}
		if len(msgs) == 0 {
			break
		}
		deliveries = append(deliveries, msgs...)
	}
	if len(deliveries) != maxReceives {
		t.Fatalf("delivered %d times, want %d", len(deliveries), maxReceives)
	}
	for i, m := range deliveries {
		if m.ReceiveCount != i+1 {
			t.Errorf("delivery %d: ReceiveCount %d", i+1, m.ReceiveCount)
		}
	}
	orig := deliveries[0]
	dead := receiveN(t, dlq, 1, 10*time.Second)[0]
	if dead.ID != orig.ID || dead.Body != out.Body || !sameAttributes(dead.Attributes, out.Attributes) {
		t.Errorf("dead letter %+v, want ID %s, body %q, attributes %v", dead, orig.ID, out.Body, out.Attributes)
	}
	if !dead.SentAt.Equal(orig.SentAt) {
		t.Errorf("dead letter SentAt %v, want the original %v", dead.SentAt, orig.SentAt)
	}
	expectDepth(t, q, queue.Depth{})
}

func testNoDoubleDelivery(t *testing.T, newQueues NewQueues) {
	const (
		total     = 200
		consumers = 8
	)
	// The visibility timeout outlasts the test, so any second delivery is
	// a double delivery.
	q, _ := newQueues(t, Setup{VisibilityTimeout: 5 * time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var (
		mu       sync.Mutex
		received = make(map[string]int) // body -> deliveries
		ids      = make(map[string]string)
		deleted  int
		errs     []error
	)
	var wg sync.WaitGroup
	for range consumers {
		wg.Go(func() {
			for ctx.Err() == nil {
				msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: 10, Wait: oneSecond})
				if err != nil {
					if ctx.Err() == nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
					return
				}
				if len(msgs) == 0 {
					continue
				}
				hs := make([]string, 0, len(msgs))
				mu.Lock()
				for _, m := range msgs {
					received[m.Body]++
					if prev, ok := ids[m.ID]; ok && prev != m.Body {
						errs = append(errs, fmt.Errorf("ID %s on %q and %q", m.ID, prev, m.Body))
					}
					ids[m.ID] = m.Body
					hs = append(hs, m.ReceiptHandle)
				}
				mu.Unlock()
				if err := q.Delete(ctx, hs); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				mu.Lock()
				deleted += len(hs)
				if deleted >= total {
					cancel()
				}
				mu.Unlock()
			}
		})
	}
	// Send while the consumers poll.
	all := outgoing("msg", total)
	for i := 0; i < total; i += queue.MaxBatch {
		if err := q.SendBatch(ctx, all[i:i+queue.MaxBatch]); err != nil {
			t.Errorf("SendBatch: %v", err)
			cancel()
			break
		}
	}
	wg.Wait()
	for _, err := range errs {
		t.Errorf("consumer: %v", err)
	}
	if len(received) != total || deleted != total {
		t.Errorf("received %d distinct messages and deleted %d, want %d", len(received), deleted, total)
	}
	for body, n := range received {
		if n != 1 {
			t.Errorf("%s delivered %d times", body, n)
		}
	}
	expectDepth(t, q, queue.Depth{})
}

func testLongPolling(t *testing.T, newQueues NewQueues) {
	q, _ := newQueues(t, Setup{VisibilityTimeout: 30 * time.Second})
	ctx := context.Background()

	t.Run("returns when a message arrives", func(t *testing.T) {
		const wait = 10 * time.Second
		type result struct {
			msgs    []queue.Message
			err     error
			elapsed time.Duration
		}
		done := make(chan result, 1)
		start := time.Now()
		go func() {
			msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: 10, Wait: wait})
			done <- result{msgs, err, time.Since(start)}
		}()
		time.Sleep(300 * time.Millisecond)
		send(t, q, queue.Outgoing{ID: "a", Body: "wake up"})
		r := <-done
		if r.err != nil {
			t.Fatalf("Receive: %v", r.err)
		}
		if len(r.msgs) != 1 || r.msgs[0].Body != "wake up" {
			t.Fatalf("received %+v, want the message sent during the wait", r.msgs)
		}
		if r.elapsed > wait/2 {
			t.Errorf("returned after %v of a %v wait", r.elapsed, wait)
		}
		deleteAll(t, q, r.msgs)
	})
	t.Run("returns empty after the wait", func(t *testing.T) {
		start := time.Now()
		msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: 10, Wait: oneSecond})
		elapsed := time.Since(start)
		if err != nil || len(msgs) != 0 {
			t.Fatalf("Receive from an empty queue: %d messages, error %v", len(msgs), err)
		}
		if elapsed < oneSecond-100*time.Millisecond || elapsed > 5*oneSecond {
			t.Errorf("a %v wait returned after %v", oneSecond, elapsed)
		}
	})
	t.Run("ends with the context", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := q.Receive(cctx, queue.ReceiveOptions{Max: 10, Wait: 10 * time.Second})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Receive with an expired context: %v, want context.DeadlineExceeded", err)
		}
		if elapsed := time.Since(start); elapsed > 5*time.Second {
			t.Errorf("returned %v after the context ended", elapsed)
		}
	})
}
