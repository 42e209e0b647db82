package planner_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/inflight"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/planner"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/targets"
)

// ---- fakes ----

// probe measures how many calls of a fake are in flight at once.
type probe = inflight.Probe

var newProbe = inflight.New

// journal records the order of calls across fakes.
type journal struct {
	mu     sync.Mutex
	events []string
}

func (j *journal) add(e string) {
	if j == nil {
		return
	}
	j.mu.Lock()
	j.events = append(j.events, e)
	j.mu.Unlock()
}

// fakeSender records every batch. fail, when set, decides a batch's error.
type fakeSender struct {
	mu      sync.Mutex
	batches [][]queue.Outgoing
	fail    func(batch []queue.Outgoing) error
	probe   *probe
	journal *journal
}

func (s *fakeSender) SendBatch(_ context.Context, msgs []queue.Outgoing) error {
	if s.probe != nil {
		s.probe.Enter()
		defer s.probe.Exit()
	}
	s.journal.add("send")
	s.mu.Lock()
	s.batches = append(s.batches, slices.Clone(msgs))
	s.mu.Unlock()
	if len(msgs) == 0 || len(msgs) > queue.MaxBatch {
		return queue.ErrBatchTooLarge
	}
	if s.fail != nil {
		return s.fail(msgs)
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

func (s *fakeSender) batchSizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n []int
	for _, b := range s.batches {
		n = append(n, len(b))
	}
	slices.Sort(n)
	slices.Reverse(n)
	return n
}

// fakeRuns records runs; a run ID is created once, as store.Store does.
// Previous returns the validators of latest (or latestErr), counts its
// calls and records what it was asked for.
type fakeRuns struct {
	mu          sync.Mutex
	runs        []store.Run
	seen        map[string]bool
	err         error
	journal     *journal
	latest      []job.Result
	latestErr   error
	latestCalls int
	asked       []string // "<schedule> before <time>"
}

func (r *fakeRuns) Previous(ctx context.Context, schedule string, before time.Time) ([]store.Validators, error) {
	r.journal.add("latest")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.latestCalls++
	r.asked = append(r.asked, schedule+" before "+before.UTC().Format(time.RFC3339))
	if _, ok := ctx.Deadline(); !ok {
		return nil, errors.New("fake: Previous called without a deadline")
	}
	var vs []store.Validators
	for _, l := range r.latest {
		vs = append(vs, store.Validators{TargetID: l.TargetID, RunID: l.RunID, ScheduledAt: l.ScheduledAt, URL: l.URL,
			Status: l.Status, ETag: l.ETag, LastModified: l.LastModified, ContentHash: l.ContentHash, RulesHash: l.RulesHash})
	}
	return vs, r.latestErr
}

func (r *fakeRuns) PutRun(_ context.Context, run store.Run) (bool, error) {
	r.journal.add("run")
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs = append(r.runs, run)
	if r.err != nil {
		return false, r.err
	}
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	created := !r.seen[run.ID]
	r.seen[run.ID] = true
	return created, nil
}

// ---- helpers ----

const tickTime = "2026-11-27T09:00:00Z"

var tickAt = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// targetsFile builds a targets file with n plain targets named
// target-00.. on "hourly", a target "daily-one" on "daily", and a schedule
// "idle" that runs no target. Extra YAML target entries are appended.
func targetsFile(t *testing.T, n int, extra string) *targets.File {
	t.Helper()
	var b strings.Builder
	b.WriteString(`schedules:
  hourly: { expression: "rate(1 hour)" }
  daily: { expression: "rate(1 day)" }
  idle: { expression: "rate(7 days)" }
defaults: { timeout: 10s, user_agent: "default-agent/1.0", robots: true }
targets:
  - id: daily-one
    url: https://daily.example.com/
    schedule: daily
`)
	for i := range n {
		fmt.Fprintf(&b, "  - { id: %s, url: \"https://example.com/%d\", schedule: hourly }\n", targetID(i), i)
	}
	b.WriteString(extra)
	tf, err := targets.Parse("targets.yaml", []byte(b.String()))
	if err != nil {
		t.Fatalf("targets.Parse: %v\n%s", err, b.String())
	}
	return tf
}

func targetID(i int) string { return fmt.Sprintf("target-%02d", i) }

func hourly() planner.Tick { return planner.Tick{Schedule: "hourly", ScheduledTime: tickTime} }

func decodeJobs(t *testing.T, msgs []queue.Outgoing) map[string]job.Job {
	t.Helper()
	jobs := map[string]job.Job{}
	for _, m := range msgs {
		j, err := job.DecodeJob([]byte(m.Body))
		if err != nil {
			t.Fatalf("job body does not decode: %v\n%s", err, m.Body)
		}
		if _, dup := jobs[j.TargetID]; dup {
			t.Errorf("target %s sent twice", j.TargetID)
		}
		jobs[j.TargetID] = j
	}
	return jobs
}

// ---- tests ----

func TestHandleSendsOneJobPerTargetOfTheSchedule(t *testing.T) {
	tf := targetsFile(t, 2, `  - id: custom
    url: https://custom.example.com/page?q=1
    schedule: hourly
    timeout: 2500ms
    user_agent: "custom-agent/2.0"
    robots: false
    extract:
      title: { css: title }
      links: { css: "a.item", attr: href, all: true }
      price: { css: ".price", regex: "([0-9.]+)", required: true }
`)
	send, runs := &fakeSender{}, &fakeRuns{}
	resp, err := planner.New(tf, send, runs).Handle(context.Background(), hourly())
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	const runID = "hourly-20261127T090000Z"
	want := planner.Response{RunID: runID, Schedule: "hourly", ScheduledAt: tickAt, Planned: 3, NewRun: true}
	if resp != want {
		t.Errorf("response = %+v, want %+v", resp, want)
	}

	msgs := send.sent()
	jobs := decodeJobs(t, msgs)
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range jobs {
			if !yield(id) {
				return
			}
		}
	})
	if !slices.Equal(ids, []string{"custom", "target-00", "target-01"}) {
		t.Fatalf("jobs sent for %q, want the 3 hourly targets only", ids)
	}
	entryIDs := map[string]bool{}
	perHost := map[string]int{} // jobs so far, in file order (one batch)
	for _, m := range msgs {
		j := jobs[mustTarget(t, m)]
		if m.Attributes[job.AttrRunID] != runID || m.Attributes[job.AttrTargetID] != j.TargetID || len(m.Attributes) != 2 {
			t.Errorf("attributes of %s = %v, want run_id=%s target_id=%s", j.TargetID, m.Attributes, runID, j.TargetID)
		}
		if m.ID == "" || entryIDs[m.ID] {
			t.Errorf("entry ID %q is empty or not unique", m.ID)
		}
		entryIDs[m.ID] = true
		// Paced at the default host_rate of 1/s: a host's k-th job k s later.
		host := strings.ToLower(mustHost(t, j.URL))
		if want := time.Duration(perHost[host]) * time.Second; m.Delay != want || !j.NotBefore.IsZero() || j.HostRate != 1 || j.HostConcurrency != 0 {
			t.Errorf("job %s: delay %s not_before %v host_rate %v host_concurrency %d, want %s, none, 1 and 0 (the worker's own)",
				j.TargetID, m.Delay, j.NotBefore, j.HostRate, j.HostConcurrency, want)
		}
		perHost[host]++
		if j.V != job.Version || j.RunID != runID || j.Schedule != "hourly" || !j.ScheduledAt.Equal(tickAt) {
			t.Errorf("job %s: v=%d run_id=%q schedule=%q scheduled_at=%s", j.TargetID, j.V, j.RunID, j.Schedule, j.ScheduledAt)
		}
	}

	plain := jobs["target-01"]
	if plain.URL != "https://example.com/1" || plain.TimeoutMS != 10000 || plain.UserAgent != "default-agent/1.0" ||
		plain.Robots == nil || !*plain.Robots || len(plain.Extract) != 0 {
		t.Errorf("plain job = %+v, want the file's defaults", plain)
	}
	c := jobs["custom"]
	if c.URL != "https://custom.example.com/page?q=1" || c.TimeoutMS != 2500 || c.UserAgent != "custom-agent/2.0" {
		t.Errorf("custom job url/timeout/ua = %q/%d/%q", c.URL, c.TimeoutMS, c.UserAgent)
	}
	if c.Robots == nil || *c.Robots || c.RespectsRobots() {
		t.Errorf("custom job robots = %v, want explicitly false", c.Robots)
	}
	wantExtract := map[string]job.Rule{
		"title": {CSS: "title"},
		"links": {CSS: "a.item", Attr: "href", All: true},
		"price": {CSS: ".price", Regex: "([0-9.]+)", Required: true},
	}
	if len(c.Extract) != len(wantExtract) {
		t.Errorf("extract = %+v, want %+v", c.Extract, wantExtract)
	}
	for name, r := range wantExtract {
		if c.Extract[name] != r {
			t.Errorf("extract.%s = %+v, want %+v", name, c.Extract[name], r)
		}
	}
}

func mustTarget(t *testing.T, m queue.Outgoing) string {
	t.Helper()
	j, err := job.DecodeJob([]byte(m.Body))
	if err != nil {
		t.Fatal(err)
	}
	return j.TargetID
}

func TestHandleBatches(t *testing.T) {
	tests := []struct {
		targets int
		want    []int // batch sizes, largest first
	}{
		{1, []int{1}},
		{9, []int{9}},
		{10, []int{10}},
		{11, []int{10, 1}},
		{25, []int{10, 10, 5}},
		{30, []int{10, 10, 10}},
		{95, []int{10, 10, 10, 10, 10, 10, 10, 10, 10, 5}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.targets), func(t *testing.T) {
			send, runs := &fakeSender{}, &fakeRuns{}
			resp, err := planner.New(targetsFile(t, tt.targets, ""), send, runs).Handle(context.Background(), hourly())
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if got := send.batchSizes(); !slices.Equal(got, tt.want) {
				t.Errorf("batch sizes = %v, want %v", got, tt.want)
			}
			if resp.Planned != tt.targets {
				t.Errorf("planned = %d, want %d", resp.Planned, tt.targets)
			}
			if len(runs.runs) != 1 || runs.runs[0].Planned != tt.targets {
				t.Errorf("runs recorded = %+v, want one with planned %d", runs.runs, tt.targets)
			}
			jobs := decodeJobs(t, send.sent())
			for i := range tt.targets {
				if _, ok := jobs[targetID(i)]; !ok {
					t.Errorf("no job for %s", targetID(i))
				}
			}
			if _, ok := jobs["daily-one"]; ok {
				t.Error("a job was sent for a target of another schedule")
			}
		})
	}
}

func TestHandleScheduleWithoutTargets(t *testing.T) {
	send, runs := &fakeSender{}, &fakeRuns{}
	resp, err := planner.New(targetsFile(t, 3, ""), send, runs).Handle(context.Background(),
		planner.Tick{Schedule: "idle", ScheduledTime: tickTime})
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if resp.Planned != 0 || resp.RunID != "idle-20261127T090000Z" {
		t.Errorf("response = %+v, want planned 0", resp)
	}
	if len(send.batches) != 0 {
		t.Errorf("sent %d batches, want none (an empty batch is an error on SQS)", len(send.batches))
	}
	if len(runs.runs) != 1 || runs.runs[0].Planned != 0 {
		t.Errorf("runs = %+v, want one with planned 0", runs.runs)
	}
}

func TestHandleSendsBatchesInParallel(t *testing.T) {
	tests := []struct {
		name    string
		targets int
		opts    []planner.Option
		want    int // batches in flight at once
	}{
		{"parallelism 1 is serial", 30, []planner.Option{planner.WithParallelism(1)}, 1},
		{"parallelism 2", 50, []planner.Option{planner.WithParallelism(2)}, 2},
		{"parallelism 3", 95, []planner.Option{planner.WithParallelism(3)}, 3},
		{"default 8", 200, nil, 8},
		{"fewer batches than the default", 40, nil, 4},
		{"non-positive keeps the default", 200, []planner.Option{planner.WithParallelism(0), planner.WithParallelism(-1)}, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProbe(tt.want)
			send := &fakeSender{probe: p}
			resp, err := planner.New(targetsFile(t, tt.targets, ""), send, &fakeRuns{}, tt.opts...).
				Handle(context.Background(), hourly())
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if got := p.Max(); got != tt.want {
				t.Errorf("at most %d batches in flight at once, want %d", got, tt.want)
			}
			if resp.Planned != tt.targets || len(send.sent()) != tt.targets {
				t.Errorf("planned %d, sent %d, want %d", resp.Planned, len(send.sent()), tt.targets)
			}
		})
	}
}

func TestHandleRecordsRunBeforeSendingJobs(t *testing.T) {
	j := &journal{}
	send, runs := &fakeSender{journal: j}, &fakeRuns{journal: j}
	before := time.Now().UTC()
	if _, err := planner.New(targetsFile(t, 12, ""), send, runs).Handle(context.Background(), hourly()); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	after := time.Now().UTC()
	if want := []string{"latest", "run", "send", "send"}; !slices.Equal(j.events, want) {
		t.Errorf("calls = %v, want %v", j.events, want)
	}
	if len(runs.runs) != 1 {
		t.Fatalf("runs = %+v, want one", runs.runs)
	}
	r := runs.runs[0]
	if r.ID != "hourly-20261127T090000Z" || r.Schedule != "hourly" || !r.ScheduledAt.Equal(tickAt) || r.Planned != 12 {
		t.Errorf("run = %+v", r)
	}
	var want []string
	for i := range 12 {
		want = append(want, targetID(i))
	}
	if !slices.Equal(r.Targets, want) {
		t.Errorf("run targets = %v, want the schedule's targets in file order %v", r.Targets, want)
	}
	if r.Succeeded != 0 || r.Failed != 0 {
		t.Errorf("new run has counters %d/%d", r.Succeeded, r.Failed)
	}
	if r.CreatedAt.Before(before) || r.CreatedAt.After(after) || r.CreatedAt.Location() != time.UTC {
		t.Errorf("created_at = %s, want a UTC time between %s and %s", r.CreatedAt, before, after)
	}
}

func TestHandleRunIDIsDeterministic(t *testing.T) {
	send, runs := &fakeSender{}, &fakeRuns{}
	p := planner.New(targetsFile(t, 3, ""), send, runs)
	ctx := context.Background()

	first, err := p.Handle(ctx, hourly())
	if err != nil {
		t.Fatal(err)
	}
	// The same tick delivered again, once as-is and once in another offset.
	again, err := p.Handle(ctx, hourly())
	if err != nil {
		t.Fatal(err)
	}
	seoul, err := p.Handle(ctx, planner.Tick{Schedule: "hourly", ScheduledTime: "2026-11-27T18:00:00+09:00"})
	if err != nil {
		t.Fatal(err)
	}
	if first.RunID != job.RunID("hourly", tickAt) || first.RunID != "hourly-20261127T090000Z" {
		t.Errorf("run ID = %q", first.RunID)
	}
	if again.RunID != first.RunID || seoul.RunID != first.RunID {
		t.Errorf("run IDs %q, %q, %q differ for the same tick", first.RunID, again.RunID, seoul.RunID)
	}
	if !first.NewRun || again.NewRun || seoul.NewRun {
		t.Errorf("NewRun = %v, %v, %v, want true, false, false", first.NewRun, again.NewRun, seoul.NewRun)
	}
	if !seoul.ScheduledAt.Equal(tickAt) || seoul.ScheduledAt.Location() != time.UTC {
		t.Errorf("scheduled_at = %s, want %s in UTC", seoul.ScheduledAt, tickAt)
	}
	// Every delivery sends its jobs again (absorbed downstream).
	if got := len(send.sent()); got != 9 {
		t.Errorf("sent %d jobs over three deliveries, want 9", got)
	}
	for _, m := range send.sent() {
		if m.Attributes[job.AttrRunID] != first.RunID {
			t.Errorf("job of run %q, want %q", m.Attributes[job.AttrRunID], first.RunID)
		}
	}

	// Another tick is another run.
	next, err := p.Handle(ctx, planner.Tick{Schedule: "hourly", ScheduledTime: "2026-11-27T10:00:00Z"})
	if err != nil {
		t.Fatal(err)
	}
	if next.RunID == first.RunID || !next.NewRun {
		t.Errorf("next tick: run %q new=%v, want a new run", next.RunID, next.NewRun)
	}
	daily, err := p.Handle(ctx, planner.Tick{Schedule: "daily", ScheduledTime: tickTime})
	if err != nil {
		t.Fatal(err)
	}
	if daily.RunID == first.RunID || !daily.NewRun {
		t.Errorf("other schedule: run %q new=%v, want a new run", daily.RunID, daily.NewRun)
	}
}

func TestHandleBadTick(t *testing.T) {
	tests := []struct {
		name string
		tick planner.Tick
		want []string // in the error message
	}{
		{"unknown schedule", planner.Tick{Schedule: "hourlyy", ScheduledTime: tickTime},
			[]string{`"hourlyy"`, "hourly, daily, idle"}},
		{"no schedule", planner.Tick{ScheduledTime: tickTime}, []string{"hourly, daily, idle"}},
		{"missing scheduled_time", planner.Tick{Schedule: "hourly"}, []string{"scheduled_time is missing"}},
		{"unsubstituted placeholder", planner.Tick{Schedule: "hourly", ScheduledTime: "<aws.scheduler.scheduled-time>"},
			[]string{"<aws.scheduler.scheduled-time>", "RFC 3339"}},
		{"not RFC 3339", planner.Tick{Schedule: "hourly", ScheduledTime: "2026-11-27 09:00:00"}, []string{"RFC 3339"}},
		{"no zone", planner.Tick{Schedule: "hourly", ScheduledTime: "2026-11-27T09:00:00"}, []string{"RFC 3339"}},
		{"unix seconds", planner.Tick{Schedule: "hourly", ScheduledTime: "1795770000"}, []string{"RFC 3339"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			send, runs := &fakeSender{}, &fakeRuns{}
			_, err := planner.New(targetsFile(t, 3, ""), send, runs).Handle(context.Background(), tt.tick)
			if !errors.Is(err, planner.ErrBadTick) {
				t.Fatalf("error = %v, want one wrapping ErrBadTick", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if len(runs.runs) != 0 || len(send.batches) != 0 {
				t.Errorf("a bad tick recorded %d runs and sent %d batches", len(runs.runs), len(send.batches))
			}
		})
	}
}

func TestTickUnmarshalJSON(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    planner.Tick
		wantErr bool
	}{
		{name: "scheduler input", in: `{"schedule":"hourly","scheduled_time":"2026-11-27T09:00:00Z"}`,
			want: planner.Tick{Schedule: "hourly", ScheduledTime: tickTime}},
		{name: "unknown key", in: `{"schedule":"hourly","scheduled_time":"2026-11-27T09:00:00Z","target":"x"}`, wantErr: true},
		{name: "misspelled key", in: `{"schedule":"hourly","scheduledTime":"2026-11-27T09:00:00Z"}`, wantErr: true},
		{name: "EventBridge rule event", in: `{"version":"0","id":"1","detail-type":"Scheduled Event","source":"aws.events",` +
			`"time":"2026-11-27T09:00:00Z","resources":[],"detail":{}}`, wantErr: true},
		{name: "wrong type", in: `{"schedule":5,"scheduled_time":"2026-11-27T09:00:00Z"}`, wantErr: true},
		{name: "not an object", in: `["hourly"]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got planner.Tick
			err := json.Unmarshal([]byte(tt.in), &got)
			if tt.wantErr {
				if !errors.Is(err, planner.ErrBadTick) {
					t.Fatalf("error = %v, want one wrapping ErrBadTick", err)
				}
				if !strings.Contains(err.Error(), "scheduled_time") {
					t.Errorf("error %q does not show the expected shape", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if got != tt.want {
				t.Errorf("tick = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestTickNullIsABadTick(t *testing.T) {
	var tick planner.Tick
	if err := json.Unmarshal([]byte(`null`), &tick); err != nil {
		t.Fatalf("Unmarshal(null): %v", err)
	}
	_, err := planner.New(targetsFile(t, 1, ""), &fakeSender{}, &fakeRuns{}).Handle(context.Background(), tick)
	if !errors.Is(err, planner.ErrBadTick) {
		t.Errorf("error = %v, want ErrBadTick", err)
	}
}

// partialFailure fails the entries of the listed targets with a BatchError.
func partialFailure(failing ...string) func([]queue.Outgoing) error {
	return func(batch []queue.Outgoing) error {
		var be queue.BatchError
		for _, m := range batch {
			if slices.Contains(failing, m.Attributes[job.AttrTargetID]) {
				be.Failed = append(be.Failed, queue.EntryError{ID: m.ID, Err: errors.New("throttled")})
			}
		}
		if len(be.Failed) == 0 {
			return nil
		}
		return &be
	}
}

// totalFailure fails whole batches holding any of the listed targets.
func totalFailure(failing ...string) func([]queue.Outgoing) error {
	return func(batch []queue.Outgoing) error {
		for _, m := range batch {
			if slices.Contains(failing, m.Attributes[job.AttrTargetID]) {
				return errors.New("connection reset")
			}
		}
		return nil
	}
}

func TestHandleSendFailures(t *testing.T) {
	all := make([]string, 25)
	for i := range all {
		all[i] = targetID(i)
	}
	tests := []struct {
		name       string
		fail       func([]queue.Outgoing) error
		wantFailed []string
		wantCause  string
	}{
		{"one entry", partialFailure("target-07"), []string{"target-07"}, "throttled"},
		{"entries of two batches", partialFailure("target-03", "target-12", "target-24"),
			[]string{"target-03", "target-12", "target-24"}, "throttled"},
		{"a whole batch", totalFailure("target-10"), all[10:20], "connection reset"},
		{"the short last batch", totalFailure("target-20"), all[20:], "connection reset"},
		{"every batch", func([]queue.Outgoing) error { return errors.New("connection reset") }, all, "connection reset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			send := &fakeSender{fail: tt.fail}
			_, err := planner.New(targetsFile(t, 25, ""), send, &fakeRuns{}).Handle(context.Background(), hourly())
			if err == nil {
				t.Fatal("Handle succeeded although jobs were not sent")
			}
			if errors.Is(err, planner.ErrBadTick) {
				t.Errorf("a send failure is reported as a bad tick: %v", err)
			}
			msg := err.Error()
			for _, id := range all {
				if named, want := strings.Contains(msg, id), slices.Contains(tt.wantFailed, id); named != want {
					t.Errorf("error names %s: %v, want %v\nerror: %s", id, named, want, msg)
				}
			}
			if strings.Contains(msg, "daily-one") {
				t.Error("error names a target of another schedule")
			}
			if want := fmt.Sprintf("%d of 25", len(tt.wantFailed)); !strings.Contains(msg, want) {
				t.Errorf("error %q does not say %q", msg, want)
			}
			if !strings.Contains(msg, tt.wantCause) {
				t.Errorf("error %q does not give the cause %q", msg, tt.wantCause)
			}
			if !strings.Contains(msg, "hourly-20261127T090000Z") {
				t.Errorf("error %q does not name the run", msg)
			}
			if got := len(send.batches); got != 3 {
				t.Errorf("%d batches attempted, want all 3 despite the failure", got)
			}
		})
	}
}

func TestHandlePutRunFailure(t *testing.T) {
	boom := errors.New("table not found")
	send, runs := &fakeSender{}, &fakeRuns{err: boom}
	_, err := planner.New(targetsFile(t, 5, ""), send, runs).Handle(context.Background(), hourly())
	if !errors.Is(err, boom) {
		t.Fatalf("error = %v, want it to wrap %v", err, boom)
	}
	if errors.Is(err, planner.ErrBadTick) {
		t.Error("a store failure is reported as a bad tick")
	}
	if !strings.Contains(err.Error(), "hourly-20261127T090000Z") {
		t.Errorf("error %q does not name the run", err)
	}
	if len(send.batches) != 0 {
		t.Errorf("sent %d batches although the run was not recorded", len(send.batches))
	}
}

func TestHandleGoldenScheduleEvent(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "events", "schedule.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tick planner.Tick
	if err := json.Unmarshal(data, &tick); err != nil {
		t.Fatalf("events/schedule.json does not decode into a Tick: %v", err)
	}
	tf, err := targets.Parse("targets.yaml", []byte(`schedules:
  `+tick.Schedule+`: { expression: "rate(1 hour)", timezone: "Asia/Seoul" }
  other: { expression: "rate(1 day)" }
targets:
  - { id: example, url: "https://example.com/", schedule: `+tick.Schedule+`, extract: { title: { css: title } } }
  - { id: go-blog, url: "https://go.dev/blog/", schedule: `+tick.Schedule+` }
  - { id: elsewhere, url: "https://elsewhere.example/", schedule: other }
`))
	if err != nil {
		t.Fatal(err)
	}
	send, runs := &fakeSender{}, &fakeRuns{}
	resp, err := planner.New(tf, send, runs).Handle(context.Background(), tick)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	want := planner.Response{RunID: "hourly-20261127T090000Z", Schedule: "hourly", ScheduledAt: tickAt, Planned: 2, NewRun: true}
	if resp != want {
		t.Errorf("response = %+v, want %+v", resp, want)
	}
	jobs := decodeJobs(t, send.sent())
	if len(jobs) != 2 || jobs["example"].URL != "https://example.com/" || jobs["go-blog"].URL != "https://go.dev/blog/" {
		t.Errorf("jobs = %+v", jobs)
	}
	if jobs["example"].Extract["title"].CSS != "title" {
		t.Errorf("example's extract rules were not carried: %+v", jobs["example"].Extract)
	}
	// The response is what the Lambda returns: it must marshal.
	if _, err := json.Marshal(resp); err != nil {
		t.Errorf("response does not marshal: %v", err)
	}
}

// latestResult is a stored latest result of target i of targetsFile.
func latestResult(i int, status job.Status, etag, lastMod string) job.Result {
	r := job.Result{
		V: job.Version, RunID: "hourly-20261127T080000Z", TargetID: targetID(i), URL: fmt.Sprintf("https://example.com/%d", i),
		ScheduledAt: tickAt.Add(-time.Hour), FetchedAt: tickAt.Add(-time.Hour), Status: status,
		ETag: etag, LastModified: lastMod, ContentHash: fmt.Sprint("hash-", i),
		RulesHash: job.RulesHash(nil), // targetsFile's targets have no rules
	}
	if status == job.StatusFailed {
		r.Error = &job.Error{Kind: "http_5xx", Message: "503"}
	}
	return r
}

func TestHandleSetsValidatorsFromLatest(t *testing.T) {
	const lastMod = "Fri, 20 Nov 2026 08:00:00 GMT"
	moved := latestResult(5, job.StatusOK, `"moved"`, "")
	moved.URL = "https://old.example.com/5" // the target's URL was edited since
	runs := &fakeRuns{latest: []job.Result{
		latestResult(0, job.StatusOK, `"e0"`, ""),
		latestResult(1, job.StatusOK, "", lastMod),
		latestResult(2, job.StatusOK, `W/"e2"`, lastMod),
		latestResult(3, job.StatusOK, "", ""),              // no validators
		latestResult(4, job.StatusFailed, `"e4"`, lastMod), // not ok
		moved,
		latestResult(6, job.StatusOK, "bad\r\nvalue", ""), // not sendable
		{V: job.Version, RunID: "daily-x", TargetID: "daily-one", URL: "https://daily.example.com/", Status: job.StatusOK, ETag: `"d"`},
		{V: job.Version, RunID: "gone-x", TargetID: "deleted-target", URL: "https://gone.example/", Status: job.StatusOK, ETag: `"g"`},
	}}
	send := &fakeSender{}
	if _, err := planner.New(targetsFile(t, 8, ""), send, runs).Handle(context.Background(), hourly()); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if runs.latestCalls != 1 {
		t.Errorf("Previous called %d times, want once per tick", runs.latestCalls)
	}
	if want := []string{"hourly before " + hourly().ScheduledTime}; !slices.Equal(runs.asked, want) {
		t.Errorf("Previous asked for %q, want %q: the schedule's runs before the tick", runs.asked, want)
	}
	jobs := decodeJobs(t, send.sent())
	want := map[string]*job.Previous{
		targetID(0): {ETag: `"e0"`, ContentHash: "hash-0"},
		targetID(1): {LastModified: lastMod, ContentHash: "hash-1"},
		targetID(2): {ETag: `W/"e2"`, LastModified: lastMod, ContentHash: "hash-2"},
	}
	for i := range 8 {
		id := targetID(i)
		got, w := jobs[id].Previous, want[id]
		if (got == nil) != (w == nil) || (got != nil && *got != *w) {
			t.Errorf("%s: previous = %+v, want %+v", id, got, w)
		}
	}
}

func TestHandleLatestFailureStillPlans(t *testing.T) {
	runs := &fakeRuns{latestErr: errors.New("throttled"), latest: []job.Result{latestResult(0, job.StatusOK, `"e0"`, "")}}
	send := &fakeSender{}
	resp, err := planner.New(targetsFile(t, 3, ""), send, runs).Handle(context.Background(), hourly())
	if err != nil {
		t.Fatalf("Handle: %v, want the tick planned without validators", err)
	}
	if resp.Planned != 3 || len(runs.runs) != 1 {
		t.Errorf("planned %d, runs %d; want 3 jobs and the run recorded", resp.Planned, len(runs.runs))
	}
	for id, j := range decodeJobs(t, send.sent()) {
		if j.Previous != nil {
			t.Errorf("%s: previous = %+v, want none after a failed lookup", id, j.Previous)
		}
	}
}

func TestHandleNoTargetsNoLookup(t *testing.T) {
	runs := &fakeRuns{}
	tick := planner.Tick{Schedule: "idle", ScheduledTime: tickTime}
	if _, err := planner.New(targetsFile(t, 3, ""), &fakeSender{}, runs).Handle(context.Background(), tick); err != nil {
		t.Fatal(err)
	}
	if runs.latestCalls != 0 {
		t.Errorf("Previous called %d times for a schedule without targets", runs.latestCalls)
	}
}

// TestHandleValidatorsOnlyForSameRules: a job gets its latest result's
// validators only when that result was extracted with the target's current
// rules; otherwise a 304 would keep fields of other rules.
func TestHandleValidatorsOnlyForSameRules(t *testing.T) {
	titleH1 := map[string]job.Rule{"title": {CSS: "h1"}}
	tests := []struct {
		name      string
		extract   string // the target's extract rules in the targets file (YAML)
		rulesHash string // the latest result's
		want      bool   // validators sent
	}{
		{"same rules", `{ title: { css: h1 } }`, job.RulesHash(titleH1), true},
		{"same rules, written in another order", `{ price: { css: .p, required: true }, title: { css: h1 } }`,
			job.RulesHash(map[string]job.Rule{"title": {CSS: "h1"}, "price": {Required: true, CSS: ".p"}}), true},
		{"no rules then and now", ``, job.RulesHash(nil), true},
		{"result without a rules hash (an older version)", `{ title: { css: h1 } }`, "", false},
		{"no rules and no rules hash", ``, "", false},
		{"selector edited", `{ title: { css: h2 } }`, job.RulesHash(titleH1), false},
		{"attr edited", `{ title: { css: h1, attr: html } }`, job.RulesHash(titleH1), false},
		{"field added", `{ title: { css: h1 }, price: { css: .p } }`, job.RulesHash(titleH1), false},
		{"rules removed", ``, job.RulesHash(titleH1), false},
		{"rules added", `{ title: { css: h1 } }`, job.RulesHash(nil), false},
		{"field renamed", `{ heading: { css: h1 } }`, job.RulesHash(titleH1), false},
		{"regex edited", `{ title: { css: h1, regex: "(\\d+)" } }`, job.RulesHash(map[string]job.Rule{"title": {CSS: "h1", Regex: `(\w+)`}}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entry := `  - { id: ruled, url: "https://ruled.example.com/", schedule: hourly`
			if tt.extract != "" {
				entry += `, extract: ` + tt.extract
			}
			tf := targetsFile(t, 0, entry+" }\n")
			latest := job.Result{
				V: job.Version, RunID: "hourly-20261127T080000Z", TargetID: "ruled", URL: "https://ruled.example.com/",
				ScheduledAt: tickAt.Add(-time.Hour), FetchedAt: tickAt.Add(-time.Hour), Status: job.StatusOK,
				ETag: `"e"`, LastModified: "Fri, 20 Nov 2026 08:00:00 GMT", ContentHash: "h", RulesHash: tt.rulesHash,
			}
			send := &fakeSender{}
			if _, err := planner.New(tf, send, &fakeRuns{latest: []job.Result{latest}}).Handle(context.Background(), hourly()); err != nil {
				t.Fatalf("Handle: %v", err)
			}
			j, ok := decodeJobs(t, send.sent())["ruled"]
			if !ok {
				t.Fatal("no job for the target")
			}
			if got := j.Previous != nil; got != tt.want {
				t.Errorf("previous = %+v (job rules hash %s, result's %q), want validators: %v",
					j.Previous, job.RulesHash(j.Extract), tt.rulesHash, tt.want)
			}
			if tt.want && *j.Previous != (job.Previous{ETag: latest.ETag, LastModified: latest.LastModified, ContentHash: "h"}) {
				t.Errorf("previous = %+v, want the latest result's validators", j.Previous)
			}
		})
	}
}

func mustHost(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Hostname()
}

// TestHandlePacesEachHost: the k-th job of a host is due k/rate after the
// tick is planned (docs/aws.md, fleet-wide pacing), by SQS's DelaySeconds
// (whole seconds, 0 to 900, per the SendMessageBatch API reference) and past
// 900 s by not_before, so that no second holds more than rate jobs of a host.
func TestHandlePacesEachHost(t *testing.T) {
	var b strings.Builder
	b.WriteString("schedules:\n  hourly: { expression: \"rate(1 hour)\" }\ntargets:\n")
	hosts := []struct {
		host string
		n    int
		rate float64
	}{{"a.example.com", 7, 2}, {"b.example.com", 3, 1}, {"c.example.com", 1000, 1}, {"d.example.com", 4, 0.5}}
	for _, h := range hosts {
		for i := range h.n {
			fmt.Fprintf(&b, "  - { id: %s-%d, url: \"https://%s/%d\", schedule: hourly }\n", h.host[:1], i, h.host, i)
		}
	}
	tf, err := targets.Parse("targets.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	rate := map[string]float64{}
	for _, h := range hosts {
		rate[h.host] = h.rate
	}
	for i := range tf.Targets {
		tf.Targets[i].HostRate = rate[tf.Targets[i].Host()]
	}
	planned := time.Date(2026, 11, 27, 9, 0, 2, 0, time.UTC)
	send := &fakeSender{}
	if _, err := planner.New(tf, send, &fakeRuns{}, planner.WithClock(func() time.Time { return planned })).Handle(context.Background(), hourly()); err != nil {
		t.Fatal(err)
	}
	msgs := send.sent()
	jobs := decodeJobs(t, msgs)
	if len(msgs) != 1014 {
		t.Fatalf("%d jobs sent, want 1014", len(msgs))
	}
	perSecond := map[string]map[int64]int{}
	for _, m := range msgs {
		j := jobs[mustTarget(t, m)]
		host := mustHost(t, j.URL)
		var k int
		fmt.Sscanf(j.URL, "https://"+host+"/%d", &k)
		offset := time.Duration(float64(k) / rate[host] * float64(time.Second))
		wantDelay, wantNotBefore := offset.Truncate(time.Second), time.Time{}
		if wantDelay > 15*time.Minute {
			wantDelay, wantNotBefore = 15*time.Minute, planned.Add(offset)
		}
		if m.Delay != wantDelay || !j.NotBefore.Equal(wantNotBefore) || j.HostRate != rate[host] {
			t.Errorf("%s: delay %s not_before %v host_rate %v, want %s, %v and %v", j.TargetID, m.Delay, j.NotBefore, j.HostRate, wantDelay, wantNotBefore, rate[host])
		}
		if _, err := job.DecodeJob([]byte(m.Body)); err != nil {
			t.Errorf("%s: %v", j.TargetID, err)
		}
		due := planned.Add(m.Delay)
		if !j.NotBefore.IsZero() {
			due = j.NotBefore
		}
		if perSecond[host] == nil {
			perSecond[host] = map[int64]int{}
		}
		perSecond[host][due.Unix()]++
	}
	for host, secs := range perSecond {
		for sec, n := range secs {
			if float64(n) > max(rate[host], 1) {
				t.Errorf("%s: %d jobs due in second %d, more than its rate %v", host, n, sec, rate[host])
			}
		}
	}
}
