package main

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/store"
)

// TestRunsShowLimit checks, on both backends, how runs show bounds the
// targets without a result of a run with more of them than it lists by
// default (50): a run of 60 targets, 2 with results, the last one's job in
// the targets DLQ. By default it lists 50, the dead-lettered one first,
// and says how many more there are and how to see them; --limit 0 lists
// every one of the 58, once each; --limit N lists N.
func TestRunsShowLimit(t *testing.T) {
	const runID = "hourly-20250301T120000Z"
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 60 {
		ids = append(ids, fmt.Sprintf("t-%02d", i))
	}
	withResult := map[string]bool{"t-00": true, "t-30": true}
	var missing []string // in the order listed: t-59 (in the DLQ), then by ID
	for _, id := range ids {
		if !withResult[id] && id != "t-59" {
			missing = append(missing, id)
		}
	}
	missing = append([]string{"t-59"}, missing...)

	type detail struct {
		Missing []struct {
			TargetID string `json:"target_id"`
			InDLQ    bool   `json:"in_dlq"`
		} `json:"without_result"`
		Count int `json:"without_result_count"`
		InDLQ int `json:"without_result_in_dlq"`
		More  int `json:"without_result_more"`
	}
	for _, b := range testBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			if _, err := b.Store.PutRun(ctx, store.Run{ID: runID, Schedule: "hourly", ScheduledAt: at, Planned: len(ids), CreatedAt: at, Targets: ids}); err != nil {
				t.Fatal(err)
			}
			for id := range withResult {
				r := job.Result{V: 1, RunID: runID, Schedule: "hourly", TargetID: id, URL: "https://" + id + ".example/", ScheduledAt: at,
					Status: job.StatusOK, HTTPStatus: 200, FetchedAt: at.Add(time.Second), Attempt: 1}
				if _, err := b.Store.PutResult(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			sendAll(t, b.TargetsDLQ, []queue.Outgoing{dlqJob(t, runID, "t-59")})

			for _, tt := range []struct {
				name       string
				args       []string
				wantListed int
				wantNote   bool // on stderr: more are not listed
			}{
				{"default", nil, 50, true},
				{"--limit 0: all", []string{"--limit", "0"}, len(missing), false},
				{"--limit 3", []string{"--limit", "3"}, 3, true},
				{"--limit over the count", []string{"--limit", "1000"}, len(missing), false},
			} {
				t.Run(tt.name, func(t *testing.T) {
					var d detail
					stderr := showJSON(t, b, runID, tt.args, &d)
					var got []string
					for _, m := range d.Missing {
						got = append(got, m.TargetID)
						if m.InDLQ != (m.TargetID == "t-59") {
							t.Errorf("%s: in_dlq %v", m.TargetID, m.InDLQ)
						}
					}
					if want := missing[:tt.wantListed]; !slices.Equal(got, want) {
						t.Errorf("without_result = %v,\nwant %v", got, want)
					}
					if d.Count != len(missing) || d.InDLQ != 1 || d.More != len(missing)-tt.wantListed {
						t.Errorf("count %d, in DLQ %d, more %d; want %d, 1, %d", d.Count, d.InDLQ, d.More, len(missing), len(missing)-tt.wantListed)
					}
					if note := strings.Contains(stderr, "--limit 0` lists them all"); note != tt.wantNote || (!note && stderr != "") {
						t.Errorf("stderr %q; want the note about --limit 0: %v", stderr, tt.wantNote)
					}
				})
			}

			code, out, stderr := cli(t, b.withArgs("runs", "show", runID, "-o", "table")...)
			for _, want := range []string{
				"Without a result:  58 (1 in the DLQ)",
				"Without a result (58; the first 50, those in the DLQ or with failed attempts first):",
				"… and 8 more: `cronless runs show " + runID + " --limit 0` lists them all",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("runs show (table): no %q in\n%s", want, out)
				}
			}
			if code != exitOK || stderr != "" || strings.Count(out, " no  ") != 49 || strings.Contains(out, "t-51") {
				t.Errorf("runs show (table): exit %d, stderr %q, %d rows not in the DLQ (want 49, up to t-50)\n%s", code, stderr, strings.Count(out, " no  "), out)
			}

			code, out, stderr = cli(t, b.withArgs("runs", "show", runID, "-o", "csv", "--limit", "0")...)
			if rows := strings.Count(out, ",no_result,"); code != exitOK || stderr != "" || rows != len(missing)-1 || !strings.Contains(out, ",t-59,dead_lettered,") {
				t.Errorf("runs show -o csv --limit 0: exit %d, stderr %q, %d no_result rows (want %d) and t-59 dead-lettered", code, stderr, rows, len(missing)-1)
			}

			code, _, stderr = cli(t, b.withArgs("runs", "show", runID, "--limit", "-1")...)
			if code != exitUsage || !strings.Contains(stderr, "--limit -1") {
				t.Errorf("runs show --limit -1: exit %d, stderr %q; want %d naming the flag", code, stderr, exitUsage)
			}
		})
	}
}

// TestRunsShowResultsLimit checks, on both backends, how runs show bounds
// the results of a run with more of them than it lists by default (50): a
// run of 60 targets with 55 results (every fourth failed, every third
// changed). It counts them all by status, lists the first --limit by
// target ID whole (HTTP status, error, fields), says how many more there
// are and how to see them, and --limit 0 lists every one; the same
// --limit bounds the targets without a result.
func TestRunsShowResultsLimit(t *testing.T) {
	const runID = "hourly-20250301T130000Z"
	at := time.Date(2025, 3, 1, 13, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 60 {
		ids = append(ids, fmt.Sprintf("t-%02d", 59-i)) // planned out of order
	}
	var want []job.Result // by target ID
	wantFailed, wantChanged := 0, 0
	for i := range 55 {
		id := fmt.Sprintf("t-%02d", i)
		r := job.Result{V: job.Version, RunID: runID, Schedule: "hourly", TargetID: id, URL: "https://" + id + ".example/", ScheduledAt: at,
			Status: job.StatusOK, HTTPStatus: 200, Fields: map[string]any{"title": "Title " + id}, ContentHash: "h-" + id,
			FetchedAt: at.Add(time.Second), DurationMS: 80, Attempt: 1}
		if i%4 == 3 {
			r.Status, r.HTTPStatus, r.Fields, r.ContentHash = job.StatusFailed, 404, nil, ""
			r.Error = &job.Error{Kind: "http_4xx", Message: "404 Not Found"}
			wantFailed++
		}
		want = append(want, r)
	}
	type detail struct {
		Results []job.Result `json:"results"`
		Count   int          `json:"results_count"`
		OK      int          `json:"results_ok"`
		Failed  int          `json:"results_failed"`
		Changed int          `json:"results_changed"`
		More    int          `json:"results_more"`
		Missing []struct {
			TargetID string `json:"target_id"`
		} `json:"without_result"`
	}
	for _, b := range testBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			if _, err := b.Store.PutRun(ctx, store.Run{ID: runID, Schedule: "hourly", ScheduledAt: at, Planned: len(ids), CreatedAt: at, Targets: ids}); err != nil {
				t.Fatal(err)
			}
			changed := 0
			for i, r := range want {
				if i%3 == 0 && r.Status == job.StatusOK {
					// An earlier ok result of other content: this one changed.
					prev := r
					prev.RunID, prev.ScheduledAt, prev.ContentHash = "hourly-20250301T120000Z", at.Add(-time.Hour), "old"
					if _, err := b.Store.PutResult(ctx, prev); err != nil {
						t.Fatal(err)
					}
					changed++
				}
				if _, err := b.Store.PutResult(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			wantChanged = changed

			for _, tt := range []struct {
				name       string
				args       []string
				wantListed int
			}{
				{"default", nil, 50},
				{"--limit 0: all", []string{"--limit", "0"}, len(want)},
				{"--limit 3", []string{"--limit", "3"}, 3},
				{"--limit over the count", []string{"--limit", "1000"}, len(want)},
			} {
				t.Run(tt.name, func(t *testing.T) {
					var d detail
					stderr := showJSON(t, b, runID, tt.args, &d)
					if len(d.Results) != tt.wantListed {
						t.Fatalf("%d results listed, want %d", len(d.Results), tt.wantListed)
					}
					for i, got := range d.Results {
						w := want[i]
						if got.TargetID != w.TargetID || got.Status != w.Status || got.HTTPStatus != w.HTTPStatus ||
							!reflect.DeepEqual(got.Error, w.Error) || !reflect.DeepEqual(got.Fields, w.Fields) {
							t.Errorf("result %d: %s %s %d %+v %v; want %s %s %d %+v %v", i, got.TargetID, got.Status, got.HTTPStatus, got.Error, got.Fields,
								w.TargetID, w.Status, w.HTTPStatus, w.Error, w.Fields)
						}
					}
					if d.Count != len(want) || d.OK != len(want)-wantFailed || d.Failed != wantFailed || d.Changed != wantChanged || d.More != len(want)-tt.wantListed {
						t.Errorf("count %d, ok %d, failed %d, changed %d, more %d; want %d, %d, %d, %d, %d", d.Count, d.OK, d.Failed, d.Changed, d.More,
							len(want), len(want)-wantFailed, wantFailed, wantChanged, len(want)-tt.wantListed)
					}
					if want := min(5, tt.wantListed); len(d.Missing) != want {
						t.Errorf("%d targets without a result listed, want %d (the same limit)", len(d.Missing), want)
					}
					wantNote := tt.wantListed < len(want)
					if note := strings.Contains(stderr, "more results are not listed"); note != wantNote || (!note && stderr != "") {
						t.Errorf("stderr %q; want the note about more results: %v", stderr, wantNote)
					}
				})
			}

			code, out, stderr := cli(t, b.withArgs("runs", "show", runID, "-o", "table")...)
			for _, w := range []string{
				fmt.Sprintf("Changed:           %d", wantChanged),
				"Results (55; the first 50 by target ID):",
				"t-49    " + runID,
				"… and 5 more: `cronless runs show " + runID + " --limit 0` or `cronless results run " + runID + "` lists them all",
				"Without a result (5):",
			} {
				if !strings.Contains(out, w) {
					t.Errorf("runs show (table): no %q in\n%s", w, out)
				}
			}
			if code != exitOK || stderr != "" || strings.Contains(out, "t-50    "+runID) {
				t.Errorf("runs show (table): exit %d, stderr %q, t-50's result listed past the limit\n%s", code, stderr, out)
			}

			code, out, _ = cli(t, b.withArgs("runs", "show", runID, "-o", "csv", "--limit", "2")...)
			if rows := strings.Count(out, "\n"); code != exitOK || rows != 1+2+2 || !strings.Contains(out, ",t-01,ok,200,") {
				t.Errorf("runs show -o csv --limit 2: exit %d, %d lines (want a header, 2 results and 2 without)\n%s", code, rows, out)
			}
		})
	}
}

// showJSON runs `runs show runID -o json` with args on b, decodes its
// output into d, and returns its stderr.
func showJSON(t *testing.T, b *testBackend, runID string, args []string, d any) string {
	t.Helper()
	code, out, stderr := cli(t, b.withArgs(append([]string{"runs", "show", runID, "-o", "json"}, args...)...)...)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if err := json.Unmarshal([]byte(out), d); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	return stderr
}
