package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cronless/cronless/shared/crawl"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/sqsevent"
	"github.com/cronless/cronless/shared/worker"
)

func TestHandleGoldenEvent(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "events", "worker-sqs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		t.Fatalf("events/worker-sqs.json does not decode: %v", err)
	}
	if len(ev.Records) != 2 {
		t.Fatalf("golden event has %d records, want 2", len(ev.Records))
	}
	fetch, results := &fakeFetcher{}, &fakeSender{}
	resp, err := worker.New(fetch, results).Handle(context.Background(), ev)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if b, _ := json.Marshal(resp); string(b) != `{"batchItemFailures":[]}` {
		t.Errorf("response = %s, want no failures", b)
	}

	got := map[string]job.Job{}
	for _, j := range fetch.fetched() {
		got[j.TargetID] = j
	}
	wantAt := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	const ua = "cronless (+https://github.com/cronless/cronless)"
	tests := []struct {
		target, url string
		extract     map[string]job.Rule
	}{
		{"example", "https://example.com/", map[string]job.Rule{
			"title": {CSS: "title"},
			"links": {CSS: "a", Attr: "href", All: true},
		}},
		{"go-blog", "https://go.dev/blog/", map[string]job.Rule{"title": {CSS: "title"}}},
	}
	for _, tt := range tests {
		j, ok := got[tt.target]
		if !ok {
			t.Errorf("job %s did not reach the fetcher", tt.target)
			continue
		}
		if j.V != 1 || j.RunID != "hourly-20261127T090000Z" || j.Schedule != "hourly" || j.URL != tt.url ||
			!j.ScheduledAt.Equal(wantAt) || j.TimeoutMS != 10000 || j.UserAgent != ua || !j.RespectsRobots() {
			t.Errorf("job %s reached the fetcher as %+v", tt.target, j)
		}
		if !maps.Equal(j.Extract, tt.extract) {
			t.Errorf("job %s extract = %+v, want %+v", tt.target, j.Extract, tt.extract)
		}
	}
	if len(fetch.fetched()) != 2 {
		t.Errorf("fetcher called %d times, want 2", len(fetch.fetched()))
	}

	res := results.results(t)
	if len(res) != 2 || results.calls() != 1 || len(results.sent()) != 2 {
		t.Fatalf("sent %d results (%d messages) in %d calls, want 2 in 1", len(res), len(results.sent()), results.calls())
	}
	// The second record has ApproximateReceiveCount 2.
	if res["example"].Attempt != 1 || res["go-blog"].Attempt != 2 {
		t.Errorf("attempts = %d, %d, want 1, 2", res["example"].Attempt, res["go-blog"].Attempt)
	}
	for _, r := range res {
		if r.Status != job.StatusOK || r.RunID != "hourly-20261127T090000Z" || !r.ScheduledAt.Equal(wantAt) {
			t.Errorf("result = %+v", r)
		}
	}
}

func TestHandleOKPage(t *testing.T) {
	kst := time.FixedZone("KST", 9*60*60)
	t0 := time.Date(2026, 11, 27, 18, 0, 1, 250_000_000, kst)
	page := crawl.Page{
		URL: "https://a.example.com/", HTTPStatus: 203,
		Fields:      map[string]any{"title": "Example Domain", "links": []any{"https://x/", "https://y/"}},
		ContentHash: "8f3c1b2a",
		BodyHash:    "body-sha256",
	}
	fetch := &fakeFetcher{pages: map[string]crawl.Page{"a": page}}
	results, vis := &fakeSender{}, &fakeVisibility{}
	w := worker.New(fetch, results,
		worker.WithClock(stepClock(t0, 250*time.Millisecond)),
		worker.WithRetryDelay(vis, worker.Backoff(time.Second, time.Minute)))

	resp, err := w.Handle(context.Background(), event(jobRecord(t, "a", 3)))
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if ids := failureIDs(resp); len(ids) != 0 {
		t.Errorf("failures = %q, want none", ids)
	}
	if len(results.sent()) != 1 {
		t.Fatalf("sent %d results, want 1", len(results.sent()))
	}
	m := results.sent()[0]
	if !maps.Equal(m.Attributes, job.Attributes(runID, "a")) {
		t.Errorf("result attributes = %v", m.Attributes)
	}
	if m.ID == "" || m.Delay != 0 {
		t.Errorf("result entry ID %q, delay %s", m.ID, m.Delay)
	}
	r := results.results(t)["a"]
	want := job.Result{
		V: job.Version, RunID: runID, Schedule: "hourly", TargetID: "a", URL: "https://a.example.com/",
		ScheduledAt: scheduledAt, Status: job.StatusOK, HTTPStatus: 203,
		Fields:      map[string]any{"title": "Example Domain", "links": []any{"https://x/", "https://y/"}},
		ContentHash: "8f3c1b2a", BodyHash: "body-sha256", FetchedAt: t0.UTC(), DurationMS: 250, Attempt: 3,
		RulesHash: job.RulesHash(testJob("a").Extract),
	}
	if r.FetchedAt.Location() != time.UTC {
		t.Errorf("fetched_at %s is not in UTC", r.FetchedAt)
	}
	if !resultsEqual(r, want) {
		t.Errorf("result =\n%+v\nwant\n%+v", r, want)
	}
	if !strings.Contains(m.Body, `"body_hash":"body-sha256"`) {
		t.Error("the body hash is not in the result message")
	}
	if len(results.attempts(t)) != 0 || len(vis.all()) != 0 {
		t.Errorf("an ok page sent attempts %v and changed visibility %v", results.attempts(t), vis.all())
	}
}

func resultsEqual(a, b job.Result) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

type netTimeout struct{}

func (netTimeout) Error() string   { return "i/o timeout" }
func (netTimeout) Timeout() bool   { return true }
func (netTimeout) Temporary() bool { return true }

func TestHandlePermanentFailure(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantKind   crawl.Kind
		wantStatus int
	}{
		{"http 404", &crawl.Error{Kind: crawl.KindHTTP4xx, HTTPStatus: 404, URL: "https://a.example.com/"},
			crawl.KindHTTP4xx, 404},
		{"http 403 wrapped", fmt.Errorf("fetch: %w", &crawl.Error{Kind: crawl.KindHTTP4xx, HTTPStatus: 403}),
			crawl.KindHTTP4xx, 403},
		{"robots.txt", &crawl.Error{Kind: crawl.KindRobots, URL: "https://a.example.com/robots.txt",
			Err: errors.New("disallowed for cronless-test")}, crawl.KindRobots, 0},
		{"blocked address", &crawl.Error{Kind: crawl.KindBlocked, Err: errors.New("10.0.0.1 is a private address")},
			crawl.KindBlocked, 0},
		{"required field", &crawl.Error{Kind: crawl.KindRequired, HTTPStatus: 200, Err: errors.New("price matched nothing")},
			crawl.KindRequired, 200},
		{"too large", &crawl.Error{Kind: crawl.KindTooLarge, HTTPStatus: 200}, crawl.KindTooLarge, 200},
		{"bad certificate", &crawl.Error{Kind: crawl.KindConnection, Err: errors.New("x509: unknown authority")},
			crawl.KindConnection, 0},
		{"huge message", &crawl.Error{Kind: crawl.KindHTTP4xx, HTTPStatus: 400, Err: errors.New(strings.Repeat("body ", 82_000))},
			crawl.KindHTTP4xx, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t0 := time.Date(2026, 11, 27, 9, 0, 2, 0, time.UTC)
			fetch := &fakeFetcher{errs: map[string]error{"a": tt.err}}
			results, vis := &fakeSender{}, &fakeVisibility{}
			w := worker.New(fetch, results, worker.WithClock(stepClock(t0, 95*time.Millisecond)),
				worker.WithRetryDelay(vis, worker.Backoff(time.Second, time.Minute)))
			resp, _ := w.Handle(context.Background(), event(jobRecord(t, "a", 2)))
			if ids := failureIDs(resp); len(ids) != 0 {
				t.Errorf("failures = %q; a permanent failure must not be retried", ids)
			}
			r, ok := results.results(t)["a"]
			if !ok {
				t.Fatal("no failed result was sent")
			}
			if r.Status != job.StatusFailed || r.Error == nil {
				t.Fatalf("result status %q error %v, want failed with an error", r.Status, r.Error)
			}
			// A message is capped, so that the result fits the results
			// queue and a DynamoDB item.
			if want := job.CutText(tt.err.Error(), job.MaxErrorMessageBytes); r.Error.Kind != string(tt.wantKind) || r.Error.Message != want {
				t.Errorf("error = %.200q…, want kind %q message %.200q…", r.Error, tt.wantKind, want)
			}
			if r.HTTPStatus != tt.wantStatus {
				t.Errorf("http status = %d, want %d", r.HTTPStatus, tt.wantStatus)
			}
			if r.Fields != nil || r.ContentHash != "" {
				t.Errorf("failed result carries fields %v / hash %q", r.Fields, r.ContentHash)
			}
			if r.Attempt != 2 || r.DurationMS != 95 || !r.FetchedAt.Equal(t0) || r.RunID != runID ||
				r.TargetID != "a" || r.URL != "https://a.example.com/" || !r.ScheduledAt.Equal(scheduledAt) {
				t.Errorf("result = %+v", r)
			}
			if len(results.attempts(t)) != 0 || len(results.sent()) != 1 || len(vis.all()) != 0 {
				t.Errorf("a permanent failure sent %d messages, attempts %v / changed visibility %v",
					len(results.sent()), results.attempts(t), vis.all())
			}
		})
	}
}

func TestHandleRetryableFailure(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantKind crawl.Kind
	}{
		{"http 503", &crawl.Error{Kind: crawl.KindHTTP5xx, Retryable: true, HTTPStatus: 503}, crawl.KindHTTP5xx},
		{"http 500 wrapped", fmt.Errorf("fetch: %w", &crawl.Error{Kind: crawl.KindHTTP5xx, Retryable: true, HTTPStatus: 500}),
			crawl.KindHTTP5xx},
		{"http 429", &crawl.Error{Kind: crawl.KindHTTP429, Retryable: true, HTTPStatus: 429, RetryAfter: 30 * time.Second},
			crawl.KindHTTP429},
		{"timeout", &crawl.Error{Kind: crawl.KindTimeout, Retryable: true, Err: errors.New("no answer within 10s")},
			crawl.KindTimeout},
		{"connection", &crawl.Error{Kind: crawl.KindConnection, Retryable: true, Err: errors.New("connection refused")},
			crawl.KindConnection},
		{"context deadline", context.DeadlineExceeded, crawl.KindTimeout},
		{"wrapped context deadline", fmt.Errorf("get page: %w", context.DeadlineExceeded), crawl.KindTimeout},
		{"network timeout", fmt.Errorf("read: %w", netTimeout{}), crawl.KindTimeout},
		{"context canceled", context.Canceled, crawl.KindConnection},
		{"huge message", &crawl.Error{Kind: crawl.KindHTTP5xx, Retryable: true, HTTPStatus: 502, Err: errors.New(strings.Repeat("body ", 82_000))},
			crawl.KindHTTP5xx},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t0 := time.Date(2026, 11, 27, 18, 0, 3, 0, time.FixedZone("KST", 9*60*60))
			fetch := &fakeFetcher{errs: map[string]error{"a": tt.err}}
			results := &fakeSender{}
			// One crawl at a time: ok's takes t0 and t0+1s, so a's starts at t0+2s.
			w := worker.New(fetch, results, worker.WithClock(stepClock(t0, time.Second)), worker.WithConcurrency(1))
			resp, err := w.Handle(context.Background(), event(jobRecord(t, "ok", 1), jobRecord(t, "a", 4)))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if ids := failureIDs(resp); !slices.Equal(ids, []string{"m-a"}) {
				t.Errorf("failures = %q, want [m-a]", ids)
			}
			res := results.results(t)
			if _, sent := res["a"]; sent {
				t.Error("a result was sent for a job that will be retried")
			}
			if _, sent := res["ok"]; !sent || len(res) != 1 {
				t.Errorf("results sent = %v, want only the ok job's", slices.Collect(maps.Keys(res)))
			}
			// The failed attempt goes to the results queue, in the same
			// batch as the ok job's result.
			if results.calls() != 1 || len(results.sent()) != 2 {
				t.Errorf("sent %d messages in %d calls, want the result and the attempt in 1", len(results.sent()), results.calls())
			}
			got := results.attempts(t) // checks the run_id, target_id and type attributes
			if len(got) != 1 {
				t.Fatalf("attempts sent = %+v, want 1", got)
			}
			want := job.Attempt{V: job.Version, RunID: runID, TargetID: "a", MessageID: "m-a", Attempt: 4,
				At:    t0.Add(2 * time.Second),
				Error: job.Error{Kind: string(tt.wantKind), Message: job.CutText(tt.err.Error(), job.MaxErrorMessageBytes)}}
			a := got[0]
			if a.V != want.V || a.RunID != want.RunID || a.TargetID != want.TargetID || a.MessageID != want.MessageID ||
				a.Attempt != want.Attempt || a.Error != want.Error || !a.At.Equal(want.At) {
				t.Errorf("attempt = %+v, want %+v", a, want)
			}
			if a.At.Location() != time.UTC {
				t.Errorf("attempt at = %s, want the fetch's start in UTC", a.At)
			}
		})
	}
}

func TestHandleCanceledDuringFetchIsRetried(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fetch := &fakeFetcher{during: func(context.Context, job.Job) error {
		cancel()
		return errors.New("aborted") // not classified: only the canceled context says why
	}}
	results := &fakeSender{}
	resp, _ := worker.New(fetch, results).Handle(ctx, event(jobRecord(t, "a", 1)))
	if ids := failureIDs(resp); !slices.Equal(ids, []string{"m-a"}) {
		t.Errorf("failures = %q, want [m-a]: work cut short by the invocation's end is retried", ids)
	}
	if res := results.results(t); len(res) != 0 {
		t.Errorf("a failed result was sent for work cut short: %+v", res)
	}
	// The attempt is sent even though the invocation's context is done
	// (the fake sender, like a real one, fails on a done context).
	if got := results.attempts(t); len(got) != 1 || got[0].TargetID != "a" || got[0].Error.Kind != string(crawl.KindConnection) {
		t.Errorf("attempts = %+v, want a's, of kind connection", got)
	}
}

func TestHandleRetryDelay(t *testing.T) {
	backoff := worker.Backoff(10*time.Second, 15*time.Minute)
	tests := []struct {
		name    string
		err     error
		attempt int
		want    time.Duration
	}{
		{"5xx first attempt", &crawl.Error{Kind: crawl.KindHTTP5xx, Retryable: true, HTTPStatus: 502}, 1, 10 * time.Second},
		{"5xx third attempt", &crawl.Error{Kind: crawl.KindHTTP5xx, Retryable: true, HTTPStatus: 502}, 3, 40 * time.Second},
		{"timeout, backoff capped", &crawl.Error{Kind: crawl.KindTimeout, Retryable: true}, 12, 15 * time.Minute},
		{"context deadline", context.DeadlineExceeded, 2, 20 * time.Second},
		{"429 Retry-After wins", &crawl.Error{Kind: crawl.KindHTTP429, Retryable: true, HTTPStatus: 429,
			RetryAfter: 90 * time.Second}, 1, 90 * time.Second},
		{"503 short Retry-After wins over backoff", &crawl.Error{Kind: crawl.KindHTTP5xx, Retryable: true, HTTPStatus: 503,
			RetryAfter: 3 * time.Second}, 5, 3 * time.Second},
		{"wrapped Retry-After", fmt.Errorf("x: %w", &crawl.Error{Kind: crawl.KindHTTP429, Retryable: true, HTTPStatus: 429,
			RetryAfter: 2 * time.Minute}), 1, 2 * time.Minute},
		{"Retry-After capped", &crawl.Error{Kind: crawl.KindHTTP5xx, Retryable: true, HTTPStatus: 503,
			RetryAfter: 24 * time.Hour}, 1, 15 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fetch := &fakeFetcher{errs: map[string]error{"a": tt.err}}
			vis := &fakeVisibility{}
			w := worker.New(fetch, &fakeSender{}, worker.WithRetryDelay(vis, backoff))
			rec := jobRecord(t, "a", tt.attempt)
			resp, _ := w.Handle(context.Background(), event(rec))
			if ids := failureIDs(resp); !slices.Equal(ids, []string{"m-a"}) {
				t.Errorf("failures = %q, want [m-a]", ids)
			}
			want := []visibilityChange{{handle: rec.ReceiptHandle, d: tt.want}}
			if got := vis.all(); !slices.Equal(got, want) {
				t.Errorf("visibility changes = %+v, want %+v", got, want)
			}
		})
	}
}

func TestHandleRetryDelayArguments(t *testing.T) {
	type call struct {
		attempt    int
		retryAfter time.Duration
	}
	var calls []call
	delay := func(attempt int, retryAfter time.Duration) time.Duration {
		calls = append(calls, call{attempt, retryAfter})
		return 7 * time.Second
	}
	fetch := &fakeFetcher{errs: map[string]error{
		"a": &crawl.Error{Kind: crawl.KindHTTP429, Retryable: true, HTTPStatus: 429, RetryAfter: 33 * time.Second},
	}}
	vis := &fakeVisibility{}
	w := worker.New(fetch, &fakeSender{}, worker.WithRetryDelay(vis, delay), worker.WithConcurrency(1))
	if _, err := w.Handle(context.Background(), event(jobRecord(t, "a", 6))); err != nil {
		t.Fatal(err)
	}
	if want := []call{{6, 33 * time.Second}}; !slices.Equal(calls, want) {
		t.Errorf("delay called with %+v, want %+v", calls, want)
	}
	if got := vis.all(); len(got) != 1 || got[0] != (visibilityChange{"rh-m-a", 7 * time.Second}) {
		t.Errorf("visibility changes = %+v", got)
	}
}

func TestHandleNoVisibilityChangeUnlessRetried(t *testing.T) {
	fetch := &fakeFetcher{errs: map[string]error{
		"perm": &crawl.Error{Kind: crawl.KindHTTP4xx, HTTPStatus: 404},
	}}
	vis, dlq := &fakeVisibility{}, &fakeSender{}
	w := worker.New(fetch, &fakeSender{}, worker.WithDeadLetters(dlq),
		worker.WithRetryDelay(vis, worker.Backoff(time.Second, time.Minute)))
	resp, _ := w.Handle(context.Background(), event(
		jobRecord(t, "ok", 1), jobRecord(t, "perm", 1), record("m-bad", "not json", 1)))
	if ids := failureIDs(resp); len(ids) != 0 {
		t.Errorf("failures = %q, want none", ids)
	}
	if got := vis.all(); len(got) != 0 {
		t.Errorf("visibility changed for messages that are done: %+v", got)
	}
}

func TestHandleRetryDelayFailureStillRetries(t *testing.T) {
	fetch := &fakeFetcher{errs: map[string]error{"a": &crawl.Error{Kind: crawl.KindHTTP5xx, Retryable: true, HTTPStatus: 500}}}
	vis := &fakeVisibility{err: queue.ErrReceiptInvalid}
	results := &fakeSender{}
	w := worker.New(fetch, results, worker.WithRetryDelay(vis, worker.Backoff(time.Second, time.Minute)))
	resp, _ := w.Handle(context.Background(), event(jobRecord(t, "a", 1)))
	if ids := failureIDs(resp); !slices.Equal(ids, []string{"m-a"}) {
		t.Errorf("failures = %q, want [m-a]", ids)
	}
	if len(vis.all()) != 1 || len(results.attempts(t)) != 1 {
		t.Errorf("visibility changes %v, attempts sent %v, want one each", vis.all(), results.attempts(t))
	}
}

func TestHandleAttemptSendFailureStillRetries(t *testing.T) {
	fetch := &fakeFetcher{errs: map[string]error{
		"a": &crawl.Error{Kind: crawl.KindTimeout, Retryable: true},
		"b": &crawl.Error{Kind: crawl.KindHTTP5xx, Retryable: true, HTTPStatus: 502},
	}}
	failAttempts := func(_ int, batch []queue.Outgoing) error {
		var be queue.BatchError
		for _, m := range batch {
			if isAttempt(m) {
				be.Failed = append(be.Failed, queue.EntryError{ID: m.ID, Err: errBoom})
			}
		}
		if len(be.Failed) == 0 {
			return nil
		}
		return &be
	}
	tests := []struct {
		name    string
		fail    func(int, []queue.Outgoing) error
		wantIDs []string
	}{
		// The attempts' entries fail: their jobs are retried anyway, and
		// nothing else is reported.
		{"attempt entries fail", failAttempts, []string{"m-a", "m-b"}},
		// The whole batch fails: ok's result was not sent either.
		{"whole batch fails", func(int, []queue.Outgoing) error { return errBoom }, []string{"m-a", "m-ok", "m-b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			results, vis := &fakeSender{fail: tt.fail}, &fakeVisibility{}
			w := worker.New(fetch, results, worker.WithRetryDelay(vis, worker.Backoff(5*time.Second, time.Minute)))
			resp, _ := w.Handle(context.Background(), event(jobRecord(t, "a", 1), jobRecord(t, "ok", 1), jobRecord(t, "b", 2)))
			if ids := failureIDs(resp); !slices.Equal(ids, tt.wantIDs) {
				t.Errorf("failures = %q, want %q", ids, tt.wantIDs)
			}
			if got := results.attemptTargets(t); !slices.Equal(got, []string{"a", "b"}) {
				t.Errorf("attempts sent for %q, want [a b]", got)
			}
			if got := vis.all(); len(got) != 2 {
				t.Errorf("visibility changes = %+v, want 2 despite the attempts not being sent", got)
			}
			if res := results.results(t); len(res) != 1 || res["ok"].Status != job.StatusOK {
				t.Errorf("results = %v, want only ok's", res)
			}
			if results.calls() != 1 {
				t.Errorf("SendBatch called %d times, want 1", results.calls())
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		name        string
		base, limit time.Duration
		attempt     int
		retryAfter  time.Duration
		want        time.Duration
	}{
		{"attempt 0 is the first", 10 * time.Second, 5 * time.Minute, 0, 0, 10 * time.Second},
		{"attempt 1", 10 * time.Second, 5 * time.Minute, 1, 0, 10 * time.Second},
		{"attempt 2", 10 * time.Second, 5 * time.Minute, 2, 0, 20 * time.Second},
		{"attempt 3", 10 * time.Second, 5 * time.Minute, 3, 0, 40 * time.Second},
		{"attempt 4", 10 * time.Second, 5 * time.Minute, 4, 0, 80 * time.Second},
		{"attempt 5", 10 * time.Second, 5 * time.Minute, 5, 0, 160 * time.Second},
		{"attempt 6 capped", 10 * time.Second, 5 * time.Minute, 6, 0, 5 * time.Minute},
		{"attempt 1000 capped, no overflow", 10 * time.Second, 5 * time.Minute, 1000, 0, 5 * time.Minute},
		{"Retry-After wins", 10 * time.Second, 5 * time.Minute, 3, 45 * time.Second, 45 * time.Second},
		{"Retry-After below base wins", 10 * time.Second, 5 * time.Minute, 1, 2 * time.Second, 2 * time.Second},
		{"Retry-After capped", 10 * time.Second, 5 * time.Minute, 1, time.Hour, 5 * time.Minute},
		{"negative Retry-After ignored", 10 * time.Second, 5 * time.Minute, 2, -time.Second, 20 * time.Second},
		{"Retry-After in whole seconds", 10 * time.Second, 5 * time.Minute, 1, 1500 * time.Millisecond, 2 * time.Second},
		{"backoff in whole seconds", 1500 * time.Millisecond, time.Minute, 2, 0, 3 * time.Second},
		{"sub-second base", 700 * time.Millisecond, time.Minute, 1, 0, time.Second},
		{"SQS limit", time.Minute, 12 * time.Hour, 20, 0, 12 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := worker.Backoff(tt.base, tt.limit)(tt.attempt, tt.retryAfter)
			if got != tt.want {
				t.Errorf("Backoff(%s, %s)(%d, %s) = %s, want %s", tt.base, tt.limit, tt.attempt, tt.retryAfter, got, tt.want)
			}
			if got%time.Second != 0 {
				t.Errorf("%s is not whole seconds", got)
			}
		})
	}
}

func TestHandleMalformed(t *testing.T) {
	good := testJob("x")
	with := func(f func(*job.Job)) string {
		j := good
		f(&j)
		return jobBody(t, j)
	}
	result := `{"v":1,"run_id":"r","target_id":"x","url":"https://x/","scheduled_at":"2026-11-27T09:00:00Z","status":"ok","fetched_at":"2026-11-27T09:00:01Z","duration_ms":1,"attempt":1,"changed":false}`
	bodies := []struct {
		name, body string
	}{
		{"not JSON", "hello"},
		{"empty", ""},
		{"JSON array", `[1,2]`},
		{"wrong version", with(func(j *job.Job) { j.V = 2 })},
		{"no version", with(func(j *job.Job) { j.V = 0 })},
		{"missing run_id", with(func(j *job.Job) { j.RunID = "" })},
		{"missing target_id", with(func(j *job.Job) { j.TargetID = "" })},
		{"missing url", with(func(j *job.Job) { j.URL = "" })},
		{"not http", with(func(j *job.Job) { j.URL = "file:///etc/passwd" })},
		{"missing scheduled_at", with(func(j *job.Job) { j.ScheduledAt = time.Time{} })},
		{"rule without css", with(func(j *job.Job) { j.Extract = map[string]job.Rule{"t": {Attr: "href"}} })},
		{"unknown field", strings.TrimSuffix(jobBody(t, good), "}") + `,"priority":1}`},
		{"trailing data", jobBody(t, good) + `{}`},
		{"a result, not a job", result},
	}
	const id = "m-bad"
	for _, b := range bodies {
		t.Run(b.name, func(t *testing.T) {
			if _, err := job.DecodeJob([]byte(b.body)); err == nil {
				t.Fatalf("test body decodes as a job: %s", b.body)
			}
			modes := []struct {
				name       string
				dlq        *fakeSender // nil: no DLQ
				wantFailed bool
			}{
				{"DLQ", &fakeSender{}, false},
				{"DLQ send fails", &fakeSender{fail: func(int, []queue.Outgoing) error { return errBoom }}, true},
				{"DLQ entry fails", &fakeSender{fail: func(_ int, b []queue.Outgoing) error {
					return &queue.BatchError{Failed: []queue.EntryError{{ID: b[0].ID, Err: errBoom}}}
				}}, true},
				{"no DLQ", nil, true},
			}
			for _, m := range modes {
				t.Run(m.name, func(t *testing.T) {
					fetch, results := &fakeFetcher{}, &fakeSender{}
					var opts []worker.Option
					if m.dlq != nil {
						opts = append(opts, worker.WithDeadLetters(m.dlq))
					}
					rec := record(id, b.body, 2)
					resp, err := worker.New(fetch, results, opts...).
						Handle(context.Background(), event(jobRecord(t, "ok", 1), rec))
					if err != nil {
						t.Fatalf("Handle: %v", err)
					}
					if got := fetch.fetched(); len(got) != 1 || got[0].TargetID != "ok" {
						t.Errorf("fetcher got %d jobs; a malformed message must never reach it", len(got))
					}
					if res := results.results(t); len(res) != 1 {
						t.Errorf("results sent for %v, want only ok's", slices.Collect(maps.Keys(res)))
					}
					if got := results.attempts(t); len(got) != 0 {
						t.Errorf("attempts sent for a malformed message: %+v", got)
					}
					wantIDs := []string{}
					if m.wantFailed {
						wantIDs = []string{id}
					}
					if ids := failureIDs(resp); !slices.Equal(ids, wantIDs) {
						t.Errorf("failures = %q, want %q", ids, wantIDs)
					}
					if m.dlq == nil {
						return
					}
					sent := m.dlq.sent()
					if len(sent) != 1 {
						t.Fatalf("DLQ got %d messages, want 1", len(sent))
					}
					dl := sent[0]
					if dl.Body != b.body {
						t.Errorf("DLQ body = %q, want the original %q", dl.Body, b.body)
					}
					a := dl.Attributes
					if a[sqsevent.AttrErrorKind] != "bad_message" || a[sqsevent.AttrOriginalMessageID] != id ||
						a[sqsevent.AttrSourceQueue] != targetsQ || a[job.AttrRunID] != runID {
						t.Errorf("DLQ attributes = %v", a)
					}
					if msg := a[sqsevent.AttrErrorMessage]; !strings.Contains(msg, "invalid message") {
						t.Errorf("error_message = %q, want the decode error", msg)
					}
				})
			}
		})
	}
}

func TestHandleSendsResultsInBatches(t *testing.T) {
	tests := []struct {
		records int
		retry   int // every retry-th record fails retryably (0: none)
		want    []int
	}{
		{1, 0, []int{1}},
		{10, 0, []int{10}},
		{11, 0, []int{10, 1}},
		{25, 0, []int{10, 10, 5}},
		// Failed attempts travel in the same batches as the results.
		{1, 1, []int{1}},
		{10, 3, []int{10}},
		{11, 2, []int{10, 1}},
		{25, 1, []int{10, 10, 5}},
		{25, 4, []int{10, 10, 5}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d records, every %d retried", tt.records, tt.retry), func(t *testing.T) {
			var recs []events.SQSMessage
			fetch := &fakeFetcher{errs: map[string]error{}}
			var wantIDs, wantAttempts []string
			for i := range tt.records {
				target := fmt.Sprintf("t%02d", i)
				recs = append(recs, jobRecord(t, target, 1))
				if tt.retry > 0 && i%tt.retry == 0 {
					fetch.errs[target] = &crawl.Error{Kind: crawl.KindHTTP5xx, Retryable: true, HTTPStatus: 503}
					wantIDs = append(wantIDs, "m-"+target)
					wantAttempts = append(wantAttempts, target)
				}
			}
			if wantIDs == nil {
				wantIDs, wantAttempts = []string{}, []string{}
			}
			results := &fakeSender{}
			resp, _ := worker.New(fetch, results).Handle(context.Background(), event(recs...))
			if ids := failureIDs(resp); !slices.Equal(ids, wantIDs) {
				t.Errorf("failures = %q, want %q", ids, wantIDs)
			}
			var sizes []int
			for _, b := range results.batches {
				sizes = append(sizes, len(b))
			}
			if !slices.Equal(sizes, tt.want) {
				t.Errorf("SendBatch sizes = %v, want %v", sizes, tt.want)
			}
			if got, want := len(results.results(t)), tt.records-len(wantAttempts); got != want {
				t.Errorf("%d distinct results sent, want %d", got, want)
			}
			if got := results.attemptTargets(t); !slices.Equal(got, wantAttempts) {
				t.Errorf("attempts sent for %q, want %q", got, wantAttempts)
			}
		})
	}
}

func TestHandleNoResultsNoSend(t *testing.T) {
	// Malformed messages with no DLQ are retried, but have no attempt to report.
	results := &fakeSender{}
	resp, _ := worker.New(&fakeFetcher{}, results).
		Handle(context.Background(), event(record("m-bad", "{", 1), record("m-empty", "", 1)))
	if results.calls() != 0 {
		t.Errorf("SendBatch called %d times with nothing to send", results.calls())
	}
	if ids := failureIDs(resp); !slices.Equal(ids, []string{"m-bad", "m-empty"}) {
		t.Errorf("failures = %q, want [m-bad m-empty]", ids)
	}
}

func TestHandleResultsSendFailure(t *testing.T) {
	var recs []events.SQSMessage
	for i := range 25 {
		recs = append(recs, jobRecord(t, fmt.Sprintf("t%02d", i), 1))
	}
	// t03 and t17 fail retryably: their attempts travel among the results,
	// and their jobs are reported failed whatever becomes of the attempts.
	retried := []string{"t03", "t17"}
	fetch := &fakeFetcher{errs: map[string]error{}}
	for _, target := range retried {
		fetch.errs[target] = &crawl.Error{Kind: crawl.KindTimeout, Retryable: true}
	}
	failEntries := func(targets ...string) func(int, []queue.Outgoing) error {
		return func(_ int, batch []queue.Outgoing) error {
			var be queue.BatchError
			for _, m := range batch {
				if slices.Contains(targets, targetOf(m)) {
					be.Failed = append(be.Failed, queue.EntryError{ID: m.ID, Err: errBoom})
				}
			}
			if len(be.Failed) == 0 {
				return nil
			}
			return &be
		}
	}
	failBatchOf := func(target string) func(int, []queue.Outgoing) error {
		return func(_ int, batch []queue.Outgoing) error {
			for _, m := range batch {
				if targetOf(m) == target {
					return errBoom
				}
			}
			return nil
		}
	}
	all := func(int, []queue.Outgoing) error { return errBoom }

	tests := []struct {
		name string
		fail func(int, []queue.Outgoing) error
		// wantTargets lists the failed targets; nil means "those in the
		// batch holding batchOf".
		wantTargets []string
		batchOf     string
	}{
		{name: "one entry", fail: failEntries("t07"), wantTargets: []string{"t07"}},
		{name: "entries across batches", fail: failEntries("t02", "t13", "t24"), wantTargets: []string{"t02", "t13", "t24"}},
		{name: "empty BatchError names nothing", fail: func(int, []queue.Outgoing) error { return &queue.BatchError{} },
			wantTargets: []string{}},
		{name: "a whole batch", fail: failBatchOf("t12"), batchOf: "t12"},
		{name: "the short batch", fail: failBatchOf("t21"), batchOf: "t21"},
		{name: "an attempt entry adds nothing", fail: failEntries("t03"), wantTargets: []string{}},
		{name: "attempt and result entries", fail: failEntries("t17", "t18"), wantTargets: []string{"t18"}},
		{name: "the batch holding an attempt", fail: failBatchOf("t17"), batchOf: "t17"},
		{name: "every batch", fail: all, wantTargets: func() []string {
			var ids []string
			for i := range 25 {
				ids = append(ids, fmt.Sprintf("t%02d", i))
			}
			return ids
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			results := &fakeSender{fail: tt.fail}
			resp, _ := worker.New(fetch, results).Handle(context.Background(), event(recs...))
			if results.calls() != 3 {
				t.Errorf("SendBatch called %d times, want 3 (a failure must not stop the others)", results.calls())
			}
			want := tt.wantTargets
			if tt.batchOf != "" {
				for _, b := range results.batches {
					if slices.ContainsFunc(b, func(m queue.Outgoing) bool { return targetOf(m) == tt.batchOf }) {
						for _, m := range b {
							want = append(want, targetOf(m))
						}
					}
				}
			}
			if got := results.attemptTargets(t); !slices.Equal(got, retried) {
				t.Errorf("attempts sent for %q, want %q", got, retried)
			}
			// In batch order: the records are t00..t24 in order.
			var wantIDs []string
			for _, r := range recs {
				target := strings.TrimPrefix(r.MessageId, "m-")
				if slices.Contains(want, target) || slices.Contains(retried, target) {
					wantIDs = append(wantIDs, r.MessageId)
				}
			}
			if ids := failureIDs(resp); !slices.Equal(ids, wantIDs) {
				t.Errorf("failures = %q\nwant %q", ids, wantIDs)
			}
		})
	}
}

func TestHandleMixedBatch(t *testing.T) {
	fetch := &fakeFetcher{errs: map[string]error{
		"perm":  &crawl.Error{Kind: crawl.KindRobots},
		"retry": &crawl.Error{Kind: crawl.KindHTTP429, Retryable: true, HTTPStatus: 429},
	}}
	recs := []events.SQSMessage{
		jobRecord(t, "retry", 1), jobRecord(t, "ok", 1), record("m-bad", `{"v":1}`, 1), jobRecord(t, "perm", 1),
	}
	tests := []struct {
		name    string
		fail    func(int, []queue.Outgoing) error
		wantIDs []string
	}{
		{"results sent", nil, []string{"m-retry"}},
		// Jobs are deleted only once their results are on the results queue.
		{"results not sent", func(int, []queue.Outgoing) error { return errBoom }, []string{"m-retry", "m-ok", "m-perm"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			results, dlq := &fakeSender{fail: tt.fail}, &fakeSender{}
			resp, err := worker.New(fetch, results, worker.WithDeadLetters(dlq)).
				Handle(context.Background(), event(recs...))
			if err != nil {
				t.Fatal(err)
			}
			if ids := failureIDs(resp); !slices.Equal(ids, tt.wantIDs) {
				t.Errorf("failures = %q, want %q", ids, tt.wantIDs)
			}
			if len(dlq.sent()) != 1 {
				t.Errorf("DLQ got %d messages, want 1", len(dlq.sent()))
			}
			got := slices.Sorted(maps.Keys(results.results(t)))
			if !slices.Equal(got, []string{"ok", "perm"}) {
				t.Errorf("results sent for %q, want [ok perm]", got)
			}
			if got := results.attemptTargets(t); !slices.Equal(got, []string{"retry"}) {
				t.Errorf("attempts sent for %q, want [retry]", got)
			}
			if results.calls() != 1 || len(results.sent()) != 3 {
				t.Errorf("sent %d messages in %d calls, want 3 in 1", len(results.sent()), results.calls())
			}
		})
	}
}

func TestHandleConcurrency(t *testing.T) {
	tests := []struct {
		name    string
		records int
		opts    []worker.Option
		want    int
	}{
		{"WithConcurrency(1)", 5, []worker.Option{worker.WithConcurrency(1)}, 1},
		{"WithConcurrency(3)", 12, []worker.Option{worker.WithConcurrency(3)}, 3},
		{"default 10", 25, nil, 10},
		{"non-positive keeps the default", 25, []worker.Option{worker.WithConcurrency(0), worker.WithConcurrency(-2)}, 10},
		{"fewer records than the bound", 4, []worker.Option{worker.WithConcurrency(8)}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProbe(tt.want)
			fetch := &fakeFetcher{probe: p}
			var recs []events.SQSMessage
			for i := range tt.records {
				recs = append(recs, jobRecord(t, fmt.Sprintf("t%02d", i), 1))
			}
			results := &fakeSender{}
			resp, _ := worker.New(fetch, results, tt.opts...).Handle(context.Background(), event(recs...))
			if got := p.Max(); got != tt.want {
				t.Errorf("at most %d fetches at once, want %d", got, tt.want)
			}
			if ids := failureIDs(resp); len(ids) != 0 || len(results.sent()) != tt.records {
				t.Errorf("failures %q, %d results sent, want none and %d", ids, len(results.sent()), tt.records)
			}
		})
	}
}

func TestBackoffEdges(t *testing.T) {
	b := worker.Backoff(3*time.Hour, 12*time.Hour)
	if d := b(40, 0); d != 12*time.Hour {
		t.Errorf("a huge attempt gives %s, want the limit", d)
	}
	if d := worker.Backoff(time.Second, time.Minute)(1, 1400*time.Millisecond); d != 2*time.Second {
		t.Errorf("Retry-After 1.4s gives %s, want 2s (rounded up)", d)
	}
}

func TestHandleNotModified(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 9, 0, 1, 0, time.UTC)
	const lastMod = "Fri, 20 Nov 2026 08:00:00 GMT"
	tests := []struct {
		name string
		prev *job.Previous
		page crawl.Page
		want job.Result // the fields that differ from an ok result
	}{
		{"304 repeats the validators",
			&job.Previous{ETag: `"v1"`, ContentHash: "prev-hash"},
			crawl.Page{URL: "https://a.example.com/", HTTPStatus: 304, NotModified: true, ETag: `"v2"`, LastModified: lastMod},
			job.Result{ETag: `"v2"`, LastModified: lastMod, ContentHash: "prev-hash"}},
		{"304 without validators keeps the ones sent",
			&job.Previous{ETag: `"v1"`, LastModified: lastMod, ContentHash: "prev-hash"},
			crawl.Page{URL: "https://a.example.com/", HTTPStatus: 304, NotModified: true},
			job.Result{ETag: `"v1"`, LastModified: lastMod, ContentHash: "prev-hash"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := testJob("a")
			j.Previous = tt.prev
			fetch := &fakeFetcher{pages: map[string]crawl.Page{"a": tt.page}}
			results := &fakeSender{}
			w := worker.New(fetch, results, worker.WithClock(stepClock(t0, 40*time.Millisecond)))
			resp, err := w.Handle(context.Background(), event(record("m-a", jobBody(t, j), 1)))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if ids := failureIDs(resp); len(ids) != 0 {
				t.Errorf("failures = %q, want none", ids)
			}
			if got := fetch.fetched(); len(got) != 1 || got[0].Previous == nil || *got[0].Previous != *tt.prev {
				t.Errorf("fetcher got previous %+v, want %+v", got, tt.prev)
			}
			want := tt.want
			want.V, want.RunID, want.Schedule, want.TargetID, want.URL = job.Version, runID, "hourly", "a", j.URL
			want.ScheduledAt, want.Status, want.HTTPStatus, want.NotModified = scheduledAt, job.StatusOK, 304, true
			want.FetchedAt, want.DurationMS, want.Attempt = t0, 40, 1
			want.RulesHash = job.RulesHash(j.Extract) // a 304 is of the job's rules too
			r := results.results(t)["a"]
			if !resultsEqual(r, want) {
				t.Errorf("result =\n%+v\nwant\n%+v", r, want)
			}
			if r.Fields != nil {
				t.Errorf("fields = %v, want none (the store carries the previous ones over)", r.Fields)
			}
			body := results.sent()[0].Body
			if !strings.Contains(body, `"not_modified":true`) || strings.Contains(body, `"fields"`) {
				t.Errorf("result message %s, want not_modified and no fields", body)
			}
		})
	}

	t.Run("200 carries the validators", func(t *testing.T) {
		page := okPage("https://a.example.com/")
		page.ETag, page.LastModified = `"v3"`, lastMod
		fetch := &fakeFetcher{pages: map[string]crawl.Page{"a": page}}
		results := &fakeSender{}
		w := worker.New(fetch, results)
		if _, err := w.Handle(context.Background(), event(jobRecord(t, "a", 1))); err != nil {
			t.Fatal(err)
		}
		r := results.results(t)["a"]
		if r.NotModified || r.ETag != `"v3"` || r.LastModified != lastMod || r.ContentHash != page.ContentHash || r.Fields["title"] != "Hello" {
			t.Errorf("result %+v, want the page's fields, hash and validators", r)
		}
	})
}

// A crawl that panics (a hostile page tripping the parser, say) fails its
// own record only, as a retryable failure with an attempt of kind "panic":
// the panic neither ends the process nor fails the batch's other jobs.
// (Found by the reliability suite, fault class 1: before, the panic in the
// crawl's goroutine killed the whole process.)
func TestHandleFetchPanicFailsOnlyItsRecord(t *testing.T) {
	fetch := &fakeFetcher{during: func(_ context.Context, j job.Job) error {
		if j.TargetID == "bad" {
			panic("parser exploded")
		}
		return nil
	}}
	results := &fakeSender{}
	w := worker.New(fetch, results)
	resp, err := w.Handle(context.Background(), event(jobRecord(t, "ok", 1), jobRecord(t, "bad", 2), jobRecord(t, "ok2", 1)))
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if ids := failureIDs(resp); !slices.Equal(ids, []string{"m-bad"}) {
		t.Errorf("failures = %q, want [m-bad]", ids)
	}
	if res := results.results(t); len(res) != 2 || res["ok"].Status != job.StatusOK || res["ok2"].Status != job.StatusOK {
		t.Errorf("results = %v, want the two ok jobs'", res)
	}
	got := results.attempts(t)
	if len(got) != 1 || got[0].TargetID != "bad" || got[0].Attempt != 2 || got[0].Error.Kind != worker.KindPanic ||
		!strings.Contains(got[0].Error.Message, "parser exploded") {
		t.Errorf("attempts = %+v, want bad's attempt 2 of kind panic naming the panic", got)
	}
}

// TestHandleRulesHash: every result carries the hash of the rules of its
// job (not of any other job of the batch), a 304's included, so that the
// planner can tell whether the stored fields are of the current rules.
func TestHandleRulesHash(t *testing.T) {
	rulesA := map[string]job.Rule{"title": {CSS: "title"}}
	rulesB := map[string]job.Rule{"title": {CSS: "h1"}, "price": {CSS: ".price", Regex: `[0-9.]+`}}
	tests := []struct {
		name    string
		extract map[string]job.Rule
		prev    *job.Previous
		page    *crawl.Page
		err     error
		status  job.Status
	}{
		{"full page, rules A", rulesA, nil, nil, nil, job.StatusOK},
		{"full page, rules B", rulesB, nil, nil, nil, job.StatusOK},
		{"full page, no rules", nil, nil, nil, nil, job.StatusOK},
		{"304, rules B", rulesB, &job.Previous{ETag: `"v1"`, ContentHash: "h"},
			&crawl.Page{URL: "https://a.example.com/", HTTPStatus: 304, NotModified: true}, nil, job.StatusOK},
		{"permanent failure, rules B", rulesB, nil, nil,
			&crawl.Error{Kind: crawl.KindRequired, HTTPStatus: 200, Err: errors.New("price matched nothing")}, job.StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := testJob("a")
			j.Extract, j.Previous = tt.extract, tt.prev
			fetch := &fakeFetcher{pages: map[string]crawl.Page{}, errs: map[string]error{}}
			if tt.page != nil {
				fetch.pages["a"] = *tt.page
			}
			if tt.err != nil {
				fetch.errs["a"] = tt.err
			}
			other := testJob("b") // another job of the batch, with other rules
			other.Extract = map[string]job.Rule{"other": {CSS: "p"}}
			results := &fakeSender{}
			_, err := worker.New(fetch, results).Handle(context.Background(),
				event(record("m-a", jobBody(t, j), 1), record("m-b", jobBody(t, other), 1)))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			got := results.results(t)
			if r := got["a"]; r.Status != tt.status || r.RulesHash != job.RulesHash(tt.extract) {
				t.Errorf("result: status %s, rules_hash %q; want %s, %q", r.Status, r.RulesHash, tt.status, job.RulesHash(tt.extract))
			}
			if r := got["b"]; r.RulesHash != job.RulesHash(other.Extract) {
				t.Errorf("other job's rules_hash %q, want %q", r.RulesHash, job.RulesHash(other.Extract))
			}
			if body := results.sent()[0].Body; !strings.Contains(body, `"rules_hash":"`) {
				t.Errorf("result message %s has no rules_hash", body)
			}
		})
	}
}
