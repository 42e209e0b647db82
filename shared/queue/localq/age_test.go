package localq

import (
	"context"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/queue"
)

// TestOldestAge: an empty queue has no age; the oldest message counts
// whether visible, in flight or delayed; a dead letter keeps its sent time.
func TestOldestAge(t *testing.T) {
	ctx := context.Background()
	b, _ := newBackend(t)
	dlq := createQueue(t, b, "q-dlq", Config{})
	q := createQueue(t, b, "q", Config{VisibilityTimeout: time.Hour, MaxReceiveCount: 1, DeadLetterQueue: "q-dlq"})
	if _, ok, err := q.OldestAge(ctx); err != nil || ok {
		t.Fatalf("OldestAge of an empty queue = %v, %v; want none", ok, err)
	}
	if err := q.SendBatch(ctx, []queue.Outgoing{{ID: "a", Body: "a"}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	if err := q.SendBatch(ctx, []queue.Outgoing{{ID: "b", Body: "b", Delay: queue.MaxDelay}}); err != nil {
		t.Fatal(err)
	}
	// a in flight (briefly), b delayed: a is still the oldest.
	if _, err := q.Receive(ctx, queue.ReceiveOptions{Visibility: 10 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	age, ok, err := q.OldestAge(ctx)
	if err != nil || !ok || age < 30*time.Millisecond || age > time.Minute {
		t.Fatalf("OldestAge = %v, %v, %v; want a's age (≥ 30 ms)", age, ok, err)
	}
	// a's visibility ends; its next receive moves it to the DLQ (max 1 receive).
	time.Sleep(20 * time.Millisecond)
	if msgs, err := q.Receive(ctx, queue.ReceiveOptions{}); err != nil || len(msgs) != 0 {
		t.Fatalf("Receive = %v, %v; want a dead-lettered", msgs, err)
	}
	dage, ok, err := dlq.OldestAge(ctx)
	if err != nil || !ok || dage < age {
		t.Fatalf("DLQ OldestAge = %v, %v, %v; want at least %v (a's sent time kept)", dage, ok, err, age)
	}
}
