package results_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cronless/cronless/shared/inflight"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/results"
	"github.com/cronless/cronless/shared/sqsevent"
	"github.com/cronless/cronless/shared/store"
)

// ---- fakes ----

// probe measures how many calls of a fake are in flight at once.
type probe = inflight.Probe

var newProbe = inflight.New

// fakeStore records every PutResult and RecordAttempt. Results and
// attempts of targets in errs fail; results already stored are reported as
// duplicates.
type fakeStore struct {
	mu       sync.Mutex
	puts     []job.Result
	attempts []job.Attempt
	stored   map[string]bool
	errs     map[string]error
	probe    *probe
}

func (s *fakeStore) RecordAttempt(_ context.Context, a job.Attempt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts = append(s.attempts, a)
	return s.errs[a.TargetID]
}

func (s *fakeStore) recorded() []job.Attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.attempts)
}

func (s *fakeStore) PutResult(_ context.Context, r job.Result) (store.Outcome, error) {
	if s.probe != nil {
		s.probe.Enter()
		defer s.probe.Exit()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.puts = append(s.puts, r)
	if err := s.errs[r.TargetID]; err != nil {
		return store.Outcome{}, err
	}
	if s.stored == nil {
		s.stored = map[string]bool{}
	}
	key := r.TargetID + "/" + r.RunID
	if s.stored[key] {
		return store.Outcome{Duplicate: true}, nil
	}
	s.stored[key] = true
	return store.Outcome{Latest: true}, nil
}

func (s *fakeStore) all() []job.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.puts)
}

// fakeSender records what is sent; err makes every send fail.
type fakeSender struct {
	mu   sync.Mutex
	sent []queue.Outgoing
	err  error
}

func (s *fakeSender) SendBatch(_ context.Context, msgs []queue.Outgoing) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, msgs...)
	return s.err
}

func (s *fakeSender) all() []queue.Outgoing {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

// ---- helpers ----

const (
	runID    = "hourly-20261127T090000Z"
	resultsQ = "arn:aws:sqs:us-east-1:123456789012:cronless-dev-results"
)

var errBoom = errors.New("boom")

func str(s string) *string { return &s }

func testResult(targetID string) job.Result {
	return job.Result{
		V: job.Version, RunID: runID, Schedule: "hourly", TargetID: targetID, URL: "https://" + targetID + ".example.com/",
		ScheduledAt: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC), Status: job.StatusOK, HTTPStatus: 200,
		Fields: map[string]any{"title": "T"}, ContentHash: "h", FetchedAt: time.Date(2026, 11, 27, 9, 0, 1, 0, time.UTC),
		DurationMS: 10, Attempt: 1,
	}
}

func body(t *testing.T, r job.Result) string {
	t.Helper()
	b, err := job.Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func record(messageID, body string) events.SQSMessage {
	return events.SQSMessage{
		MessageId: messageID, ReceiptHandle: "rh-" + messageID, Body: body,
		Attributes: map[string]string{"ApproximateReceiveCount": "1"},
		MessageAttributes: map[string]events.SQSMessageAttribute{
			job.AttrRunID: {DataType: "String", StringValue: str(runID)},
		},
		EventSource: "aws:sqs", EventSourceARN: resultsQ,
	}
}

func testAttempt(targetID string) job.Attempt {
	return job.Attempt{
		V: job.Version, RunID: runID, TargetID: targetID, MessageID: "job-" + targetID, Attempt: 2,
		At:    time.Date(2026, 11, 27, 9, 0, 3, 0, time.UTC),
		Error: job.Error{Kind: "http_5xx", Message: "503 Service Unavailable"},
	}
}

// asAttempt marks a record as a failed attempt, as the worker sends it.
func asAttempt(rec events.SQSMessage) events.SQSMessage {
	rec.MessageAttributes[job.AttrType] = events.SQSMessageAttribute{DataType: "String", StringValue: str(job.TypeAttempt)}
	return rec
}

// attemptRecord carries testAttempt(targetID), with message ID "m-"+targetID
// and the type attribute of an attempt.
func attemptRecord(t *testing.T, targetID string) events.SQSMessage {
	t.Helper()
	b, err := job.Encode(testAttempt(targetID))
	if err != nil {
		t.Fatal(err)
	}
	return asAttempt(record("m-"+targetID, b))
}

// resultRecord carries testResult(targetID) with message ID "m-"+targetID.
func resultRecord(t *testing.T, targetID string) events.SQSMessage {
	t.Helper()
	return record("m-"+targetID, body(t, testResult(targetID)))
}

func event(recs ...events.SQSMessage) events.SQSEvent { return events.SQSEvent{Records: recs} }

func failureIDs(resp events.SQSEventResponse) []string {
	out := []string{}
	for _, f := range resp.BatchItemFailures {
		out = append(out, f.ItemIdentifier)
	}
	return out
}

// ---- tests ----

func TestHandleGoldenEvent(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "events", "results-sqs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		t.Fatalf("events/results-sqs.json does not decode: %v", err)
	}
	st := &fakeStore{}
	resp, err := results.New(st).Handle(context.Background(), ev)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if b, _ := json.Marshal(resp); string(b) != `{"batchItemFailures":[]}` {
		t.Errorf("response = %s, want no failures", b)
	}
	got := map[string]job.Result{}
	for _, r := range st.all() {
		got[r.TargetID] = r
	}
	if len(st.all()) != 2 || len(got) != 2 || len(st.recorded()) != 0 {
		t.Fatalf("stored %d results for %d targets and %d attempts, want 2, 2 and 0", len(st.all()), len(got), len(st.recorded()))
	}
	ex := got["example"]
	if ex.Status != job.StatusOK || ex.RunID != runID || ex.Schedule != "hourly" || ex.HTTPStatus != 200 ||
		ex.Fields["title"] != "Example Domain" || ex.DurationMS != 182 || ex.Attempt != 1 ||
		ex.ContentHash != "8f3c1b2a9e0d4c5b6a7f8e9d0c1b2a3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b" ||
		!ex.FetchedAt.Equal(time.Date(2026, 11, 27, 9, 0, 1, 250_000_000, time.UTC)) {
		t.Errorf("example stored as %+v", ex)
	}
	gb := got["go-blog"]
	if gb.Status != job.StatusFailed || gb.HTTPStatus != 404 || gb.Error == nil || gb.Error.Kind != "http_4xx" ||
		!strings.Contains(gb.Error.Message, "404 Not Found") {
		t.Errorf("go-blog stored as %+v (error %+v)", gb, gb.Error)
	}
}

func TestHandleStoresEveryResult(t *testing.T) {
	st := &fakeStore{}
	r := testResult("b")
	r.Status, r.Fields, r.ContentHash, r.HTTPStatus = job.StatusFailed, nil, "", 0
	r.Error = &job.Error{Kind: "robots_disallowed", Message: "robots.txt forbids it"}
	resp, _ := results.New(st).Handle(context.Background(),
		event(resultRecord(t, "a"), record("m-b", body(t, r)), resultRecord(t, "c")))
	if ids := failureIDs(resp); len(ids) != 0 {
		t.Errorf("failures = %q", ids)
	}
	var ids []string
	for _, p := range st.all() {
		ids = append(ids, p.TargetID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"a", "b", "c"}) {
		t.Errorf("stored %q, want a, b, c", ids)
	}
	for _, p := range st.all() {
		if p.TargetID == "b" && (p.Error == nil || *p.Error != *r.Error) {
			t.Errorf("b's error stored as %+v", p.Error)
		}
	}
}

func TestHandleStoresAttempts(t *testing.T) {
	st := &fakeStore{}
	typed := resultRecord(t, "c")
	typed.MessageAttributes[job.AttrType] = events.SQSMessageAttribute{DataType: "String", StringValue: str(job.TypeResult)}
	resp, err := results.New(st).Handle(context.Background(),
		event(resultRecord(t, "a"), attemptRecord(t, "b"), typed, attemptRecord(t, "d")))
	if err != nil {
		t.Fatal(err)
	}
	if ids := failureIDs(resp); len(ids) != 0 {
		t.Errorf("failures = %q", ids)
	}
	var puts []string
	for _, p := range st.all() {
		puts = append(puts, p.TargetID)
	}
	slices.Sort(puts)
	if !slices.Equal(puts, []string{"a", "c"}) {
		t.Errorf("PutResult got %q, want [a c]: attempts are not results", puts)
	}
	got := map[string]job.Attempt{}
	for _, a := range st.recorded() {
		got[a.TargetID] = a
	}
	if len(st.recorded()) != 2 || len(got) != 2 {
		t.Fatalf("RecordAttempt got %+v, want b's and d's", st.recorded())
	}
	for _, target := range []string{"b", "d"} {
		a, want := got[target], testAttempt(target)
		if a.V != want.V || a.RunID != want.RunID || a.TargetID != want.TargetID || a.MessageID != want.MessageID ||
			a.Attempt != want.Attempt || !a.At.Equal(want.At) || a.Error != want.Error {
			t.Errorf("attempt stored as %+v, want %+v", a, want)
		}
	}
}

func TestHandleRecordAttemptError(t *testing.T) {
	tests := []struct {
		name    string
		errs    map[string]error
		wantIDs []string
	}{
		{"one", map[string]error{"b": errBoom}, []string{"m-b"}},
		{"two", map[string]error{"a": errBoom, "d": context.DeadlineExceeded}, []string{"m-a", "m-d"}},
		{"attempt and result", map[string]error{"c": errBoom, "r": errBoom}, []string{"m-r", "m-c"}},
		{"none", nil, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &fakeStore{errs: tt.errs}
			dlq := &fakeSender{}
			resp, err := results.New(st, results.WithDeadLetters(dlq)).Handle(context.Background(),
				event(attemptRecord(t, "a"), attemptRecord(t, "b"), resultRecord(t, "r"), attemptRecord(t, "c"), attemptRecord(t, "d")))
			if err != nil {
				t.Fatal(err)
			}
			if ids := failureIDs(resp); !slices.Equal(ids, tt.wantIDs) {
				t.Errorf("failures = %q, want %q", ids, tt.wantIDs)
			}
			if len(st.recorded()) != 4 || len(st.all()) != 1 {
				t.Errorf("RecordAttempt called %d times, PutResult %d, want 4 and 1", len(st.recorded()), len(st.all()))
			}
			if len(dlq.all()) != 0 {
				t.Error("a store failure dead-lettered a well-formed attempt")
			}
		})
	}
}

func TestHandleDuplicateIsSuccess(t *testing.T) {
	st := &fakeStore{}
	h := results.New(st)
	ev := event(resultRecord(t, "a"), resultRecord(t, "b"))
	for i := range 2 {
		resp, err := h.Handle(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		if ids := failureIDs(resp); len(ids) != 0 {
			t.Errorf("delivery %d: failures = %q; a duplicate is done, not failed", i+1, ids)
		}
	}
	// The same result twice in one batch, too.
	resp, _ := h.Handle(context.Background(), event(resultRecord(t, "c"), record("m-c2", body(t, testResult("c")))))
	if ids := failureIDs(resp); len(ids) != 0 {
		t.Errorf("failures = %q for a duplicate within a batch", ids)
	}
	if got := len(st.all()); got != 6 {
		t.Errorf("PutResult called %d times, want 6", got)
	}
}

func TestHandlePutResultError(t *testing.T) {
	tests := []struct {
		name    string
		errs    map[string]error
		wantIDs []string
	}{
		{"one", map[string]error{"b": errBoom}, []string{"m-b"}},
		{"two", map[string]error{"a": errBoom, "d": context.DeadlineExceeded}, []string{"m-a", "m-d"}},
		{"all", map[string]error{"a": errBoom, "b": errBoom, "c": errBoom, "d": errBoom}, []string{"m-a", "m-b", "m-c", "m-d"}},
		{"none", nil, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &fakeStore{errs: tt.errs}
			dlq := &fakeSender{}
			resp, err := results.New(st, results.WithDeadLetters(dlq)).Handle(context.Background(),
				event(resultRecord(t, "a"), resultRecord(t, "b"), resultRecord(t, "c"), resultRecord(t, "d")))
			if err != nil {
				t.Fatal(err)
			}
			if ids := failureIDs(resp); !slices.Equal(ids, tt.wantIDs) {
				t.Errorf("failures = %q, want %q", ids, tt.wantIDs)
			}
			if len(st.all()) != 4 {
				t.Errorf("PutResult called %d times, want 4", len(st.all()))
			}
			if len(dlq.all()) != 0 {
				t.Error("a store failure dead-lettered a well-formed result")
			}
		})
	}
}

func TestHandleMalformed(t *testing.T) {
	with := func(f func(*job.Result)) string {
		r := testResult("x")
		f(&r)
		return body(t, r)
	}
	good := body(t, testResult("x"))
	withAttempt := func(f func(*job.Attempt)) string {
		a := testAttempt("x")
		f(&a)
		b, err := job.Encode(a)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	goodAttempt := withAttempt(func(*job.Attempt) {})
	bodies := []struct {
		name, body string
		attempt    bool // carries the type attribute of an attempt
	}{
		{"not JSON", "{oops", false},
		{"empty", "", false},
		{"wrong version", with(func(r *job.Result) { r.V = 3 }), false},
		{"missing run_id", with(func(r *job.Result) { r.RunID = "" }), false},
		{"missing target_id", with(func(r *job.Result) { r.TargetID = "" }), false},
		{"missing scheduled_at", with(func(r *job.Result) { r.ScheduledAt = time.Time{} }), false},
		{"missing fetched_at", with(func(r *job.Result) { r.FetchedAt = time.Time{} }), false},
		{"unknown status", with(func(r *job.Result) { r.Status = "maybe" }), false},
		{"failed without error", with(func(r *job.Result) { r.Status = job.StatusFailed }), false},
		{"ok with error", with(func(r *job.Result) { r.Error = &job.Error{Kind: "x", Message: "y"} }), false},
		{"unknown field", strings.TrimSuffix(good, "}") + `,"extra":true}`, false},
		{"a job, not a result", `{"v":1,"run_id":"r","schedule":"s","target_id":"t","url":"https://x/","scheduled_at":"2026-11-27T09:00:00Z"}`, false},
		// Dispatch is on the type attribute, not on the body.
		{"an attempt without the type attribute", goodAttempt, false},
		{"attempt: not JSON", "{oops", true},
		{"attempt: empty", "", true},
		{"attempt: missing error kind", withAttempt(func(a *job.Attempt) { a.Error.Kind = "" }), true},
		{"attempt: no error", strings.Replace(goodAttempt, `"error":{"kind":"http_5xx","message":"503 Service Unavailable"}`, `"error":{}`, 1), true},
		{"attempt: attempt 0", withAttempt(func(a *job.Attempt) { a.Attempt = 0 }), true},
		{"attempt: wrong version", withAttempt(func(a *job.Attempt) { a.V = 2 }), true},
		{"attempt: missing run_id", withAttempt(func(a *job.Attempt) { a.RunID = "" }), true},
		{"attempt: missing target_id", withAttempt(func(a *job.Attempt) { a.TargetID = "" }), true},
		{"attempt: unknown field", strings.TrimSuffix(goodAttempt, "}") + `,"extra":true}`, true},
		{"attempt: a result, not an attempt", good, true},
	}
	for _, b := range bodies {
		t.Run(b.name, func(t *testing.T) {
			rec := record("m-bad", b.body)
			if b.attempt {
				rec = asAttempt(rec)
				if _, err := job.DecodeAttempt([]byte(b.body)); err == nil {
					t.Fatalf("test body decodes as an attempt: %s", b.body)
				}
			} else if _, err := job.DecodeResult([]byte(b.body)); err == nil {
				t.Fatalf("test body decodes as a result: %s", b.body)
			}
			modes := []struct {
				name       string
				dlq        *fakeSender
				wantFailed bool
			}{
				{"DLQ", &fakeSender{}, false},
				{"DLQ send fails", &fakeSender{err: errBoom}, true},
				{"no DLQ", nil, true},
			}
			for _, m := range modes {
				t.Run(m.name, func(t *testing.T) {
					st := &fakeStore{}
					var opts []results.Option
					if m.dlq != nil {
						opts = append(opts, results.WithDeadLetters(m.dlq))
					}
					resp, err := results.New(st, opts...).Handle(context.Background(),
						event(resultRecord(t, "ok"), rec))
					if err != nil {
						t.Fatal(err)
					}
					want := []string{}
					if m.wantFailed {
						want = []string{"m-bad"}
					}
					if ids := failureIDs(resp); !slices.Equal(ids, want) {
						t.Errorf("failures = %q, want %q", ids, want)
					}
					if got := st.all(); len(got) != 1 || got[0].TargetID != "ok" {
						t.Errorf("stored %d results; a malformed one must not reach the store", len(got))
					}
					if got := st.recorded(); len(got) != 0 {
						t.Errorf("stored attempts %+v; a malformed one must not reach the store", got)
					}
					if m.dlq == nil {
						return
					}
					sent := m.dlq.all()
					if len(sent) != 1 {
						t.Fatalf("DLQ got %d messages, want 1", len(sent))
					}
					a := sent[0].Attributes
					if sent[0].Body != b.body || a[sqsevent.AttrErrorKind] != sqsevent.KindBadMessage ||
						a[sqsevent.AttrOriginalMessageID] != "m-bad" || a[sqsevent.AttrSourceQueue] != resultsQ ||
						a[job.AttrRunID] != runID || !strings.Contains(a[sqsevent.AttrErrorMessage], "invalid message") {
						t.Errorf("DLQ message = %q %v", sent[0].Body, a)
					}
					// A replayed message must still say what it holds.
					if wantType := map[bool]string{true: job.TypeAttempt}[b.attempt]; a[job.AttrType] != wantType {
						t.Errorf("DLQ type attribute = %q, want %q", a[job.AttrType], wantType)
					}
				})
			}
		})
	}
}

func TestHandleConcurrency(t *testing.T) {
	tests := []struct {
		name    string
		records int
		opts    []results.Option
		want    int
	}{
		{"WithConcurrency(1)", 4, []results.Option{results.WithConcurrency(1)}, 1},
		{"WithConcurrency(2)", 8, []results.Option{results.WithConcurrency(2)}, 2},
		{"WithConcurrency(5)", 10, []results.Option{results.WithConcurrency(5)}, 5},
		{"default 10", 25, nil, 10},
		{"non-positive keeps the default", 25, []results.Option{results.WithConcurrency(0)}, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProbe(tt.want)
			st := &fakeStore{probe: p}
			var recs []events.SQSMessage
			for i := range tt.records {
				recs = append(recs, resultRecord(t, fmt.Sprintf("t%02d", i)))
			}
			resp, _ := results.New(st, tt.opts...).Handle(context.Background(), event(recs...))
			if got := p.Max(); got != tt.want {
				t.Errorf("at most %d writes at once, want %d", got, tt.want)
			}
			if ids := failureIDs(resp); len(ids) != 0 || len(st.all()) != tt.records {
				t.Errorf("failures %q, %d stored, want none and %d", ids, len(st.all()), tt.records)
			}
		})
	}
}

func TestHandleFailuresInBatchOrder(t *testing.T) {
	st := &fakeStore{errs: map[string]error{"t5": errBoom, "t1": errBoom}}
	var recs []events.SQSMessage
	for i := range 8 {
		recs = append(recs, resultRecord(t, fmt.Sprintf("t%d", i)))
	}
	recs = append(recs, record("m-bad", "nope"))
	st.errs["x"] = errBoom
	recs = append([]events.SQSMessage{attemptRecord(t, "x")}, recs...)
	resp, _ := results.New(st, results.WithConcurrency(8)).Handle(context.Background(), event(recs...))
	if ids := failureIDs(resp); !slices.Equal(ids, []string{"m-x", "m-t1", "m-t5", "m-bad"}) {
		t.Errorf("failures = %q, want [m-x m-t1 m-t5 m-bad]", ids)
	}
}

// panicStore panics on the results of one target.
type panicStore struct{ fakeStore }

func (s *panicStore) PutResult(ctx context.Context, r job.Result) (store.Outcome, error) {
	if r.TargetID == "bad" {
		panic("store adapter bug")
	}
	return s.fakeStore.PutResult(ctx, r)
}

// A store call that panics fails its own record only: the panic neither
// ends the process nor fails the batch's other records.
func TestHandlePanicFailsOnlyItsRecord(t *testing.T) {
	st := &panicStore{}
	resp, err := results.New(st).Handle(context.Background(), event(resultRecord(t, "a"), resultRecord(t, "bad"), resultRecord(t, "c")))
	if err != nil {
		t.Fatal(err)
	}
	if ids := failureIDs(resp); !slices.Equal(ids, []string{"m-bad"}) {
		t.Errorf("failures = %q, want [m-bad]", ids)
	}
	if n := len(st.all()); n != 2 {
		t.Errorf("%d results stored, want the 2 others", n)
	}
}

// batchStore is a fakeStore with PutResults; batchErr fails every
// PutResults, and a result of target "panic" makes it panic.
type batchStore struct {
	fakeStore
	batches  [][]job.Result
	batchErr error
}

func (s *batchStore) PutResults(ctx context.Context, rs []job.Result) ([]store.Outcome, error) {
	s.mu.Lock()
	s.batches = append(s.batches, slices.Clone(rs))
	s.mu.Unlock()
	if s.batchErr != nil {
		return nil, s.batchErr
	}
	for _, r := range rs {
		if r.TargetID == "panic" {
			panic("store adapter bug")
		}
	}
	outs := make([]store.Outcome, len(rs))
	for i, r := range rs {
		var err error
		if outs[i], err = s.fakeStore.PutResult(ctx, r); err != nil {
			return nil, err
		}
	}
	return outs, nil
}

func (s *batchStore) seen() [][]job.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.batches)
}

func targets(rs []job.Result) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.TargetID)
	}
	return out
}

// With a BatchStore, the batch's results are stored with one PutResults;
// attempts and malformed messages go their own way.
func TestHandleStoresABatchWithOnePutResults(t *testing.T) {
	st := &batchStore{}
	dlq := &fakeSender{}
	recs := []events.SQSMessage{resultRecord(t, "a"), attemptRecord(t, "x"), resultRecord(t, "b"), record("m-bad", "nope"), resultRecord(t, "c")}
	resp, _ := results.New(st, results.WithDeadLetters(dlq)).Handle(context.Background(), event(recs...))
	if ids := failureIDs(resp); len(ids) != 0 {
		t.Errorf("failures %q, want none", ids)
	}
	if b := st.seen(); len(b) != 1 || !slices.Equal(targets(b[0]), []string{"a", "b", "c"}) {
		t.Errorf("PutResults calls %v, want one with a, b and c", b)
	}
	if got := st.recorded(); len(got) != 1 || got[0].TargetID != "x" {
		t.Errorf("attempts %v, want x's", got)
	}
	if n := len(dlq.all()); n != 1 {
		t.Errorf("%d dead letters, want the malformed message", n)
	}
}

// When PutResults fails or panics, each result is stored on its own, so
// only those the store rejects fail.
func TestHandleBatchFailureFallsBackToPutResult(t *testing.T) {
	for _, tt := range []struct {
		name string
		st   *batchStore
		recs []string
	}{
		{"error", &batchStore{batchErr: errBoom, fakeStore: fakeStore{errs: map[string]error{"b": errBoom}}}, []string{"a", "b", "c"}},
		{"panic", &batchStore{fakeStore: fakeStore{errs: map[string]error{"b": errBoom}}}, []string{"a", "b", "panic"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var recs []events.SQSMessage
			for _, id := range tt.recs {
				recs = append(recs, resultRecord(t, id))
			}
			resp, err := results.New(tt.st).Handle(context.Background(), event(recs...))
			if err != nil {
				t.Fatal(err)
			}
			if ids := failureIDs(resp); !slices.Equal(ids, []string{"m-b"}) {
				t.Errorf("failures = %q, want [m-b]", ids)
			}
			var stored []string
			for _, r := range tt.st.all() {
				if r.TargetID != "b" && !slices.Contains(stored, r.TargetID) {
					stored = append(stored, r.TargetID)
				}
			}
			slices.Sort(stored)
			if want := []string{tt.recs[0], tt.recs[2]}; !slices.Equal(stored, want) {
				t.Errorf("stored %v, want %v", stored, want)
			}
		})
	}
}
