package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/sqsevent"
	"github.com/cronless/cronless/shared/store"
)

// updateGolden rewrites the golden files under testdata/ from the local
// backend's output (the stage's output is still compared with them):
//
//	go test ./cmd/cronless -run Golden -update
var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenCase is one command whose table, JSON and CSV outputs are compared
// with testdata/<name>.<format>.golden.
type goldenCase struct {
	name string
	args []string
}

// The seeded dataset's runs.
const (
	runH08 = "hourly-20250301T080000Z"
	runH09 = "hourly-20250301T090000Z"
	runH10 = "hourly-20250301T100000Z"
	runD28 = "daily-20250228T000000Z"
	runD01 = "daily-20250301T000000Z"
)

// seedGolden stores the fixed dataset of the golden tests in b and returns
// the runs as stored. The dataset:
//
//   - hourly 08:00, planned 4: alpha, beta, delta ok; gamma failed (404).
//   - hourly 09:00, planned 4: alpha ok and changed, its links truncated
//     (cut to fit a result), beta ok; gamma failed
//     three times with a 503 and is in the targets DLQ; delta failed once
//     (timeout) and is still in flight.
//   - hourly 10:00, planned 4: no results; a malformed job (no attributes,
//     its body names run and target) is in the DLQ.
//   - daily 2025-02-28 and 2025-03-01, planned 1 each: news ok, changed in
//     the second; a stale copy of the second's job is in the DLQ.
//
// The times a result was stored (a run's first and last result times) are
// the wall clock's: maskStored hides them in outputs.
func seedGolden(t *testing.T, b *testBackend) []store.Run {
	t.Helper()
	ctx := context.Background()
	day := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	h8, h9, h10 := day.Add(8*time.Hour), day.Add(9*time.Hour), day.Add(10*time.Hour)
	for _, r := range []store.Run{
		{ID: runD28, Schedule: "daily", ScheduledAt: day.Add(-24 * time.Hour), Planned: 1, CreatedAt: day.Add(-24 * time.Hour)},
		{ID: runD01, Schedule: "daily", ScheduledAt: day, Planned: 1, CreatedAt: day},
		{ID: runH08, Schedule: "hourly", ScheduledAt: h8, Planned: 4, CreatedAt: h8},
		{ID: runH09, Schedule: "hourly", ScheduledAt: h9, Planned: 4, CreatedAt: h9},
		{ID: runH10, Schedule: "hourly", ScheduledAt: h10, Planned: 4, CreatedAt: h10},
	} {
		if _, err := b.Store.PutRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	ok := func(runID, schedule, target string, at time.Time, hash string, ms int64, fields map[string]any) job.Result {
		return job.Result{V: 1, RunID: runID, Schedule: schedule, TargetID: target, URL: "https://" + target + ".example/",
			ScheduledAt: at, Status: job.StatusOK, HTTPStatus: 200, Fields: fields, ContentHash: hash,
			FetchedAt: at.Add(time.Duration(ms+1000) * time.Millisecond), DurationMS: ms, Attempt: 1}
	}
	failed := func(runID, schedule, target string, at time.Time, status int, kind, msg string) job.Result {
		return job.Result{V: 1, RunID: runID, Schedule: schedule, TargetID: target, URL: "https://" + target + ".example/",
			ScheduledAt: at, Status: job.StatusFailed, HTTPStatus: status, FetchedAt: at.Add(2 * time.Second), DurationMS: 35,
			Attempt: 1, Error: &job.Error{Kind: kind, Message: msg}}
	}
	// truncated is r with fields cut to fit a result (job.MaxFieldsBytes).
	truncated := func(r job.Result, t map[string]job.Truncation) job.Result {
		r.Truncated = t
		return r
	}
	for _, r := range []job.Result{
		ok(runD28, "daily", "news", day.Add(-24*time.Hour), "n1", 120, map[string]any{"headline": "Edition 1", "title": "News"}),
		ok(runD01, "daily", "news", day, "n2", 110, map[string]any{"headline": "Edition 2", "title": "News"}),
		ok(runH08, "hourly", "alpha", h8, "a1", 240, map[string]any{
			"price": `1,99 "EUR"`, "links": []any{"https://alpha.example/1", "https://alpha.example/2"}, "title": "Alpha"}),
		ok(runH08, "hourly", "beta", h8, "b1", 80, map[string]any{"title": "Beta"}),
		failed(runH08, "hourly", "gamma", h8, 404, "http_4xx", "404 Not Found"),
		ok(runH08, "hourly", "delta", h8, "d1", 95, map[string]any{"og": map[string]any{"type": "website"}, "title": "Delta"}),
		truncated(ok(runH09, "hourly", "alpha", h9, "a2", 230, map[string]any{
			"price": "2,49 EUR", "links": []any{"https://alpha.example/1"}, "title": "Alpha, new"}),
			map[string]job.Truncation{"links": {Bytes: 1104001, Items: 8000, KeptBytes: 26, KeptItems: 1}}),
		ok(runH09, "hourly", "beta", h9, "b1", 85, map[string]any{"title": "Beta"}),
	} {
		if _, err := b.Store.PutResult(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []store.Attempt{
		{V: 1, RunID: runH09, TargetID: "gamma", MessageID: "m-gamma", Attempt: 1, At: h9.Add(3 * time.Second),
			Error: job.Error{Kind: "http_5xx", Message: "503 Service Unavailable"}},
		{V: 1, RunID: runH09, TargetID: "gamma", MessageID: "m-gamma", Attempt: 2, At: h9.Add(40 * time.Second),
			Error: job.Error{Kind: "http_5xx", Message: "503 Service Unavailable"}},
		{V: 1, RunID: runH09, TargetID: "gamma", MessageID: "m-gamma", Attempt: 3, At: h9.Add(2 * time.Minute),
			Error: job.Error{Kind: "http_5xx", Message: "502 Bad Gateway"}},
		{V: 1, RunID: runH09, TargetID: "delta", MessageID: "m-delta", Attempt: 1, At: h9.Add(10 * time.Second),
			Error: job.Error{Kind: "timeout", Message: "no response in 10s"}},
	} {
		if err := b.Store.RecordAttempt(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	jobBody := func(runID, target string, at time.Time) string {
		body, err := job.Encode(job.Job{V: 1, RunID: runID, Schedule: strings.SplitN(runID, "-", 2)[0], TargetID: target,
			URL: "https://" + target + ".example/", ScheduledAt: at})
		if err != nil {
			t.Fatal(err)
		}
		return body
	}
	err := b.TargetsDLQ.SendBatch(ctx, []queue.Outgoing{
		{ID: "gamma", Body: jobBody(runH09, "gamma", h9), Attributes: job.Attributes(runH09, "gamma")},
		{ID: "news", Body: jobBody(runD01, "news", day), Attributes: job.Attributes(runD01, "news")},
		{ID: "epsilon", Body: `{"v":2,"run_id":"` + runH10 + `","target_id":"epsilon"}`, Attributes: map[string]string{
			sqsevent.AttrErrorKind: sqsevent.KindBadMessage, sqsevent.AttrErrorMessage: "invalid message: job: version 2 is not supported"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	runs, err := b.Store.Runs(ctx, 0)
	if err != nil || len(runs) != 5 {
		t.Fatalf("seeded runs: %v, %v", runs, err)
	}
	return runs
}

// Placeholders of the times results were stored (the wall clock's), in
// golden files: one as wide as tableTime's, for tables to stay aligned.
const (
	storedTable = "YYYY-MM-DDThh:mm:ssZ"
	storedExact = "STORED_AT"
)

// maskStored replaces the runs' first and last result times, as the format
// prints them, with placeholders.
func maskStored(out, format string, runs []store.Run) string {
	var pairs []string
	for _, r := range runs {
		for _, at := range []time.Time{r.FirstResultAt, r.LastResultAt} {
			if at.IsZero() {
				continue
			}
			if format == "table" {
				pairs = append(pairs, cmdutil.TableTime(at), storedTable)
			} else {
				pairs = append(pairs, cmdutil.CSVTime(at), storedExact)
			}
		}
	}
	return strings.NewReplacer(pairs...).Replace(out)
}

// checkGolden compares got with testdata/<name>.golden, or writes it there.
func checkGolden(t *testing.T, name, got string, write bool) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if write {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (write it with: go test ./cmd/cronless -run Golden -update)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (if the change is intended: go test ./cmd/cronless -run Golden -update)\n--- got:\n%s--- want:\n%s", path, got, want)
	}
}

// runGoldens seeds both backends with the golden dataset and checks each
// case's table, JSON and CSV output against the same golden files; then it
// runs check, if any, on each backend.
func runGoldens(t *testing.T, cases []goldenCase, check func(t *testing.T, b *testBackend)) {
	t.Helper()
	for i, b := range testBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			runs := seedGolden(t, b)
			for _, c := range cases {
				for _, format := range []string{"table", "json", "csv"} {
					code, out, stderr := cli(t, b.withArgs(append(slices.Clone(c.args), "-o", format)...)...)
					if code != exitOK || stderr != "" {
						t.Errorf("%s -o %s: exit %d, stderr %q", c.name, format, code, stderr)
						continue
					}
					if format == "json" {
						for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
							if !json.Valid([]byte(line)) {
								t.Errorf("%s -o json: line %q is not JSON", c.name, line)
							}
						}
					}
					checkGolden(t, c.name+"."+format, maskStored(out, format, runs), *updateGolden && i == 0)
				}
			}
			if check != nil {
				check(t, b)
			}
		})
	}
}

func TestResultsGolden(t *testing.T) {
	runGoldens(t, []goldenCase{
		{"results_latest", []string{"results", "latest"}},
		{"results_history", []string{"results", "history", "alpha"}},
		{"results_run", []string{"results", "run", runH08}},
		{"results_changed", []string{"results", "changed", "--since", "2025-03-01T00:00:00Z"}},
		{"results_failed", []string{"results", "failed"}},
	}, func(t *testing.T, b *testBackend) {
		// Filters, by the run IDs they keep.
		for _, tt := range []struct {
			args []string
			want []string // run IDs, in order
		}{
			{[]string{"results", "latest", "--target", "gamma"}, []string{runH08}},
			{[]string{"results", "latest", "--target", "nobody"}, nil},
			{[]string{"results", "history", "beta", "--since", "2025-03-01T08:30:00Z"}, []string{runH09}},
			{[]string{"results", "history", "beta", "--until", "2025-03-01T09:00:00Z"}, []string{runH08}},
			{[]string{"results", "history", "beta", "--since", "2025-03-01", "--until", "2025-03-02"}, []string{runH09, runH08}},
			{[]string{"results", "history", "beta", "--limit", "1"}, []string{runH09}},
			{[]string{"results", "history", "beta", "--since", "3650d"}, []string{runH09, runH08}},
			{[]string{"results", "history", "beta", "--since", "1h"}, nil},
			{[]string{"results", "changed", "--since", "2025-03-01T00:00:01Z"}, []string{runH09}},
			{[]string{"results", "changed"}, nil}, // default: the last 24 hours
			{[]string{"results", "failed", "--run", runH08}, []string{runH08}},
			{[]string{"results", "failed", "--run", runH09}, nil},
			{[]string{"results", "run", runH10}, nil},
		} {
			code, out, stderr := cli(t, b.withArgs(append(tt.args, "-o", "json")...)...)
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				var r job.Result
				if line != "" && json.Unmarshal([]byte(line), &r) == nil {
					got = append(got, r.RunID)
				}
			}
			if code != exitOK || !slices.Equal(got, tt.want) || stderr != "" {
				t.Errorf("%v: exit %d, runs %v, stderr %q; want 0 and %v", tt.args, code, got, stderr, tt.want)
			}
			// None: nothing on stdout for JSON and CSV, a line on stderr for a table.
			if len(tt.want) == 0 {
				if code, out, _ := cli(t, b.withArgs(append(tt.args, "-o", "csv")...)...); code != exitOK || out != "" {
					t.Errorf("%v -o csv: exit %d, stdout %q; want 0 and nothing", tt.args, code, out)
				}
				code, out, stderr := cli(t, b.withArgs(append(tt.args, "-o", "table")...)...)
				if code != exitOK || out != "" || !strings.HasPrefix(stderr, "no ") && !strings.HasPrefix(stderr, "run ") {
					t.Errorf("%v -o table: exit %d, stdout %q, stderr %q; want 0, nothing, and why", tt.args, code, out, stderr)
				}
			}
		}
		// Unknown runs are errors (exit 1) that say so.
		for _, args := range [][]string{{"results", "run", "hourly-nope"}, {"results", "failed", "--run", "hourly-nope"}} {
			code, out, stderr := cli(t, b.withArgs(args...)...)
			if code != exitError || out != "" || !strings.Contains(stderr, "run hourly-nope not found") || !strings.Contains(stderr, "runs list") {
				t.Errorf("%v: exit %d, stdout %q, stderr %q; want 1 and not found", args, code, out, stderr)
			}
		}
	})
}

func TestResultsUsageErrors(t *testing.T) {
	db := filepath.Join(t.TempDir(), "none.db") // never opened: usage is checked first
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"results", "history", "a", "--since", "yesterday"}, `--since "yesterday": use an RFC 3339 time`},
		{[]string{"results", "history", "a", "--until", "2025-13-01"}, "a duration ago (90m, 24h, 7d"},
		{[]string{"results", "history", "a", "--since", "-24h"}, "--since"},
		{[]string{"results", "history", "a", "--since", "2025-03-02", "--until", "2025-03-01"}, "is not before --until"},
		{[]string{"results", "history", "a", "--limit", "-1"}, "--limit -1"},
		{[]string{"results", "history"}, "accepts 1 arg(s)"},
		{[]string{"results", "changed", "--since", "7 days"}, `--since "7 days"`},
		{[]string{"results", "run"}, "accepts 1 arg(s)"},
		{[]string{"results", "bogus"}, `unknown command "bogus" for "cronless results"`},
		{[]string{"results", "failed", "-o", "xml"}, "use table, json or csv"},
		{[]string{"runs", "list", "--limit", "-5"}, "--limit -5"},
		{[]string{"runs", "show"}, "accepts 1 arg(s)"},
		{[]string{"runs", "list", "-o", "yaml"}, "use table, json or csv"},
		{[]string{"runs", "bogus"}, `unknown command "bogus" for "cronless runs"`},
	} {
		code, out, stderr := cli(t, append(tt.args, "--db", db)...)
		if code != exitUsage || out != "" || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and %q", tt.args, code, out, stderr, tt.want)
		}
	}
}

func TestResultsAndRunsHelp(t *testing.T) {
	for _, args := range [][]string{
		{"results"}, {"results", "--help"}, {"results", "history", "--help"}, {"results", "run", "--help"},
		{"results", "changed", "--help"}, {"results", "failed", "--help"},
		{"runs"}, {"runs", "--help"}, {"runs", "list", "--help"}, {"runs", "show", "--help"},
	} {
		code, out, _ := cli(t, args...)
		if code != exitOK || !strings.Contains(out, "Usage:") {
			t.Errorf("cronless %v: exit %d, output %q; want 0 and a usage text", args, code, out)
		}
	}
	// The time flags say what they take, days included.
	if _, out, _ := cli(t, "results", "history", "--help"); !strings.Contains(out, "7d") || !strings.Contains(out, "RFC 3339") {
		t.Errorf("history --help does not say which times --since takes:\n%s", out)
	}
}
