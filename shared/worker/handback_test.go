package worker_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/cronless/cronless/shared/crawl"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/sqsevent"
	"github.com/cronless/cronless/shared/worker"
)

// TestHandleHandsBack: a job whose page could not start in time (a
// crawl.Deferred), or that is not due yet (not_before), is sent again to the
// targets queue with a delay and its record is done: not in
// BatchItemFailures (SQS would count the receive), no failed attempt, no
// result. Deferrals are counted; past job.MaxDeferrals the job is
// dead-lettered as host_busy with its count reset.
func TestHandleHandsBack(t *testing.T) {
	now := scheduledAt.Add(time.Minute)
	deferredErr := &crawl.Deferred{Host: "busy.example.com", Ahead: 6, After: 4 * time.Second, Why: "the host's 2 page slots were busy"}
	tests := []struct {
		name      string
		job       func(*job.Job)
		fetchErr  error
		requeue   *fakeSender // nil: no worker.WithRequeue
		wantDelay time.Duration
		wantDefer int  // deferrals of the job handed back
		wantFetch bool // the page was fetched (tried)
		wantFail  bool // the record is in BatchItemFailures
		wantDLQ   bool
	}{
		{name: "deferred", fetchErr: deferredErr, requeue: &fakeSender{}, wantDelay: 4 * time.Second, wantDefer: 1, wantFetch: true},
		{name: "deferred again", job: func(j *job.Job) { j.Deferrals = 5 }, fetchErr: deferredErr, requeue: &fakeSender{}, wantDelay: 4 * time.Second, wantDefer: 6, wantFetch: true},
		{name: "deferred too often", job: func(j *job.Job) { j.Deferrals = job.MaxDeferrals }, fetchErr: deferredErr, requeue: &fakeSender{}, wantFetch: true, wantDLQ: true},
		{name: "long deferral capped at SQS's 15 minutes", fetchErr: &crawl.Deferred{Host: "h", After: time.Hour}, requeue: &fakeSender{}, wantDelay: 15 * time.Minute, wantDefer: 1, wantFetch: true},
		{name: "not due yet", job: func(j *job.Job) { j.NotBefore = now.Add(90*time.Second + 300*time.Millisecond) }, requeue: &fakeSender{}, wantDelay: 91 * time.Second},
		{name: "not due for an hour", job: func(j *job.Job) { j.NotBefore = now.Add(time.Hour) }, requeue: &fakeSender{}, wantDelay: 15 * time.Minute},
		{name: "due within the second", job: func(j *job.Job) { j.NotBefore = now.Add(500 * time.Millisecond) }, requeue: &fakeSender{}, wantFetch: true},
		{name: "hand-back send fails", fetchErr: deferredErr, requeue: &fakeSender{fail: func(int, []queue.Outgoing) error { return errBoom }}, wantDelay: 4 * time.Second, wantDefer: 1, wantFetch: true, wantFail: true},
		{name: "no targets queue: returned to SQS", fetchErr: deferredErr, wantDelay: 4 * time.Second, wantFetch: true, wantFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := testJob("a")
			if tt.job != nil {
				tt.job(&j)
			}
			f := &fakeFetcher{errs: map[string]error{}}
			if tt.fetchErr != nil {
				f.errs["a"] = tt.fetchErr
			}
			results, dlq, vis := &fakeSender{}, &fakeSender{}, &fakeVisibility{}
			opts := []worker.Option{worker.WithDeadLetters(dlq), worker.WithClock(func() time.Time { return now }), worker.WithLogger(zap.NewNop()),
				worker.WithRetryDelay(vis, worker.Backoff(time.Second, time.Hour))}
			if tt.requeue != nil {
				opts = append(opts, worker.WithRequeue(tt.requeue))
			}
			resp, err := worker.New(f, results, opts...).Handle(context.Background(), event(record("m-a", jobBody(t, j), 3)))
			if err != nil {
				t.Fatal(err)
			}
			if got := len(f.fetched()) == 1; got != tt.wantFetch {
				t.Errorf("fetched = %v, want %v", got, tt.wantFetch)
			}
			if failed := slices.Contains(failureIDs(resp), "m-a"); failed != tt.wantFail {
				t.Errorf("in BatchItemFailures = %v, want %v", failed, tt.wantFail)
			}
			if tt.wantFetch && tt.fetchErr == nil {
				if rs := results.results(t); rs["a"].Status != job.StatusOK {
					t.Errorf("a due job was not crawled to a result: %+v", rs)
				}
				return
			}
			if n := len(results.sent()); n != 0 {
				t.Errorf("%d results or attempts sent for a job handed back, want none", n)
			}
			if tt.wantDLQ {
				letters := dlq.sent()
				if len(letters) != 1 || letters[0].Attributes[sqsevent.AttrErrorKind] != worker.KindHostBusy ||
					!strings.Contains(letters[0].Attributes[sqsevent.AttrErrorMessage], "handed back 20 times for want of a slot at busy.example.com") {
					t.Fatalf("dead letters = %+v, want one host_busy naming the count and the host", letters)
				}
				dj, err := job.DecodeJob([]byte(letters[0].Body))
				if err != nil || dj.Deferrals != 0 || dj.TargetID != "a" {
					t.Errorf("dead-lettered job %+v (%v), want job a with its deferrals reset for a replay", dj, err)
				}
				if n := len(tt.requeue.sent()); n != 0 {
					t.Errorf("%d jobs handed back too", n)
				}
				return
			}
			if tt.requeue == nil {
				if v := vis.all(); len(v) != 1 || v[0].d != tt.wantDelay {
					t.Errorf("visibility changes %+v, want one of %s", v, tt.wantDelay)
				}
				return
			}
			sent := tt.requeue.sent()
			if len(sent) != 1 {
				t.Fatalf("%d jobs handed back, want 1", len(sent))
			}
			back, err := job.DecodeJob([]byte(sent[0].Body))
			if err != nil {
				t.Fatal(err)
			}
			if sent[0].Delay != tt.wantDelay || back.Deferrals != tt.wantDefer || !back.NotBefore.Equal(j.NotBefore) || back.URL != j.URL {
				t.Errorf("handed back with delay %s, deferrals %d, not_before %v; want %s, %d and the job's own %v",
					sent[0].Delay, back.Deferrals, back.NotBefore, tt.wantDelay, tt.wantDefer, j.NotBefore)
			}
			if sent[0].Attributes[job.AttrTargetID] != "a" || sent[0].Attributes[job.AttrRunID] != runID {
				t.Errorf("attributes %v", sent[0].Attributes)
			}
		})
	}
}
