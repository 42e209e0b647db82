package dlq_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/dlq"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/planner"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/targets"
)

var tickAt = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// tickEvent is the planner's input from Scheduler (serverless.yml's
// schedule Input).
const tickEvent = `{"schedule":"hourly","scheduled_time":"2026-11-27T09:00:00Z"}`

// shardEvent is shard index of hourly's run at tickAt, as the tick's
// planner sends it to itself.
func shardEvent(t *testing.T, index int) string {
	t.Helper()
	b, err := json.Marshal(planner.ShardMessage{V: planner.ShardVersion, RunID: job.RunID("hourly", tickAt), Schedule: "hourly",
		ScheduledAt: tickAt, Shard: targets.Shard{Schedule: "hourly", Index: index, Group: targets.AllGroups, Count: 10},
		PacedFrom: tickAt.Add(10 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// record is an invocation record as Lambda sends it to an on-failure
// destination, after the "Example invocation record" of the Lambda
// Developer Guide ("Capturing records of Lambda asynchronous
// invocations"), with payload as its requestPayload.
func record(payload, condition string, attempts int, responsePayload string) string {
	r := fmt.Sprintf(`{"version":"1.0","timestamp":"2026-11-27T09:00:05.568Z",`+
		`"requestContext":{"requestId":"e4b46cbf-b738-xmpl-8880-a18cdf61200e","functionArn":"arn:aws:lambda:us-east-1:123456789012:function:cronless-prod-planner:$LATEST","condition":%q,"approximateInvokeCount":%d},`+
		`"requestPayload":%s,"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"}`, condition, attempts, payload)
	if responsePayload != "" {
		r += `,"responsePayload":` + responsePayload
	}
	return r + "}"
}

// schedulerAttrs are the message attributes EventBridge Scheduler adds to a
// dead-letter event (EventBridge Scheduler User Guide, "Configuring a
// schedule's dead-letter queue").
var schedulerAttrs = map[string]string{
	"ERROR_CODE": "AWS.Scheduler.TargetThrottled", "ERROR_MESSAGE": "Rate exceeded",
	"EXECUTION_ID": "ad06e3f2-b44a-4de8-bcf8-2b3c1c2e6e89", "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
	"RETRY_ATTEMPTS": "20", "SCHEDULE_ARN": "arn:aws:scheduler:us-east-1:123456789012:schedule/cronless-prod/hourly",
	"TARGET_ARN": "arn:aws:lambda:us-east-1:123456789012:function:cronless-prod-planner",
}

func TestParsePlannerFailure(t *testing.T) {
	runID := job.RunID("hourly", tickAt)
	lambdaErr := `{"errorMessage":"send jobs: throttled","errorType":"wrapError"}`
	tests := []struct {
		name  string
		body  string
		attrs map[string]string
		// want: what, source, why, attempts; malformed is a part of
		// Malformed ("" : replayable, with payload as its event).
		what, source, why string
		attempts          int
		malformed         string
		payload           string
	}{
		{name: "Lambda record of a tick", body: record(tickEvent, "RetriesExhausted", 3, lambdaErr),
			what: "tick of hourly at 2026-11-27T09:00:00Z", source: dlq.SourceInvocationRecord, why: "wrapError: send jobs: throttled", attempts: 3,
			payload: tickEvent},
		{name: "Lambda record of a shard", body: record(shardEvent(t, 3), "RetriesExhausted", 3, lambdaErr),
			what: "shard 3 of run " + runID, source: dlq.SourceInvocationRecord, why: "wrapError: send jobs: throttled", attempts: 3,
			payload: shardEvent(t, 3)},
		{name: "Lambda record of an event too old to run", body: record(tickEvent, "EventAgeExceeded", 0, ""),
			what: "tick of hourly at 2026-11-27T09:00:00Z", source: dlq.SourceInvocationRecord, why: "EventAgeExceeded", payload: tickEvent},
		{name: "Scheduler dead-letter event", body: tickEvent, attrs: schedulerAttrs,
			what: "tick of hourly at 2026-11-27T09:00:00Z", source: dlq.SourceScheduler, why: "AWS.Scheduler.TargetThrottled: Rate exceeded",
			attempts: 21, payload: tickEvent},
		{name: "bare tick", body: tickEvent,
			what: "tick of hourly at 2026-11-27T09:00:00Z", source: dlq.SourceUnknown, why: "no reason recorded", payload: tickEvent},
		{name: "not JSON", body: "hello", what: "unreadable event", source: dlq.SourceUnknown, malformed: "not a JSON object"},
		{name: "JSON of neither shape", body: `{"detail-type":"Scheduled Event","source":"aws.events"}`,
			what: "unreadable event", source: dlq.SourceUnknown, malformed: "neither an invocation record"},
		{name: "record whose event is not the planner's", body: record(`{"Records":[]}`, "RetriesExhausted", 3, lambdaErr),
			what: "unreadable event", source: dlq.SourceInvocationRecord, attempts: 3, malformed: "requestPayload is neither a tick nor a shard event"},
		{name: "record without its event", body: `{"version":"1.0","requestContext":{"condition":"RetriesExhausted","approximateInvokeCount":3}}`,
			what: "unreadable event", source: dlq.SourceInvocationRecord, attempts: 3, malformed: "without requestPayload"},
		{name: "shard event of another run", body: record(strings.Replace(shardEvent(t, 1), runID, "hourly-20200101T000000Z", 1), "RetriesExhausted", 3, lambdaErr),
			what: "unreadable event", source: dlq.SourceInvocationRecord, attempts: 3, malformed: "is not schedule"},
		{name: "Scheduler attributes on a tick without a time", body: `{"schedule":"hourly","scheduled_time":""}`, attrs: schedulerAttrs,
			what: "unreadable event", source: dlq.SourceScheduler, attempts: 21, malformed: "scheduled_time is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := dlq.ParsePlannerFailure(tt.body, tt.attrs)
			if f.What() != tt.what || f.Source != tt.source || f.Attempts != tt.attempts {
				t.Errorf("what %q, source %q, attempts %d; want %q, %q, %d", f.What(), f.Source, f.Attempts, tt.what, tt.source, tt.attempts)
			}
			if tt.malformed == "" {
				if !f.Replayable() || f.Malformed != "" || f.Why() != tt.why || string(f.Payload) != tt.payload || f.RunID != runID {
					t.Errorf("%+v (why %q); want replayable, why %q, run %s, payload %s", f, f.Why(), tt.why, runID, tt.payload)
				}
				return
			}
			if f.Replayable() || !strings.Contains(f.Malformed, tt.malformed) || f.Payload != nil {
				t.Errorf("malformed %q, replayable %v, payload %s; want not replayable, saying %q", f.Malformed, f.Replayable(), f.Payload, tt.malformed)
			}
			if !strings.HasPrefix(f.Why(), "malformed: ") {
				t.Errorf("why %q; want it to say malformed", f.Why())
			}
		})
	}
}

// plannerFailures fills a fresh failures queue with a Lambda record of a
// tick, a Lambda record of shard 2, a Scheduler dead-letter event (another
// run's tick) and a malformed message; the ticks queue is the replay's
// destination, as locally.
func plannerFailures(t *testing.T) (failures, ticks queue.Queue) {
	t.Helper()
	failures, ticks = queues(t)
	other := `{"schedule":"hourly","scheduled_time":"2026-11-27T10:00:00Z"}`
	send(t, failures,
		queue.Outgoing{Body: record(tickEvent, "RetriesExhausted", 3, `{"errorMessage":"boom","errorType":"wrapError"}`)},
		queue.Outgoing{Body: record(shardEvent(t, 2), "RetriesExhausted", 3, `{"errorMessage":"boom","errorType":"wrapError"}`)},
		queue.Outgoing{Body: other, Attributes: schedulerAttrs},
		queue.Outgoing{Body: `{"hello":"world"}`},
	)
	return failures, ticks
}

func TestListPlannerFailures(t *testing.T) {
	failures, _ := plannerFailures(t)
	ls, err := dlq.List(context.Background(), failures, dlq.Options{Planner: true, Filter: dlq.Filter{RunID: job.RunID("hourly", tickAt)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 2 {
		t.Fatalf("listed %d for run %s, want its tick and its shard", len(ls), job.RunID("hourly", tickAt))
	}
	for _, l := range ls {
		if l.Planner == nil || l.LastError == nil || l.LastError.Message != "boom" || l.LastError.Kind != "wrapError" || l.LastError.Source != dlq.SourceInvocationRecord {
			t.Errorf("letter %+v (planner %+v, error %+v); want explained by its record", l, l.Planner, l.LastError)
		}
	}
	wantVisible(t, failures, 4)
}

func TestReplayPlannerRedeliversEventsAndKeepsMalformed(t *testing.T) {
	failures, ticks := plannerFailures(t)
	var notReplayable []error
	sum, err := dlq.ReplayPlanner(context.Background(), failures, ticks, dlq.ReplayOptions{Report: func(l dlq.Letter, a dlq.Action, err error) {
		if a == dlq.ActionNotReplayable {
			notReplayable = append(notReplayable, err)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Moved != 3 || sum.Failed != 1 || sum.Received != 4 {
		t.Errorf("summary %+v; want 3 moved, the malformed one failed", sum)
	}
	if len(notReplayable) != 1 || !errors.Is(notReplayable[0], dlq.ErrNotReplayable) {
		t.Errorf("not replayable: %v; want the malformed message, wrapping ErrNotReplayable", notReplayable)
	}
	left := drain(t, failures)
	if len(left) != 1 || left[0].Body != `{"hello":"world"}` {
		t.Errorf("left in the failures queue: %+v; want the malformed message alone", left)
	}
	got := map[string]bool{}
	for _, m := range drain(t, ticks) {
		got[m.Body] = true
		if len(m.Attributes) != 0 {
			t.Errorf("replayed %s with attributes %v; want the bare event", m.Body, m.Attributes)
		}
	}
	for _, want := range []string{tickEvent, shardEvent(t, 2), `{"schedule":"hourly","scheduled_time":"2026-11-27T10:00:00Z"}`} {
		if !got[want] {
			t.Errorf("the planner was not sent %s; it got %v", want, got)
		}
	}
}

func TestReplayPlannerDeletesNothingNotDelivered(t *testing.T) {
	failures, ticks := plannerFailures(t)
	dest := &failingSender{Queue: ticks, failWhole: errors.New("TooManyRequestsException")}
	sum, err := dlq.ReplayPlanner(context.Background(), failures, dest, dlq.ReplayOptions{})
	if err == nil || sum.Moved != 0 {
		t.Errorf("summary %+v, error %v; want an error and nothing moved", sum, err)
	}
	wantVisible(t, failures, 4)
	wantVisible(t, ticks, 0)
}
