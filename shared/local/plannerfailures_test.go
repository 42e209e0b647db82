package local_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/dlq"
	"github.com/cronless/cronless/shared/invocationrecord"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/local"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/queue/localq"
)

// withFailures gives e's pipeline a planner failures queue and returns it.
func withFailures(t *testing.T, e *env) *localq.Queue {
	t.Helper()
	failures, err := e.qb.CreateQueue(context.Background(), "planner-failures", localq.Config{})
	if err != nil {
		t.Fatal(err)
	}
	e.p.PlannerFailures = failures
	return failures
}

// records reads the invocation records of the failures queue (leaving
// them visible), by the event each carries.
func records(t *testing.T, q queue.Queue) map[string]invocationrecord.Record {
	t.Helper()
	ls, err := dlq.List(context.Background(), q, dlq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]invocationrecord.Record{}
	for _, m := range ls {
		var r invocationrecord.Record
		if err := json.Unmarshal([]byte(m.Body), &r); err != nil {
			t.Fatalf("message %s is not an invocation record: %v\n%s", m.ID, err, m.Body)
		}
		out[string(r.RequestPayload)] = r
	}
	return out
}

// A bad tick or shard event (a schedule no longer in the targets file, an
// event that does not decode) is recorded on the planner failures queue at
// once, as Lambda's invocation record of it, rather than dropped: listed
// and explained, never lost.
func TestPipelineRecordsBadEvents(t *testing.T) {
	s := newSite(t)
	e := newEnv(t, s.URL)
	failures := withFailures(t, e)
	ctx := context.Background()
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	if err := e.p.Fire(ctx, local.NewTick("removed", at)); err != nil {
		t.Fatal(err)
	}
	if err := e.ticks.SendBatch(ctx, []queue.Outgoing{{ID: "x", Body: "not json"}}); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	got := records(t, failures)
	removed := `{"schedule":"removed","scheduled_time":"2026-11-27T09:00:00Z"}`
	for payload, want := range map[string]string{removed: `schedule "removed"`, `"not json"`: "not a JSON object"} {
		r, ok := got[payload]
		if !ok {
			t.Errorf("no record of %s; records: %v", payload, got)
			continue
		}
		rc := r.RequestContext
		if r.Version != invocationrecord.Version || rc.Condition != invocationrecord.RetriesExhausted || rc.ApproximateInvokeCount != 1 ||
			r.ResponsePayload == nil || r.ResponsePayload.ErrorType != "BadTick" || !strings.Contains(r.ResponsePayload.ErrorMessage, want) {
			t.Errorf("record of %s: %+v (error %+v); want RetriesExhausted after 1 invocation, a BadTick saying %q", payload, r, r.ResponsePayload, want)
		}
	}
	// What `cronless dlq list --queue planner` makes of them.
	f := dlq.ParsePlannerFailure(mustEncode(t, got[removed]), nil)
	if !f.Replayable() || f.RunID != job.RunID("removed", at) || f.Source != dlq.SourceInvocationRecord {
		t.Errorf("the removed schedule's tick reads as %+v; want a replayable tick of run %s", f, job.RunID("removed", at))
	}
	if f := dlq.ParsePlannerFailure(mustEncode(t, got[`"not json"`]), nil); f.Replayable() {
		t.Errorf("the undecodable event reads as replayable: %+v", f)
	}
	if d, _ := e.ticks.Depth(ctx); d.Total() != 0 {
		t.Errorf("ticks queue: %+v; want the bad events moved out", d)
	}
}

// A tick whose planning keeps failing is delivered PlannerAttempts times,
// as Lambda makes 1 + maximumRetryAttempts, then recorded on the planner
// failures queue and taken off the ticks queue; replayed once the cause is
// gone, its run is planned and crawled.
func TestPipelineRecordsFailingTickAndReplaysIt(t *testing.T) {
	s := newSite(t)
	e := newEnv(t, s.URL)
	failures := withFailures(t, e)
	// Each delivery retries for 1.5 s (planRetries): the ticks queue's
	// visibility timeout must outlast it, as --visibility-timeout must
	// outlast --function-timeout, or the tick is delivered twice at once.
	ticks, err := e.qb.CreateQueue(context.Background(), "ticks-2s", localq.Config{VisibilityTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e.ticks, e.p.Ticks = ticks, ticks
	down := &flakySender{Queue: e.jobs, fails: 1 << 20}
	e.p.TargetsQueue = down
	ctx := context.Background()
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	if err := e.p.Fire(ctx, local.NewTick("tick", at)); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	recs := records(t, failures)
	if d, _ := failures.Depth(ctx); len(recs) != 1 || d.Total() != 1 {
		t.Fatalf("planner failures %+v, records %v; want one record", d, recs)
	}
	var r invocationrecord.Record
	for _, rec := range recs {
		r = rec
	}
	if r.RequestContext.ApproximateInvokeCount != local.PlannerAttempts || r.ResponsePayload == nil ||
		!strings.Contains(r.ResponsePayload.ErrorMessage, "service unavailable") {
		t.Fatalf("record %+v (error %+v); want one after %d deliveries, with the send's error", r, r.ResponsePayload, local.PlannerAttempts)
	}

	down.mu.Lock()
	down.fails = 0
	down.mu.Unlock()
	sum, err := dlq.ReplayPlanner(ctx, failures, e.ticks, dlq.ReplayOptions{Options: dlq.Options{Filter: dlq.Filter{RunID: job.RunID("tick", at)}}})
	if err != nil || sum.Moved != 1 {
		t.Fatalf("replay: %+v, %v; want the tick moved", sum, err)
	}
	e.drain(t)
	run, err := e.store.Run(ctx, job.RunID("tick", at))
	if err != nil || run.Planned != 5 || run.Succeeded != 3 {
		t.Errorf("replayed run: %+v, %v; want 5 planned, 3 ok", run, err)
	}
	if d, _ := failures.Depth(ctx); d.Total() != 0 {
		t.Errorf("planner failures after the replay: %+v; want none", d)
	}
}
