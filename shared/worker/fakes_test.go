package worker_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cronless/cronless/shared/crawl"
	"github.com/cronless/cronless/shared/inflight"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/queue"
)

// probe measures how many calls of a fake are in flight at once.
type probe = inflight.Probe

var newProbe = inflight.New

// fakeFetcher answers by target ID: a page, or an error. Targets it does
// not know get an ok page. It records every job it is given.
type fakeFetcher struct {
	mu    sync.Mutex
	jobs  []job.Job
	pages map[string]crawl.Page
	errs  map[string]error
	probe *probe
	// during, when set, runs inside Fetch (e.g. to cancel the context).
	during func(ctx context.Context, j job.Job) error
}

func (f *fakeFetcher) Fetch(ctx context.Context, j job.Job) (crawl.Page, error) {
	if f.probe != nil {
		f.probe.Enter()
		defer f.probe.Exit()
	}
	f.mu.Lock()
	f.jobs = append(f.jobs, j)
	f.mu.Unlock()
	if f.during != nil {
		if err := f.during(ctx, j); err != nil {
			return crawl.Page{}, err
		}
	}
	if err, ok := f.errs[j.TargetID]; ok {
		return crawl.Page{}, err
	}
	if p, ok := f.pages[j.TargetID]; ok {
		return p, nil
	}
	return okPage(j.URL), nil
}

func (f *fakeFetcher) fetched() []job.Job {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.jobs)
}

func okPage(url string) crawl.Page {
	return crawl.Page{URL: url, HTTPStatus: 200, Fields: map[string]any{"title": "Hello"}, ContentHash: "hash-of-" + url}
}

// fakeSender records every batch; fail, when set, decides a batch's error.
// Like a real queue client, it fails when its context is done.
type fakeSender struct {
	mu      sync.Mutex
	batches [][]queue.Outgoing
	fail    func(call int, batch []queue.Outgoing) error
}

func (s *fakeSender) SendBatch(ctx context.Context, msgs []queue.Outgoing) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("send batch: %w", err)
	}
	s.mu.Lock()
	call := len(s.batches)
	s.batches = append(s.batches, slices.Clone(msgs))
	s.mu.Unlock()
	if len(msgs) == 0 || len(msgs) > queue.MaxBatch {
		return queue.ErrBatchTooLarge
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		if seen[m.ID] {
			return fmt.Errorf("entry ID %q is not unique in its batch", m.ID)
		}
		seen[m.ID] = true
	}
	if s.fail != nil {
		return s.fail(call, msgs)
	}
	return nil
}

func (s *fakeSender) sent() []queue.Outgoing {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []queue.Outgoing
	for _, b := range s.batches {
		all = append(all, b...)
	}
	return all
}

func (s *fakeSender) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.batches)
}

// isAttempt reports whether a results-queue message carries a failed
// attempt rather than a result.
func isAttempt(m queue.Outgoing) bool { return m.Attributes[job.AttrType] == job.TypeAttempt }

// results decodes the sent results (not the failed attempts) by target ID.
func (s *fakeSender) results(t *testing.T) map[string]job.Result {
	t.Helper()
	out := map[string]job.Result{}
	for _, m := range s.sent() {
		if isAttempt(m) {
			continue
		}
		r, err := job.DecodeResult([]byte(m.Body))
		if err != nil {
			t.Fatalf("sent result does not decode: %v\n%s", err, m.Body)
		}
		if !maps.Equal(m.Attributes, job.Attributes(r.RunID, r.TargetID)) {
			t.Errorf("result %s: attributes %v do not match its body", r.TargetID, m.Attributes)
		}
		out[r.TargetID] = r
	}
	return out
}

// attempts decodes the sent failed attempts, in the order sent, checking
// that each carries the attributes the results handler dispatches on.
func (s *fakeSender) attempts(t *testing.T) []job.Attempt {
	t.Helper()
	var out []job.Attempt
	for _, m := range s.sent() {
		if !isAttempt(m) {
			continue
		}
		a, err := job.DecodeAttempt([]byte(m.Body))
		if err != nil {
			t.Fatalf("sent attempt does not decode: %v\n%s", err, m.Body)
		}
		want := job.Attributes(a.RunID, a.TargetID)
		want[job.AttrType] = job.TypeAttempt
		if !maps.Equal(m.Attributes, want) {
			t.Errorf("attempt %s: attributes %v, want %v", a.TargetID, m.Attributes, want)
		}
		out = append(out, a)
	}
	return out
}

// attemptTargets returns the target IDs of the sent failed attempts, sorted.
func (s *fakeSender) attemptTargets(t *testing.T) []string {
	t.Helper()
	out := []string{}
	for _, a := range s.attempts(t) {
		out = append(out, a.TargetID)
	}
	slices.Sort(out)
	return out
}

type visibilityChange struct {
	handle string
	d      time.Duration
}

// fakeVisibility records visibility changes; err makes them fail.
type fakeVisibility struct {
	mu      sync.Mutex
	changes []visibilityChange
	err     error
}

func (v *fakeVisibility) ChangeVisibility(_ context.Context, handle string, d time.Duration) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.changes = append(v.changes, visibilityChange{handle, d})
	return v.err
}

func (v *fakeVisibility) all() []visibilityChange {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.changes)
}

// stepClock returns t0, t0+step, t0+2*step, ... on successive calls.
func stepClock(t0 time.Time, step time.Duration) func() time.Time {
	var mu sync.Mutex
	n := 0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t := t0.Add(time.Duration(n) * step)
		n++
		return t
	}
}

const (
	runID     = "hourly-20261127T090000Z"
	targetsQ  = "arn:aws:sqs:us-east-1:123456789012:cronless-dev-targets"
	userAgent = "cronless-test/1.0"
)

var scheduledAt = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func str(s string) *string { return &s }

func testJob(targetID string) job.Job {
	robots := true
	return job.Job{
		V: job.Version, RunID: runID, Schedule: "hourly", TargetID: targetID,
		URL: "https://" + targetID + ".example.com/", ScheduledAt: scheduledAt,
		Extract:   map[string]job.Rule{"title": {CSS: "title"}},
		TimeoutMS: 5000, UserAgent: userAgent, Robots: &robots,
	}
}

func jobBody(t *testing.T, j job.Job) string {
	t.Helper()
	b, err := job.Encode(j)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// record is an SQS record as Lambda delivers it from the targets queue.
func record(messageID, body string, receiveCount int) events.SQSMessage {
	return events.SQSMessage{
		MessageId:     messageID,
		ReceiptHandle: "rh-" + messageID,
		Body:          body,
		Attributes: map[string]string{
			"ApproximateReceiveCount": fmt.Sprint(receiveCount),
			"SentTimestamp":           "1795770000123",
		},
		MessageAttributes: map[string]events.SQSMessageAttribute{
			job.AttrRunID:    {DataType: "String", StringValue: str(runID)},
			job.AttrTargetID: {DataType: "String", StringValue: str("from-attributes")},
		},
		EventSource:    "aws:sqs",
		EventSourceARN: targetsQ,
	}
}

// jobRecord is a record carrying testJob(targetID), with message ID "m-"+targetID.
func jobRecord(t *testing.T, targetID string, receiveCount int) events.SQSMessage {
	t.Helper()
	return record("m-"+targetID, jobBody(t, testJob(targetID)), receiveCount)
}

func event(recs ...events.SQSMessage) events.SQSEvent { return events.SQSEvent{Records: recs} }

func failureIDs(resp events.SQSEventResponse) []string {
	out := []string{}
	for _, f := range resp.BatchItemFailures {
		out = append(out, f.ItemIdentifier)
	}
	return out
}

// targetOf returns the target ID of an outgoing result or attempt message.
func targetOf(m queue.Outgoing) string { return m.Attributes[job.AttrTargetID] }

var errBoom = errors.New("boom")
