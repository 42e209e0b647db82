package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/store"
)

// TestRunsShowPlanGolden checks runs show of a run whose targets the plan
// recorded, on both backends, against testdata/runs_show_plan.*.golden: the
// golden dataset plus run hourly 11:00 of five targets (alpha ok, beta
// failed, gamma dead-lettered, delta in flight after a failed attempt, zeta
// in flight).
func TestRunsShowPlanGolden(t *testing.T) {
	const runH11 = "hourly-20250301T110000Z"
	h11 := time.Date(2025, 3, 1, 11, 0, 0, 0, time.UTC)
	for i, b := range testBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			seedGolden(t, b)
			run := store.Run{ID: runH11, Schedule: "hourly", ScheduledAt: h11, Planned: 5, CreatedAt: h11,
				Targets: []string{"alpha", "beta", "gamma", "delta", "zeta"}}
			if _, err := b.Store.PutRun(ctx, run); err != nil {
				t.Fatal(err)
			}
			for _, r := range []job.Result{
				{V: 1, RunID: runH11, Schedule: "hourly", TargetID: "alpha", URL: "https://alpha.example/", ScheduledAt: h11,
					Status: job.StatusOK, HTTPStatus: 200, Fields: map[string]any{"title": "Alpha"}, ContentHash: "a3",
					FetchedAt: h11.Add(2 * time.Second), DurationMS: 210, Attempt: 1},
				{V: 1, RunID: runH11, Schedule: "hourly", TargetID: "beta", URL: "https://beta.example/", ScheduledAt: h11,
					Status: job.StatusFailed, HTTPStatus: 404, FetchedAt: h11.Add(time.Second), DurationMS: 40, Attempt: 1,
					Error: &job.Error{Kind: "http_4xx", Message: "404 Not Found"}},
			} {
				if _, err := b.Store.PutResult(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			for _, a := range []job.Attempt{
				{V: 1, RunID: runH11, TargetID: "gamma", MessageID: "m-gamma-11", Attempt: 3, At: h11.Add(2 * time.Minute),
					Error: job.Error{Kind: "http_5xx", Message: "502 Bad Gateway"}},
				{V: 1, RunID: runH11, TargetID: "delta", MessageID: "m-delta-11", Attempt: 1, At: h11.Add(10 * time.Second),
					Error: job.Error{Kind: "timeout", Message: "no response in 10s"}},
			} {
				if err := b.Store.RecordAttempt(ctx, a); err != nil {
					t.Fatal(err)
				}
			}
			body, err := job.Encode(job.Job{V: 1, RunID: runH11, Schedule: "hourly", TargetID: "gamma", URL: "https://gamma.example/", ScheduledAt: h11})
			if err != nil {
				t.Fatal(err)
			}
			if err := b.TargetsDLQ.SendBatch(ctx, []queue.Outgoing{{ID: "gamma", Body: body, Attributes: job.Attributes(runH11, "gamma")}}); err != nil {
				t.Fatal(err)
			}
			runs, err := b.Store.Runs(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, format := range []string{"table", "json", "csv"} {
				code, out, stderr := cli(t, b.withArgs("runs", "show", runH11, "-o", format)...)
				if code != exitOK || stderr != "" {
					t.Fatalf("runs show -o %s: exit %d, stderr %q", format, code, stderr)
				}
				if format == "json" && !json.Valid([]byte(strings.TrimSpace(out))) {
					t.Errorf("runs show -o json: %q is not JSON", out)
				}
				checkGolden(t, "runs_show_plan."+format, maskStored(out, format, runs), *updateGolden && i == 0)
			}
		})
	}
}
