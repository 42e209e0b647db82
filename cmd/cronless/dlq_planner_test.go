package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/dlq"
	"github.com/cronless/cronless/shared/queue"
)

// The planner failures queue's two shapes, as AWS writes them (shared/dlq's
// planner_test.go has the same and more): Lambda's invocation record (Lambda
// Developer Guide, "Capturing records of Lambda asynchronous invocations",
// example invocation record) and EventBridge Scheduler's dead-letter event,
// the tick with Scheduler's message attributes (EventBridge Scheduler User
// Guide, "Configuring a schedule's dead-letter queue").
const (
	plannerTick  = `{"schedule":"hourly","scheduled_time":"2026-11-27T09:00:00Z"}`
	plannerTick2 = `{"schedule":"hourly","scheduled_time":"2026-11-27T10:00:00Z"}`
	plannerShard = `{"v":1,"run_id":"hourly-20261127T090000Z","schedule":"hourly","scheduled_at":"2026-11-27T09:00:00Z",` +
		`"shard":{"schedule":"hourly","index":2,"group":-1,"count":10},"paced_from":"2026-11-27T09:00:10Z"}`
	plannerMalformed = `{"detail-type":"Scheduled Event","source":"aws.events"}`
)

// invocationRecord is Lambda's record of payload after three failed attempts.
func invocationRecord(payload string) string {
	return `{"version":"1.0","timestamp":"2026-11-27T09:00:05.568Z","requestContext":{"requestId":"e4b46cbf-b738-xmpl-8880-a18cdf61200e",` +
		`"functionArn":"arn:aws:lambda:us-east-1:123456789012:function:cronless-prod-planner:$LATEST","condition":"RetriesExhausted","approximateInvokeCount":3},` +
		`"requestPayload":` + payload + `,"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},` +
		`"responsePayload":{"errorMessage":"plan hourly-20261127T090000Z: send jobs: throttled","errorType":"wrapError"}}`
}

// seedPlannerFailures empties b's planner failures queue and sends it,
// oldest first, a record of a tick, a record of a shard, a Scheduler
// dead-letter event and a malformed message; it returns the commands'
// clock.
func seedPlannerFailures(t *testing.T, b *testBackend) time.Time {
	t.Helper()
	takeAll(t, b.PlannerFailures)
	start := time.Now()
	sendSpaced(t, b.PlannerFailures, []queue.Outgoing{
		{ID: "m", Body: invocationRecord(plannerTick)},
		{ID: "m", Body: invocationRecord(plannerShard)},
		{ID: "m", Body: plannerTick2, Attributes: map[string]string{
			"ERROR_CODE": "AWS.Scheduler.TargetThrottled", "ERROR_MESSAGE": "Rate exceeded", "EXECUTION_ID": "ad06e3f2-b44a-4de8-bcf8-2b3c1c2e6e89",
			"EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts", "RETRY_ATTEMPTS": "20",
		}},
		{ID: "m", Body: plannerMalformed},
	})
	return start.Add(goldenAge)
}

// plannerIDs lists the planner failures (raising each receive count by
// one) and returns each message ID by what failed.
func plannerIDs(t *testing.T, q queue.Queue) map[string]string {
	t.Helper()
	letters, err := dlq.List(context.Background(), q, dlq.Options{Planner: true})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, l := range letters {
		ids[l.Planner.What()] = l.ID
	}
	return ids
}

// TestDLQPlannerGolden checks `dlq list --queue planner` and `dlq show
// --queue planner` in every format against golden files, on the local
// backend and on fauxqs: what failed, its run, the attempts, why (the Lambda
// error, Scheduler's attributes) and the malformed message with its reason.
// Nothing leaves the queue.
func TestDLQPlannerGolden(t *testing.T) {
	for i, b := range testBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			for _, c := range []struct {
				name string
				args []string
				show string // what failed, whose message ID is appended
			}{
				{"dlq_planner_list", []string{"dlq", "list", "--queue", "planner"}, ""},
				{"dlq_planner_show", []string{"dlq", "show", "--queue", "planner"}, "shard 2 of run hourly-20261127T090000Z"},
				{"dlq_planner_show_malformed", []string{"dlq", "show", "--queue", "planner"}, "unreadable event"},
			} {
				for _, format := range []string{"table", "json", "csv"} {
					t.Run(c.name+"."+format, func(t *testing.T) {
						now := seedPlannerFailures(t, b)
						args := c.args
						if c.show != "" {
							args = append(args, plannerIDs(t, b.PlannerFailures)[c.show])
						}
						code, out, stderr := cliAt(t, now, b.withArgs(append(args, "-o", format)...)...)
						if code != exitOK {
							t.Fatalf("%v: exit %d, stderr %q", args, code, stderr)
						}
						checkGolden(t, c.name+"."+format, normDLQ(t, out, format), *updateGolden && i == 0)
						wantAllVisible(t, b.PlannerFailures, 4)
					})
				}
			}
		})
	}
}

// Locally, `dlq replay --queue planner` puts each failure's event back on
// the ticks queue, where the local planner takes it; the malformed one is
// reported, kept, and makes the exit code 1.
func TestDLQPlannerReplayLocal(t *testing.T) {
	b := localTestBackend(t)
	now := seedPlannerFailures(t, b)
	code, out, stderr := cliAt(t, now, b.withArgs("dlq", "replay", "--queue", "planner", "--all", "-o", "table")...)
	checkGolden(t, "dlq_planner_replay.table", normDLQ(t, out, "table"), *updateGolden)
	if code != exitError || !strings.Contains(stderr, "1 messages were not moved; they are still in cronless-planner-failures") {
		t.Errorf("exit %d, stderr %q; want 1, the malformed message still there", code, stderr)
	}
	got := map[string]bool{}
	for _, m := range takeAll(t, b.Ticks) {
		got[m.Body] = true
	}
	for _, want := range []string{plannerTick, plannerTick2, plannerShard} {
		if !got[want] {
			t.Errorf("the ticks queue lacks %s; it has %v", want, got)
		}
	}
	left := takeAll(t, b.PlannerFailures)
	if len(left) != 1 || left[0].Body != plannerMalformed {
		t.Errorf("left in the failures queue: %v; want the malformed message alone", left)
	}
}

// fakeLambda implements the path of Lambda's Invoke API that the SDK calls
// (AWS Lambda API Reference, Invoke: POST
// /2015-03-31/functions/{FunctionName}/invocations, X-Amz-Invocation-Type:
// Event answered 202 Accepted). It refuses payloads holding refuse with
// 400 InvalidRequestContentException, which the SDK does not retry.
type fakeLambda struct {
	refuse string
	mu     sync.Mutex
	got    []string
	bad    []string // requests that were not an Event invocation of the planner
}

func (f *fakeLambda) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/2015-03-31/functions/cronless-test-planner/invocations" ||
		r.Header.Get("X-Amz-Invocation-Type") != "Event" {
		f.bad = append(f.bad, fmt.Sprintf("%s %s (X-Amz-Invocation-Type %q)", r.Method, r.URL.Path, r.Header.Get("X-Amz-Invocation-Type")))
		http.Error(w, "unexpected request", http.StatusBadRequest)
		return
	}
	f.got = append(f.got, string(body))
	if f.refuse != "" && strings.Contains(string(body), f.refuse) {
		w.Header().Set("X-Amzn-ErrorType", "InvalidRequestContentException")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"Type":"User","message":"Could not parse request body into json"}`)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// On a stage, `dlq replay --queue planner` invokes the planner function
// (the stack output PlannerFunctionName, here its environment variable)
// asynchronously with each failure's event, and deletes a failure only once
// Lambda accepted its event: a refused one and the malformed one stay.
func TestDLQPlannerReplayStage(t *testing.T) {
	b := stageTestBackend(t)
	fl := &fakeLambda{refuse: `"index":2`}
	srv := httptest.NewServer(fl)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", srv.URL)
	t.Setenv(envPlanner, "cronless-test-planner")
	now := seedPlannerFailures(t, b)

	code, out, stderr := cliAt(t, now, b.withArgs("dlq", "replay", "--queue", "planner", "--all", "-o", "json")...)
	if code != exitError {
		t.Errorf("exit %d, want 1 (two not moved)\n%s", code, stderr)
	}
	actions := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r struct {
			Action  string `json:"action"`
			Planner struct {
				Event string `json:"event"`
				RunID string `json:"run_id"`
			} `json:"planner"`
			Body string `json:"body"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		actions[r.Body] = r.Action
	}
	for body, want := range map[string]string{
		invocationRecord(plannerTick): "moved", plannerTick2: "moved",
		invocationRecord(plannerShard): "failed", plannerMalformed: "not replayable",
	} {
		if actions[body] != want {
			t.Errorf("%s: %q, want %q", body, actions[body], want)
		}
	}
	fl.mu.Lock()
	got, bad := append([]string(nil), fl.got...), fl.bad
	fl.mu.Unlock()
	if len(bad) > 0 {
		t.Errorf("requests that were not Event invocations of the planner: %v", bad)
	}
	if len(got) != 3 {
		t.Errorf("%d invocations %v, want the two ticks and the shard", len(got), got)
	}
	left := map[string]bool{}
	for _, m := range takeAll(t, b.PlannerFailures) {
		left[m.Body] = true
	}
	if len(left) != 2 || !left[invocationRecord(plannerShard)] || !left[plannerMalformed] {
		t.Errorf("left in the failures queue: %v; want the refused shard and the malformed message", left)
	}
}

// The flags that do not fit the planner failures queue are usage errors.
func TestDLQPlannerUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"dlq", "list", "--queue", "planner", "--target", "a"}, "--target and --error-kind select jobs"},
		{[]string{"dlq", "replay", "--queue", "planner", "--all", "--native", "--stage", "prod"}, "no message move tasks"},
		{[]string{"dlq", "cancel", "--queue", "planner", "--stage", "prod"}, "no message move tasks"},
		{[]string{"dlq", "list", "--queue", "tickets"}, "use targets, results or planner"},
	} {
		code, _, stderr := cli(t, tt.args...)
		if code != exitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, code, stderr, exitUsage, tt.want)
		}
	}
}
