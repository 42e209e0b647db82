package localq

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/queue/queuetest"
	"github.com/cronless/cronless/shared/sqlite"
)

// openDB opens a SQLite file, closed when the test ends.
func openDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// newBackend returns a Backend on a new file.
func newBackend(t testing.TB) (*Backend, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), ".cronless", "local.db")
	b, err := New(openDB(t, path))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return b, path
}

func createQueue(t testing.TB, b *Backend, name string, cfg Config) *Queue {
	t.Helper()
	q, err := b.CreateQueue(context.Background(), name, cfg)
	if err != nil {
		t.Fatalf("CreateQueue(%s): %v", name, err)
	}
	return q
}

func TestContract(t *testing.T) {
	queuetest.Run(t, func(t *testing.T, s queuetest.Setup) (queue.Queue, queue.Queue) {
		b, _ := newBackend(t)
		dlq := createQueue(t, b, "targets-dlq", Config{})
		cfg := Config{VisibilityTimeout: s.VisibilityTimeout, MaxReceiveCount: s.MaxReceiveCount}
		if s.MaxReceiveCount > 0 {
			cfg.DeadLetterQueue = dlq.Name()
		}
		return createQueue(t, b, "targets", cfg), dlq
	})
}

func TestCreateQueue(t *testing.T) {
	ctx := context.Background()
	b, _ := newBackend(t)
	createQueue(t, b, "dlq", Config{})
	q := createQueue(t, b, "jobs", Config{VisibilityTimeout: time.Minute, MaxReceiveCount: 5, DeadLetterQueue: "dlq", Region: "eu-west-1"})
	if want := "arn:aws:sqs:eu-west-1:000000000000:jobs"; q.ARN() != want {
		t.Errorf("ARN %q, want %q", q.ARN(), want)
	}
	// Idempotent, and updates the configuration.
	q = createQueue(t, b, "jobs", Config{})
	if want := "arn:aws:sqs:local:000000000000:jobs"; q.ARN() != want {
		t.Errorf("ARN %q, want %q", q.ARN(), want)
	}
	var visNS int64
	var maxRC int
	var dlq sql.NullString
	if err := b.db.QueryRowContext(ctx, `SELECT visibility_ns, max_receive_count, dead_letter_queue FROM localq_queues WHERE name = 'jobs'`).
		Scan(&visNS, &maxRC, &dlq); err != nil {
		t.Fatal(err)
	}
	if time.Duration(visNS) != DefaultVisibilityTimeout || maxRC != 0 || dlq.Valid {
		t.Errorf("updated config: visibility %v, max receive count %d, DLQ %v", time.Duration(visNS), maxRC, dlq)
	}

	got, err := b.Queue(ctx, "jobs")
	if err != nil || got.Name() != "jobs" || got.ARN() != q.ARN() {
		t.Errorf("Queue(jobs) = %v, %v", got, err)
	}
	if _, err := b.Queue(ctx, "nope"); !errors.Is(err, queue.ErrNoQueue) {
		t.Errorf("Queue(nope): %v, want ErrNoQueue", err)
	}
	names, err := b.ListQueues(ctx)
	if err != nil || strings.Join(names, ",") != "dlq,jobs" {
		t.Errorf("ListQueues = %v, %v", names, err)
	}

	bad := []struct {
		name string
		cfg  Config
		is   error
	}{
		{"", Config{}, nil},
		{"has space", Config{}, nil},
		{"q.fifo", Config{}, nil},
		{strings.Repeat("x", 81), Config{}, nil},
		{"q", Config{VisibilityTimeout: -time.Second}, nil},
		{"q", Config{VisibilityTimeout: 13 * time.Hour}, nil},
		{"q", Config{MaxReceiveCount: 3}, nil},
		{"q", Config{DeadLetterQueue: "dlq"}, nil},
		{"q", Config{MaxReceiveCount: 1001, DeadLetterQueue: "dlq"}, nil},
		{"q", Config{MaxReceiveCount: 3, DeadLetterQueue: "q"}, nil},
		{"q", Config{MaxReceiveCount: 3, DeadLetterQueue: "missing"}, queue.ErrNoQueue},
	}
	for _, c := range bad {
		_, err := b.CreateQueue(ctx, c.name, c.cfg)
		if err == nil || (c.is != nil && !errors.Is(err, c.is)) {
			t.Errorf("CreateQueue(%q, %+v): %v", c.name, c.cfg, err)
		}
	}
}

func TestSendRejectsBadEntries(t *testing.T) {
	ctx := context.Background()
	b, _ := newBackend(t)
	q := createQueue(t, b, "q", Config{})
	tenPlus := map[string]string{}
	for i := range 11 {
		tenPlus[fmt.Sprint("a", i)] = "v"
	}
	bad := map[string]queue.Outgoing{
		"empty-body":     {Body: ""},
		"nul":            {Body: "a\x00b"},
		"bad-utf8":       {Body: "a\xffb"},
		"surrogate-ish":  {Body: "\uFFFE"},
		"eleven-attrs":   {Body: "x", Attributes: tenPlus},
		"aws-attr":       {Body: "x", Attributes: map[string]string{"AWS.TraceHeader": "v"}},
		"dotted-attr":    {Body: "x", Attributes: map[string]string{"a..b": "v"}},
		"empty-value":    {Body: "x", Attributes: map[string]string{"k": ""}},
		"long-delay":     {Body: "x", Delay: queue.MaxDelay + time.Second},
		"negative-delay": {Body: "x", Delay: -time.Second},
		"attrs-too-big":  {Body: strings.Repeat("x", queue.MaxMessageSize-10), Attributes: map[string]string{"key": "value"}},
	}
	msgs := []queue.Outgoing{{ID: "good", Body: "fine", Attributes: map[string]string{"Amaz": "ok", "a.b-c_d": "ok"}}}
	for id, m := range bad {
		m.ID = id
		msgs = append(msgs, m)
	}
	for i := 0; i < len(msgs); i += queue.MaxBatch {
		batch := msgs[i:min(i+queue.MaxBatch, len(msgs))]
		err := q.SendBatch(ctx, batch)
		failed, ok := queue.FailedIDs(err)
		if !ok {
			t.Fatalf("SendBatch: %v, want a BatchError", err)
		}
		var be *queue.BatchError
		errors.As(err, &be)
		for _, f := range be.Failed {
			if !f.SenderFault {
				t.Errorf("%s: not a sender fault", f.ID)
			}
		}
		for _, m := range batch {
			if _, isBad := bad[m.ID]; isBad != (failed[m.ID] != nil) {
				t.Errorf("entry %s: failed %v", m.ID, failed[m.ID])
			}
		}
	}
	if d, err := q.Depth(ctx); err != nil || d.Visible != 1 {
		t.Errorf("Depth = %+v, %v; want only the good entry", d, err)
	}
	for _, ids := range [][]string{{"has space"}, {""}, {strings.Repeat("i", 81)}} {
		err := q.SendBatch(ctx, []queue.Outgoing{{ID: ids[0], Body: "x"}})
		if _, ok := queue.FailedIDs(err); err == nil || ok {
			t.Errorf("entry ID %q: %v, want the batch rejected", ids[0], err)
		}
	}
}

func TestReceiveOptions(t *testing.T) {
	ctx := context.Background()
	b, _ := newBackend(t)
	q := createQueue(t, b, "q", Config{VisibilityTimeout: time.Hour})
	if err := q.SendBatch(ctx, []queue.Outgoing{{ID: "a", Body: "a"}, {ID: "b", Body: "b"}}); err != nil {
		t.Fatal(err)
	}
	for _, o := range []queue.ReceiveOptions{{Max: -1}, {Wait: -1}, {Wait: queue.MaxWait + 1}, {Visibility: -1}, {Visibility: queue.MaxVisibility + 1}} {
		if _, err := q.Receive(ctx, o); err == nil {
			t.Errorf("Receive(%+v): no error", o)
		}
	}
	// Max 0 means 1; oldest first; Visibility overrides the queue's.
	msgs, err := q.Receive(ctx, queue.ReceiveOptions{Visibility: 50 * time.Millisecond})
	if err != nil || len(msgs) != 1 || msgs[0].Body != "a" {
		t.Fatalf("Receive = %+v, %v; want a", msgs, err)
	}
	msgs, err = q.Receive(ctx, queue.ReceiveOptions{Max: 10, Wait: 5 * time.Second})
	if err != nil || len(msgs) != 1 || msgs[0].Body != "b" {
		t.Fatalf("Receive = %+v, %v; want b", msgs, err)
	}
	msgs, err = q.Receive(ctx, queue.ReceiveOptions{Max: 10, Wait: 5 * time.Second})
	if err != nil || len(msgs) != 1 || msgs[0].Body != "a" || msgs[0].ReceiveCount != 2 {
		t.Fatalf("Receive = %+v, %v; want a again after its 50ms visibility", msgs, err)
	}
	if err := q.ChangeVisibility(ctx, msgs[0].ReceiptHandle, queue.MaxVisibility+time.Second); err == nil {
		t.Errorf("ChangeVisibility beyond 12h: no error")
	}
}

// TestRedriveKeepsCount checks what the DLQ commands will show: the dead
// letter keeps its receive count, is visible at once, and wakes a receive
// waiting on the dead-letter queue.
func TestRedriveKeepsCount(t *testing.T) {
	ctx := context.Background()
	b, _ := newBackend(t)
	dlq := createQueue(t, b, "dlq", Config{})
	q := createQueue(t, b, "q", Config{VisibilityTimeout: 20 * time.Millisecond, MaxReceiveCount: 2, DeadLetterQueue: "dlq"})
	if err := q.SendBatch(ctx, []queue.Outgoing{{ID: "a", Body: "poison"}, {ID: "b", Body: "fine"}}); err != nil {
		t.Fatal(err)
	}
	type result struct {
		msgs []queue.Message
		err  error
	}
	waiting := make(chan result, 1)
	go func() {
		msgs, err := dlq.Receive(ctx, queue.ReceiveOptions{Max: 10, Wait: 10 * time.Second})
		waiting <- result{msgs, err}
	}()
	delivered := 0
	for delivered < 2 {
		msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: 1, Wait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.Body == "fine" {
				if err := q.Delete(ctx, []string{m.ReceiptHandle}); err != nil {
					t.Fatal(err)
				}
				continue
			}
			delivered++
		}
	}
	// The next receive moves the poison message instead of returning it.
	time.Sleep(30 * time.Millisecond)
	if msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: 10}); err != nil || len(msgs) != 0 {
		t.Fatalf("third receive = %+v, %v; want nothing", msgs, err)
	}
	r := <-waiting
	if r.err != nil || len(r.msgs) != 1 {
		t.Fatalf("DLQ receive = %+v, %v", r.msgs, r.err)
	}
	if m := r.msgs[0]; m.Body != "poison" || m.ReceiveCount != 3 {
		t.Errorf("dead letter %q with ReceiveCount %d, want poison with 3", m.Body, m.ReceiveCount)
	}
}

func TestPersistsAcrossReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "local.db")
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(db)
	if err != nil {
		t.Fatal(err)
	}
	q := createQueue(t, b, "q", Config{VisibilityTimeout: time.Hour, Region: "us-east-2"})
	attrs := map[string]string{"run": "r1"}
	if err := q.SendBatch(ctx, []queue.Outgoing{{ID: "a", Body: "one", Attributes: attrs}, {ID: "b", Body: "two"}}); err != nil {
		t.Fatal(err)
	}
	inFlight, err := q.Receive(ctx, queue.ReceiveOptions{})
	if err != nil || len(inFlight) != 1 {
		t.Fatalf("Receive = %+v, %v", inFlight, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	b, err = New(openDB(t, path))
	if err != nil {
		t.Fatal(err)
	}
	q, err = b.Queue(ctx, "q")
	if err != nil {
		t.Fatal(err)
	}
	if q.ARN() != "arn:aws:sqs:us-east-2:000000000000:q" {
		t.Errorf("ARN after reopen: %s", q.ARN())
	}
	if d, err := q.Depth(ctx); err != nil || d != (queue.Depth{Visible: 1, InFlight: 1}) {
		t.Errorf("Depth after reopen = %+v, %v", d, err)
	}
	// The receipt handle from before the reopen still works.
	if err := q.ChangeVisibility(ctx, inFlight[0].ReceiptHandle, 0); err != nil {
		t.Fatalf("ChangeVisibility after reopen: %v", err)
	}
	msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: 10})
	if err != nil || len(msgs) != 2 {
		t.Fatalf("Receive after reopen = %+v, %v", msgs, err)
	}
	for _, m := range msgs {
		if m.ID == inFlight[0].ID && (m.ReceiveCount != 2 || m.Body != "one" || m.Attributes["run"] != "r1") {
			t.Errorf("message after reopen: %+v", m)
		}
	}
}

// TestTwoProcesses uses two *sql.DB handles on one file, each with its own
// Backend, as two processes would: sends in one wake long polls in the
// other (by polling), and no message is delivered twice.
func TestTwoProcesses(t *testing.T) {
	const total = 300
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path := filepath.Join(t.TempDir(), "local.db")
	var qs []*Queue
	for range 2 {
		b, err := New(openDB(t, path))
		if err != nil {
			t.Fatal(err)
		}
		qs = append(qs, createQueue(t, b, "q", Config{VisibilityTimeout: 5 * time.Minute}))
	}

	// A long poll in one process sees a send from the other promptly.
	start := time.Now()
	go func() {
		time.Sleep(100 * time.Millisecond)
		_ = qs[0].SendBatch(ctx, []queue.Outgoing{{ID: "a", Body: "hello"}})
	}()
	msgs, err := qs[1].Receive(ctx, queue.ReceiveOptions{Wait: 10 * time.Second})
	if err != nil || len(msgs) != 1 {
		t.Fatalf("Receive = %+v, %v", msgs, err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("long poll noticed another process's send after %v", elapsed)
	}
	if err := qs[1].Delete(ctx, []string{msgs[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}

	var (
		mu      sync.Mutex
		seen    = make(map[string]int)
		deleted int
		wg      sync.WaitGroup
	)
	for i := range 6 {
		q := qs[i%2]
		wg.Go(func() {
			for ctx.Err() == nil {
				msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: 10, Wait: time.Second})
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("Receive: %v", err)
					}
					return
				}
				var hs []string
				mu.Lock()
				for _, m := range msgs {
					seen[m.Body]++
					hs = append(hs, m.ReceiptHandle)
				}
				mu.Unlock()
				if len(hs) == 0 {
					continue
				}
				if err := q.Delete(ctx, hs); err != nil {
					t.Errorf("Delete: %v", err)
					return
				}
				mu.Lock()
				if deleted += len(hs); deleted == total {
					cancel()
				}
				mu.Unlock()
			}
		})
	}
	for i := 0; i < total; i += queue.MaxBatch {
		var batch []queue.Outgoing
		for j := i; j < i+queue.MaxBatch; j++ {
			batch = append(batch, queue.Outgoing{ID: fmt.Sprint("m", j), Body: fmt.Sprint("m", j)})
		}
		if err := qs[(i/queue.MaxBatch)%2].SendBatch(ctx, batch); err != nil {
			t.Fatalf("SendBatch: %v", err)
		}
	}
	wg.Wait()
	if len(seen) != total || deleted != total {
		t.Errorf("saw %d distinct messages, deleted %d, want %d", len(seen), deleted, total)
	}
	for body, n := range seen {
		if n != 1 {
			t.Errorf("%s delivered %d times", body, n)
		}
	}
}

// TestReceiveUsesIndex checks that receive reads the ready index in order
// and never sorts, so its cost does not grow with the queue.
func TestReceiveUsesIndex(t *testing.T) {
	b, _ := newBackend(t)
	rows, err := b.db.Query(`EXPLAIN QUERY PLAN SELECT seq, id, body, attributes, sent_at, receive_count, first_received_at
		FROM localq_messages WHERE queue = ? AND visible_at <= ? ORDER BY visible_at, seq LIMIT ?`, "q", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	p := strings.Join(plan, "; ")
	if !strings.Contains(p, "localq_messages_ready") || strings.Contains(p, "TEMP B-TREE") {
		t.Errorf("receive query plan %q: want the ready index and no sort", p)
	}
}

// BenchmarkSendReceiveDelete sends, receives and deletes one batch of 10
// per iteration, on an empty queue and behind a backlog of 100,000
// in-flight messages (which receive must skip without reading).
func BenchmarkSendReceiveDelete(b *testing.B) {
	for _, backlog := range []int{0, 100_000} {
		b.Run(fmt.Sprintf("backlog=%d", backlog), func(b *testing.B) {
			ctx := context.Background()
			be, _ := newBackend(b)
			q := createQueue(b, be, "q", Config{VisibilityTimeout: time.Hour})
			if backlog > 0 {
				fillInFlight(b, be, "q", backlog)
			}
			batch := make([]queue.Outgoing, queue.MaxBatch)
			for i := range batch {
				batch[i] = queue.Outgoing{ID: fmt.Sprint("e", i), Body: `{"v":1,"target":"example","url":"https://example.com/"}`,
					Attributes: map[string]string{"run": "nightly"}}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := q.SendBatch(ctx, batch); err != nil {
					b.Fatal(err)
				}
				msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: queue.MaxBatch})
				if err != nil || len(msgs) != queue.MaxBatch {
					b.Fatalf("Receive: %d messages, %v", len(msgs), err)
				}
				hs := make([]string, len(msgs))
				for i, m := range msgs {
					hs[i] = m.ReceiptHandle
				}
				if err := q.Delete(ctx, hs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// fillInFlight adds n messages to queue name, older than any the benchmark
// sends and in flight for an hour.
func fillInFlight(b *testing.B, be *Backend, name string, n int) {
	b.Helper()
	now := time.Now().UnixNano()
	_, err := be.db.Exec(`WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < ?)
		INSERT INTO localq_messages (queue, id, body, attributes, sent_at, visible_at, receive_count, first_received_at, receipt)
		SELECT ?, 'backlog-' || x, 'body', '', ?, ?, 1, ?, 'r' || x FROM i`, n, name, now-1, now+int64(time.Hour), now)
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSendReceiveDeleteParallel runs BenchmarkSendReceiveDelete's
// cycle from 16 goroutines on one queue, as a busy local runtime would, to
// measure how writers queue on the write lock.
func BenchmarkSendReceiveDeleteParallel(b *testing.B) {
	ctx := context.Background()
	be, _ := newBackend(b)
	q := createQueue(b, be, "q", Config{VisibilityTimeout: time.Hour})
	b.SetParallelism(8) // × GOMAXPROCS goroutines
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		batch := make([]queue.Outgoing, queue.MaxBatch)
		for i := range batch {
			batch[i] = queue.Outgoing{ID: fmt.Sprint("e", i), Body: "body"}
		}
		for pb.Next() {
			if err := q.SendBatch(ctx, batch); err != nil {
				b.Error(err)
				return
			}
			msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: queue.MaxBatch})
			if err != nil {
				b.Error(err)
				return
			}
			if len(msgs) == 0 {
				continue
			}
			hs := make([]string, len(msgs))
			for i, m := range msgs {
				hs[i] = m.ReceiptHandle
			}
			if err := q.Delete(ctx, hs); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
