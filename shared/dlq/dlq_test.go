package dlq_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/dlq"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/queue/localq"
	"github.com/cronless/cronless/shared/sqlite"
	"github.com/cronless/cronless/shared/sqsevent"
)

// queues returns a fresh local dead-letter queue and its source queue.
func queues(t *testing.T) (dead, source *localq.Queue) {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "q.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	b, err := localq.New(db)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if dead, err = b.CreateQueue(ctx, "targets-dlq", localq.Config{}); err != nil {
		t.Fatal(err)
	}
	if source, err = b.CreateQueue(ctx, "targets", localq.Config{MaxReceiveCount: 3, DeadLetterQueue: "targets-dlq"}); err != nil {
		t.Fatal(err)
	}
	return dead, source
}

// jobBody is the body of a job message for target of run.
func jobBody(t *testing.T, run, target string) string {
	t.Helper()
	body, err := job.Encode(job.Job{V: 1, RunID: run, TargetID: target, URL: "https://example.com/" + target,
		ScheduledAt: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// send sends msgs in batches.
func send(t *testing.T, q queue.Queue, msgs ...queue.Outgoing) {
	t.Helper()
	for i := 0; i < len(msgs); i += queue.MaxBatch {
		batch := msgs[i:min(i+queue.MaxBatch, len(msgs))]
		for j := range batch {
			batch[j].ID = fmt.Sprintf("e%d", j)
		}
		if err := q.SendBatch(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
}

// jobs returns n job messages of run r1, targets t0…t(n-1).
func jobs(t *testing.T, n int) []queue.Outgoing {
	t.Helper()
	out := make([]queue.Outgoing, n)
	for i := range out {
		target := fmt.Sprintf("t%d", i)
		out[i] = queue.Outgoing{Body: jobBody(t, "r1", target), Attributes: job.Attributes("r1", target)}
	}
	return out
}

// depth returns a queue's depth.
func depth(t *testing.T, q queue.Queue) queue.Depth {
	t.Helper()
	d, err := q.Depth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// wantVisible checks that q holds exactly n messages, all visible.
func wantVisible(t *testing.T, q queue.Queue, n int) {
	t.Helper()
	if d := depth(t, q); d.Visible != n || d.InFlight != 0 || d.Delayed != 0 {
		t.Errorf("%s: %+v, want %d visible and nothing in flight", q.Name(), d, n)
	}
}

// drain receives and deletes every message of q and returns them.
func drain(t *testing.T, q queue.Queue) []queue.Message {
	t.Helper()
	ctx := context.Background()
	var all []queue.Message
	for {
		msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			return all
		}
		var rh []string
		for _, m := range msgs {
			rh = append(rh, m.ReceiptHandle)
		}
		if err := q.Delete(ctx, rh); err != nil {
			t.Fatal(err)
		}
		all = append(all, msgs...)
	}
}

// history is a fake error history.
type history struct {
	mu       sync.Mutex
	attempts map[[2]string][]job.Attempt
	calls    int
	delay    time.Duration // the first call sleeps this long
	err      error
}

func (h *history) add(run, target string, kinds ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.attempts == nil {
		h.attempts = map[[2]string][]job.Attempt{}
	}
	for i, k := range kinds {
		h.attempts[[2]string{run, target}] = append(h.attempts[[2]string{run, target}], job.Attempt{
			V: 1, RunID: run, TargetID: target, Attempt: i + 1, At: time.Unix(int64(i), 0).UTC(),
			Error: job.Error{Kind: k, Message: k + " happened"},
		})
	}
}

func (h *history) Attempts(ctx context.Context, run, target string) ([]job.Attempt, error) {
	h.mu.Lock()
	h.calls++
	first := h.calls == 1
	h.mu.Unlock()
	if first && h.delay > 0 {
		time.Sleep(h.delay)
	}
	if h.err != nil {
		return nil, h.err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.attempts[[2]string{run, target}], nil
}

func TestListExplainsAndLeavesEveryMessageVisible(t *testing.T) {
	dead, source := queues(t)
	send(t, dead, jobs(t, 23)...)
	// A message a handler dead-lettered itself: its attributes explain it,
	// and the history is not consulted for it.
	send(t, dead, queue.Outgoing{Body: "not json", Attributes: map[string]string{
		job.AttrRunID: "r1", job.AttrTargetID: "t0",
		sqsevent.AttrErrorKind: sqsevent.KindBadMessage, sqsevent.AttrErrorMessage: "invalid message: job: trailing data",
	}})
	h := &history{}
	h.add("r1", "t0", "http_5xx", "timeout")
	h.add("r1", "t1", "connection")

	letters, err := dlq.List(context.Background(), dead, dlq.Options{History: h})
	if err != nil {
		t.Fatal(err)
	}
	if len(letters) != 24 {
		t.Fatalf("listed %d, want 24", len(letters))
	}
	byTarget := map[string][]dlq.Letter{}
	for _, l := range letters {
		byTarget[l.TargetID] = append(byTarget[l.TargetID], l)
		if l.ReceiveCount != 0 {
			t.Errorf("%s: receive count %d, want 0 (as before the listing)", l.ID, l.ReceiveCount)
		}
		if l.Queue != "targets-dlq" || l.SentAt.IsZero() {
			t.Errorf("letter %+v lacks its queue or sent time", l)
		}
	}
	for _, l := range byTarget["t0"] {
		switch {
		case l.Body == "not json":
			if l.LastError == nil || l.LastError.Kind != sqsevent.KindBadMessage || l.LastError.Source != dlq.SourceAttributes {
				t.Errorf("handler dead letter explained as %+v", l.LastError)
			}
		default:
			if e := l.LastError; e == nil || e.Kind != "timeout" || e.Attempt != 2 || e.Source != dlq.SourceHistory {
				t.Errorf("t0 explained as %+v, want its last attempt (timeout, attempt 2)", e)
			}
			if l.URL != "https://example.com/t0" || l.RunID != "r1" {
				t.Errorf("t0 = %+v", l)
			}
		}
	}
	if e := byTarget["t1"][0].LastError; e == nil || e.Kind != "connection" {
		t.Errorf("t1 explained as %+v", e)
	}
	if e := byTarget["t2"][0].LastError; e != nil {
		t.Errorf("t2 has no history but is explained as %+v", e)
	}
	wantVisible(t, dead, 24)
	wantVisible(t, source, 0)

	// A second listing sees the same messages, each once more received.
	again, err := dlq.List(context.Background(), dead, dlq.Options{Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 5 || again[0].ReceiveCount != 1 {
		t.Errorf("second listing with limit 5: %d letters, first count %d; want 5 and 1", len(again), again[0].ReceiveCount)
	}
	wantVisible(t, dead, 24)
}

func TestListKeepsMessagesHiddenWhileItWorks(t *testing.T) {
	dead, _ := queues(t)
	send(t, dead, jobs(t, 25)...)
	// The first lookup takes longer than the visibility timeout: without
	// the holds being extended, the first batch would come round again.
	h := &history{delay: 1500 * time.Millisecond}
	letters, err := dlq.List(context.Background(), dead, dlq.Options{History: h, Visibility: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, l := range letters {
		if seen[l.ID] {
			t.Errorf("message %s listed twice", l.ID)
		}
		seen[l.ID] = true
	}
	if len(seen) != 25 {
		t.Errorf("listed %d distinct messages, want 25", len(seen))
	}
	wantVisible(t, dead, 25)
}

func TestListReleasesOnError(t *testing.T) {
	dead, _ := queues(t)
	send(t, dead, jobs(t, 15)...)
	_, err := dlq.List(context.Background(), dead, dlq.Options{History: &history{err: errors.New("store down")}})
	if err == nil || !strings.Contains(err.Error(), "store down") {
		t.Fatalf("err = %v, want the store's", err)
	}
	wantVisible(t, dead, 15)

	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	_, err = dlq.List(ctx, dead, dlq.Options{Progress: func(dlq.Progress) {
		if n++; n == 1 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	wantVisible(t, dead, 15)
}

func TestFilter(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	l := dlq.Letter{TargetID: "a", RunID: "r1", SentAt: now.Add(-2 * time.Hour), LastError: &dlq.ErrorInfo{Kind: "http_5xx"}}
	tests := []struct {
		f    dlq.Filter
		want bool
	}{
		{dlq.Filter{}, true},
		{dlq.Filter{TargetID: "a"}, true},
		{dlq.Filter{TargetID: "b"}, false},
		{dlq.Filter{RunID: "r1", TargetID: "a"}, true},
		{dlq.Filter{RunID: "r2"}, false},
		{dlq.Filter{ErrorKind: "http_5xx"}, true},
		{dlq.Filter{ErrorKind: "timeout"}, false},
		{dlq.Filter{OlderThan: time.Hour}, true},
		{dlq.Filter{OlderThan: 3 * time.Hour}, false},
	}
	for _, tt := range tests {
		if got := tt.f.Match(l, now); got != tt.want {
			t.Errorf("%s: match = %v, want %v", tt.f, got, tt.want)
		}
	}
	if (dlq.Filter{ErrorKind: "x"}).Match(dlq.Letter{}, now) {
		t.Error("a letter without an error matched an error kind")
	}
	if (dlq.Filter{OlderThan: time.Second}).Match(dlq.Letter{}, now) {
		t.Error("a letter without a sent time matched --older-than")
	}
}

func TestFind(t *testing.T) {
	dead, _ := queues(t)
	send(t, dead, jobs(t, 12)...)
	all, err := dlq.List(context.Background(), dead, dlq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := all[11]
	got, err := dlq.Find(context.Background(), dead, want.ID, dlq.Options{})
	if err != nil || got.ID != want.ID || got.Body != want.Body {
		t.Errorf("Find = %+v, %v; want %s", got, err, want.ID)
	}
	if _, err := dlq.Find(context.Background(), dead, "no-such-id", dlq.Options{}); !errors.Is(err, dlq.ErrNotFound) {
		t.Errorf("Find of a missing ID: %v, want ErrNotFound", err)
	}
	wantVisible(t, dead, 12)
}

// failingSender wraps a queue and fails some entries of its sends, or all
// of them.
type failingSender struct {
	queue.Queue
	failBody  string // entries with this body fail (sender fault)
	failWhole error
	sends     atomic.Int32
}

func (f *failingSender) SendBatch(ctx context.Context, msgs []queue.Outgoing) error {
	f.sends.Add(1)
	if f.failWhole != nil {
		return f.failWhole
	}
	var ok []queue.Outgoing
	var bad []queue.EntryError
	for _, m := range msgs {
		if m.Body == f.failBody {
			bad = append(bad, queue.EntryError{ID: m.ID, Err: errors.New("rejected"), SenderFault: true})
			continue
		}
		ok = append(ok, m)
	}
	if len(ok) > 0 {
		if err := f.Queue.SendBatch(ctx, ok); err != nil {
			return err
		}
	}
	if len(bad) > 0 {
		return &queue.BatchError{Failed: bad}
	}
	return nil
}

func TestReplayMovesMatchingMessagesBack(t *testing.T) {
	dead, source := queues(t)
	msgs := jobs(t, 14)
	msgs[3].Attributes[sqsevent.AttrErrorKind] = sqsevent.KindBadMessage
	msgs[3].Attributes[sqsevent.AttrErrorMessage] = "bad"
	msgs[3].Attributes[sqsevent.AttrOriginalMessageID] = "m-3"
	msgs[3].Attributes[sqsevent.AttrSourceQueue] = "arn:aws:sqs:local:000000000000:targets"
	send(t, dead, msgs...)
	h := &history{}
	h.add("r1", "t5", "http_5xx")
	h.add("r1", "t6", "timeout")

	var reported []dlq.Action
	sum, err := dlq.Replay(context.Background(), dead, source, dlq.ReplayOptions{
		Options: dlq.Options{History: h, Filter: dlq.Filter{ErrorKind: "http_5xx"}},
		Report:  func(l dlq.Letter, a dlq.Action, err error) { reported = append(reported, a) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Moved != 1 || sum.Skipped != 13 || sum.Failed != 0 || sum.Received != 14 || len(reported) != 1 || reported[0] != dlq.ActionMoved {
		t.Errorf("summary %+v, reported %v; want 1 moved, 13 skipped", sum, reported)
	}
	wantVisible(t, dead, 13)
	got := drain(t, source)
	if len(got) != 1 || got[0].Attributes[job.AttrTargetID] != "t5" || got[0].Body != jobBody(t, "r1", "t5") {
		t.Fatalf("source holds %+v, want t5's job as it was", got)
	}

	// The handler's error attributes are dropped; the others are kept.
	sum, err = dlq.Replay(context.Background(), dead, source, dlq.ReplayOptions{Options: dlq.Options{Filter: dlq.Filter{ErrorKind: sqsevent.KindBadMessage}}})
	if err != nil || sum.Moved != 1 {
		t.Fatalf("replay bad_message: %+v, %v", sum, err)
	}
	got = drain(t, source)
	if len(got) != 1 {
		t.Fatalf("source holds %d, want 1", len(got))
	}
	want := map[string]string{job.AttrRunID: "r1", job.AttrTargetID: "t3"}
	if fmt.Sprint(got[0].Attributes) != fmt.Sprint(want) {
		t.Errorf("replayed attributes %v, want %v", got[0].Attributes, want)
	}

	// A dry run changes nothing.
	sum, err = dlq.Replay(context.Background(), dead, source, dlq.ReplayOptions{DryRun: true, Options: dlq.Options{Filter: dlq.Filter{RunID: "r1"}}})
	if err != nil || sum.Moved != 12 || !sum.DryRun {
		t.Fatalf("dry run: %+v, %v", sum, err)
	}
	wantVisible(t, dead, 12)
	wantVisible(t, source, 0)

	// A limit, under a rate.
	sum, err = dlq.Replay(context.Background(), dead, source, dlq.ReplayOptions{Rate: 50, Options: dlq.Options{Limit: 4}})
	if err != nil || sum.Moved != 4 || sum.Matched != 4 {
		t.Fatalf("limit 4: %+v, %v", sum, err)
	}
	wantVisible(t, dead, 8)
	wantVisible(t, source, 4)
}

func TestReplayNeverDeletesWhatWasNotSent(t *testing.T) {
	dead, source := queues(t)
	msgs := jobs(t, 12)
	send(t, dead, msgs...)

	// Some entries rejected: they stay in the DLQ and count as failed.
	f := &failingSender{Queue: source, failBody: msgs[2].Body}
	sum, err := dlq.Replay(context.Background(), dead, f, dlq.ReplayOptions{})
	if err != nil || sum.Moved != 11 || sum.Failed != 1 {
		t.Fatalf("partial failure: %+v, %v; want 11 moved, 1 failed", sum, err)
	}
	wantVisible(t, dead, 1)
	wantVisible(t, source, 11)
	if left := drain(t, dead); len(left) != 1 || left[0].Body != msgs[2].Body {
		t.Errorf("DLQ holds %+v, want the rejected message", left)
	}

	// The whole send fails: the replay stops and nothing is deleted.
	send(t, dead, jobs(t, 5)...)
	f = &failingSender{Queue: source, failWhole: errors.New("connection refused")}
	sum, err = dlq.Replay(context.Background(), dead, f, dlq.ReplayOptions{})
	if err == nil || !strings.Contains(err.Error(), "connection refused") || sum.Moved != 0 || sum.Failed != 5 {
		t.Fatalf("whole failure: %+v, %v", sum, err)
	}
	wantVisible(t, dead, 5)
}

// failingDeletes fails every delete.
type failingDeletes struct{ *localq.Queue }

func (failingDeletes) Delete(context.Context, []string) error { return errors.New("delete refused") }

func TestReplayThatCannotDeleteLeavesADuplicate(t *testing.T) {
	dead, source := queues(t)
	send(t, dead, jobs(t, 3)...)
	var actions []dlq.Action
	sum, err := dlq.Replay(context.Background(), failingDeletes{dead}, source, dlq.ReplayOptions{
		Report: func(_ dlq.Letter, a dlq.Action, _ error) { actions = append(actions, a) },
	})
	if err != nil || sum.Moved != 0 || sum.Failed != 3 {
		t.Fatalf("%+v, %v; want 3 failed", sum, err)
	}
	for _, a := range actions {
		if a != dlq.ActionDuplicated {
			t.Errorf("action %q, want %q", a, dlq.ActionDuplicated)
		}
	}
	// In both queues: never lost.
	wantVisible(t, dead, 3)
	wantVisible(t, source, 3)
}

func TestReplayInterruptedLosesNothing(t *testing.T) {
	dead, source := queues(t)
	send(t, dead, jobs(t, 30)...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	moved := 0
	sum, err := dlq.Replay(ctx, dead, source, dlq.ReplayOptions{Rate: 5, Report: func(_ dlq.Letter, a dlq.Action, _ error) {
		if moved++; moved == 3 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// The chunk being sent when the context was cancelled is completed
	// (sent, then deleted), and nothing else moves.
	if sum.Moved < 3 || sum.Moved >= 30 {
		t.Errorf("moved %d, want from 3 to 29", sum.Moved)
	}
	wantVisible(t, dead, 30-sum.Moved)
	wantVisible(t, source, sum.Moved)
}

func TestPacer(t *testing.T) {
	// Not a timing assertion: a low rate sends one message at a time and
	// still completes.
	dead, source := queues(t)
	send(t, dead, jobs(t, 3)...)
	sizes := &countingSender{Queue: source}
	sum, err := dlq.Replay(context.Background(), dead, sizes, dlq.ReplayOptions{Rate: 20})
	if err != nil || sum.Moved != 3 {
		t.Fatalf("%+v, %v", sum, err)
	}
	if fmt.Sprint(sizes.sizes) != "[3]" {
		// 20/s allows batches of 10
		t.Errorf("batch sizes %v, want [3]", sizes.sizes)
	}
	send(t, dead, jobs(t, 3)...)
	sizes = &countingSender{Queue: source}
	if _, err := dlq.Replay(context.Background(), dead, sizes, dlq.ReplayOptions{Rate: 30}); err != nil {
		t.Fatal(err)
	}
	send(t, dead, jobs(t, 2)...)
	sizes = &countingSender{Queue: source}
	if _, err := dlq.Replay(context.Background(), dead, sizes, dlq.ReplayOptions{Rate: 1.5}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sizes.sizes) != "[1 1]" {
		t.Errorf("batch sizes under 1.5/s: %v, want one at a time", sizes.sizes)
	}
}

type countingSender struct {
	queue.Queue
	sizes []int
}

func (c *countingSender) SendBatch(ctx context.Context, msgs []queue.Outgoing) error {
	c.sizes = append(c.sizes, len(msgs))
	return c.Queue.SendBatch(ctx, msgs)
}

// archive is a fake archive that can fail.
type archive struct {
	bytes.Buffer
	failWrite, failSync bool
	syncs               int
}

func (a *archive) Write(p []byte) (int, error) {
	if a.failWrite {
		return 0, errors.New("disk full")
	}
	return a.Buffer.Write(p)
}

func (a *archive) Sync() error {
	if a.failSync {
		return errors.New("fsync failed")
	}
	a.syncs++
	return nil
}

func TestPurgeArchivesBeforeDeleting(t *testing.T) {
	dead, _ := queues(t)
	send(t, dead, jobs(t, 15)...)

	for _, bad := range []*archive{{failWrite: true}, {failSync: true}} {
		sum, err := dlq.Purge(context.Background(), dead, dlq.PurgeOptions{Archive: bad})
		if err == nil || sum.Purged != 0 {
			t.Errorf("purge with a failing archive: %+v, %v; want an error and nothing purged", sum, err)
		}
		wantVisible(t, dead, 15)
	}

	a := &archive{}
	sum, err := dlq.Purge(context.Background(), dead, dlq.PurgeOptions{Archive: a, Options: dlq.Options{Filter: dlq.Filter{RunID: "r1"}, Limit: 12}})
	if err != nil || sum.Purged != 12 || sum.Skipped != 3 {
		t.Fatalf("purge: %+v, %v", sum, err)
	}
	wantVisible(t, dead, 3)
	lines := strings.Split(strings.TrimSpace(a.String()), "\n")
	if len(lines) != 12 || a.syncs == 0 {
		t.Fatalf("archive has %d lines, %d syncs; want 12 and at least one", len(lines), a.syncs)
	}
	var rec dlq.Archived
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil || rec.ID == "" || rec.Body == "" || rec.ArchivedAt.IsZero() || rec.Attributes[job.AttrRunID] != "r1" {
		t.Errorf("archive line %s: %+v, %v", lines[0], rec, err)
	}

	sum, err = dlq.Purge(context.Background(), dead, dlq.PurgeOptions{DryRun: true})
	if err != nil || sum.Purged != 3 {
		t.Fatalf("dry run: %+v, %v", sum, err)
	}
	wantVisible(t, dead, 3)
}

// mover is a fake of SQS's move tasks.
type mover struct {
	mu        sync.Mutex
	tasks     []queue.MoveTask // newest first
	polls     int
	cancelled []string
	startErr  error
}

func (m *mover) StartMove(ctx context.Context, dst string, perSecond int) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.startErr != nil {
		return "", m.startErr
	}
	h := fmt.Sprintf("task-%d", len(m.tasks)+1)
	m.tasks = append([]queue.MoveTask{{Handle: h, Status: queue.MoveRunning, MaxPerSecond: perSecond, ToMove: 30}}, m.tasks...)
	return h, nil
}

// ListMoves advances the newest running task by 10 messages a poll, and
// drops its handle when it completes, as SQS does.
func (m *mover) ListMoves(ctx context.Context) ([]queue.MoveTask, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.polls++
	if len(m.tasks) > 0 && m.tasks[0].Status == queue.MoveRunning && m.polls > 1 {
		t := &m.tasks[0]
		t.Moved += 10
		if t.Moved >= t.ToMove {
			t.Status, t.Handle = queue.MoveCompleted, ""
		}
	}
	return append([]queue.MoveTask(nil), m.tasks...), nil
}

func (m *mover) CancelMove(ctx context.Context, handle string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.tasks {
		if m.tasks[i].Handle == handle && m.tasks[i].Status == queue.MoveRunning {
			m.tasks[i].Status = queue.MoveCancelling
			m.cancelled = append(m.cancelled, handle)
			return m.tasks[i].Moved, nil
		}
	}
	return 0, errors.New("no such task")
}

func TestNativeMove(t *testing.T) {
	ctx := context.Background()
	m := &mover{tasks: []queue.MoveTask{{Status: queue.MoveCompleted, Moved: 3}}}
	if _, err := dlq.StartMove(ctx, m, 501); err == nil {
		t.Error("a rate above 500 was accepted")
	}
	h, err := dlq.StartMove(ctx, m, 50)
	if err != nil || h != "task-2" {
		t.Fatalf("StartMove = %q, %v", h, err)
	}
	// One task at a time.
	if _, err := dlq.StartMove(ctx, m, 0); err == nil || !strings.Contains(err.Error(), "task-2") {
		t.Errorf("a second start: %v, want a refusal naming the running task", err)
	}
	var seen []int64
	last, err := dlq.WatchMove(ctx, m, h, time.Millisecond, func(t queue.MoveTask) { seen = append(seen, t.Moved) })
	if err != nil || last.Status != queue.MoveCompleted || last.Moved != 30 {
		t.Fatalf("WatchMove = %+v, %v", last, err)
	}
	if len(seen) < 2 || seen[len(seen)-1] != 30 {
		t.Errorf("progress %v, want each poll told, up to 30", seen)
	}

	// Ctrl-C stops the watch, not the task.
	h, _ = dlq.StartMove(ctx, m, 0)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := dlq.WatchMove(cctx, m, h, time.Hour, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled watch: %v", err)
	}
	got, moved, err := dlq.CancelMove(ctx, m, "")
	if err != nil || got != h || moved == 0 {
		t.Errorf("CancelMove = %q, %d, %v; want %s", got, moved, err, h)
	}
	if _, _, err := dlq.CancelMove(ctx, m, ""); !errors.Is(err, dlq.ErrNoRunningMove) {
		t.Errorf("CancelMove with nothing running: %v, want ErrNoRunningMove", err)
	}
	m.startErr = errors.New("InvalidAction")
	m.tasks = nil
	if _, err := dlq.StartMove(ctx, m, 0); err == nil || !strings.Contains(err.Error(), "InvalidAction") {
		t.Errorf("start error: %v", err)
	}
}

// losingQueue loses the response of one receive, as when the SDK retried a
// ReceiveMessage whose first attempt the server had served: that attempt's
// messages are hidden, held by no one, and the caller gets the retry's.
type losingQueue struct {
	*localq.Queue
	mu    sync.Mutex
	calls int
	lost  []string // IDs of the messages lost
}

func (q *losingQueue) Receive(ctx context.Context, opts queue.ReceiveOptions) ([]queue.Message, error) {
	q.mu.Lock()
	q.calls++
	lose := q.calls == 2
	q.mu.Unlock()
	if lose {
		msgs, err := q.Queue.Receive(ctx, opts)
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			q.lost = append(q.lost, m.ID)
		}
	}
	return q.Queue.Receive(ctx, opts)
}

func TestListWaitsForMessagesALostReceiveHid(t *testing.T) {
	dead, _ := queues(t)
	send(t, dead, jobs(t, 35)...)
	q := &losingQueue{Queue: dead}
	letters, err := dlq.List(context.Background(), q, dlq.Options{Visibility: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, l := range letters {
		seen[l.ID] = true
	}
	if len(q.lost) != queue.MaxBatch || len(seen) != 35 || len(letters) != 35 {
		t.Errorf("lost %d in a receive, listed %d (%d distinct); want 10 lost, and all 35 listed once", len(q.lost), len(letters), len(seen))
	}
	for _, id := range q.lost {
		if !seen[id] {
			t.Errorf("message %s, hidden by the lost receive, was not listed", id)
		}
	}
	wantVisible(t, dead, 35)

	// Replay and purge see them too.
	q = &losingQueue{Queue: dead}
	sum, err := dlq.Purge(context.Background(), q, dlq.PurgeOptions{Options: dlq.Options{Visibility: time.Second}})
	if err != nil || sum.Purged != 35 {
		t.Errorf("purge after a lost receive: %+v, %v; want 35 purged", sum, err)
	}
	wantVisible(t, dead, 0)
}

func TestListReportsMessagesHeldElsewhere(t *testing.T) {
	dead, _ := queues(t)
	send(t, dead, jobs(t, 12)...)
	// Someone else holds three, for longer than the scan waits.
	held, err := dead.Receive(context.Background(), queue.ReceiveOptions{Max: 3, Visibility: time.Minute})
	if err != nil || len(held) != 3 {
		t.Fatalf("receive: %d, %v", len(held), err)
	}
	letters, err := dlq.List(context.Background(), dead, dlq.Options{Visibility: time.Second})
	if !errors.Is(err, dlq.ErrIncomplete) || !strings.Contains(err.Error(), "3 messages") || len(letters) != 9 {
		t.Errorf("List = %d letters, %v; want the 9 visible and ErrIncomplete naming 3", len(letters), err)
	}
	if _, err := dlq.Find(context.Background(), dead, held[0].ID, dlq.Options{Visibility: time.Second}); !errors.Is(err, dlq.ErrNotFound) || !errors.Is(err, dlq.ErrIncomplete) {
		t.Errorf("Find of a message held elsewhere: %v; want ErrNotFound and ErrIncomplete", err)
	}
	if d := depth(t, dead); d.Visible != 9 || d.InFlight != 3 {
		t.Errorf("after the listings: %+v; want 9 visible, the 3 held elsewhere in flight", d)
	}
}

// deadLetterAgain sends every message it is given to the source queue and,
// like a worker rejecting a poison message at once, straight back to the DLQ.
type deadLetterAgain struct {
	*localq.Queue
	dlq queue.Queue
}

func (d *deadLetterAgain) SendBatch(ctx context.Context, msgs []queue.Outgoing) error {
	if err := d.Queue.SendBatch(ctx, msgs); err != nil {
		return err
	}
	return d.dlq.SendBatch(ctx, msgs)
}

// A replay moves only what was in the DLQ when it started: a message that
// is dead-lettered again meanwhile is not replayed over and over.
func TestReplayEndsWhenMessagesComeBack(t *testing.T) {
	dead, source := queues(t)
	send(t, dead, jobs(t, 12)...)
	time.Sleep(5 * time.Millisecond) // sent strictly before the replay starts
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sum, err := dlq.Replay(ctx, dead, &deadLetterAgain{Queue: source, dlq: dead}, dlq.ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Moved != 12 {
		t.Errorf("moved %d, want the 12 messages there at the start (summary %+v)", sum.Moved, sum)
	}
	wantVisible(t, dead, 12) // the copies that came back, left for a later replay
}
