package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	deploymentscmd "github.com/cronless/cronless/cmd/cronless/internal/cmd/deployments"
	"github.com/cronless/cronless/cmd/cronless/internal/iostreams"
	"github.com/cronless/cronless/shared/logs"
)

// logLines decodes `logs -o json` output.
func logLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var rs []map[string]any
	for line := range strings.Lines(out) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		rs = append(rs, m)
	}
	return rs
}

// inTimeOrder fails unless the records' times do not go back.
func inTimeOrder(t *testing.T, rs []map[string]any) {
	t.Helper()
	var last time.Time
	for i, r := range rs {
		at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(r["time"]))
		if err != nil {
			t.Fatalf("record %d has no time: %v", i, r)
		}
		if at.Before(last) {
			t.Errorf("record %d at %s is before the one above it (%s)", i, at, last)
		}
		last = at
	}
}

// A local run keeps the functions' records beside the database, and
// `logs --run R --target T` tells that target's story across the three
// functions, in time order.
func TestLogsOfALocalRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/gone" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, "<title>ok</title>")
	}))
	defer srv.Close()
	tf := writeFile(t, "targets.yaml", fmt.Sprintf(`schedules:
  s: { expression: "rate(1 hour)" }
defaults: { host_rate: unlimited }
targets:
  - { id: good, url: "%[1]s/ok", schedule: s }
  - { id: broken, url: "%[1]s/gone", schedule: s }
`, srv.URL))
	db := filepath.Join(t.TempDir(), "local.db")
	if code, out, stderr := cli(t, "run", "--targets", tf, "--db", db, "--once", "--allow-private"); code != exitOK {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, stderr)
	}
	if _, err := os.Stat(logs.Dir(db)); err != nil {
		t.Fatalf("no logs beside the database: %v", err)
	}

	code, out, stderr := cli(t, "logs", "--db", db, "--function", "planner", "-o", "json")
	planned := logLines(t, out)
	if code != exitOK || len(planned) != 1 || planned[0]["msg"] != "run planned" {
		t.Fatalf("planner's records: exit %d %v %s", code, planned, stderr)
	}
	runID := fmt.Sprint(planned[0]["run_id"])

	code, out, stderr = cli(t, "logs", "--db", db, "--run", runID, "--target", "broken", "-o", "json")
	story := logLines(t, out)
	if code != exitOK {
		t.Fatalf("logs: exit %d %s", code, stderr)
	}
	inTimeOrder(t, story)
	fns := map[string]bool{}
	for _, r := range story {
		fns[fmt.Sprint(r["function"])] = true
		if r["run_id"] != runID || (r["target_id"] != nil && r["target_id"] != "broken") {
			t.Errorf("a record of another run or target: %v", r)
		}
	}
	if !fns["planner"] || !fns["worker"] || !fns["results"] || len(fns) != 3 {
		t.Errorf("the story of broken has records of %v, want planner, worker and results:\n%s", fns, out)
	}

	// The table: a person's columns, then the other fields.
	code, out, _ = cli(t, "logs", "--db", db, "--run", runID, "--target", "broken", "-o", "table")
	if code != exitOK || !strings.HasPrefix(out, "TIME") || !strings.Contains(out, "crawl failed permanently") || !strings.Contains(out, "status=failed") {
		t.Errorf("table:\n%s", out)
	}
	// On a terminal, without -o, a table too.
	code, out, _ = cliWith(t, func(f *Factory) { f.IOStreams.SetStdoutTTY(true) }, "logs", "--db", db, "--function", "planner")
	if code != exitOK || !strings.HasPrefix(out, "TIME") {
		t.Errorf("on a terminal:\n%s", out)
	}

	for _, tt := range []struct {
		name string
		args []string
		keep func(map[string]any) bool
	}{
		{"worker", []string{"--function", "worker"}, func(r map[string]any) bool { return r["function"] == "worker" }},
		{"info and up", []string{"--level", "info"}, func(r map[string]any) bool { return r["level"] != "debug" }},
		{"target alone", []string{"--target", "good"}, func(r map[string]any) bool { return r["target_id"] == "good" }},
		{"since an hour", []string{"--since", "1h"}, func(map[string]any) bool { return true }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := cli(t, append([]string{"logs", "--db", db}, tt.args...)...)
			rs := logLines(t, out)
			if code != exitOK || len(rs) == 0 {
				t.Fatalf("exit %d, %d records %s", code, len(rs), stderr)
			}
			for _, r := range rs {
				if !tt.keep(r) {
					t.Errorf("kept %v", r)
				}
			}
		})
	}
	if code, out, _ := cli(t, "logs", "--db", db, "--since", time.Now().Add(time.Hour).Format(time.RFC3339)); code != exitOK || out != "" {
		t.Errorf("--since in the future: exit %d, %q", code, out)
	}
	if code, out, _ := cli(t, "logs", "--db", db, "--level", "error"); code != exitOK || out != "" {
		t.Errorf("--level error: exit %d, %q; the run logged no errors", code, out)
	}

	// --follow prints what is there, then waits for more until stopped.
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	ios, _, fout, _ := iostreams.Test()
	if code := run(ctx, []string{"logs", "--db", db, "--follow", "--run", runID}, &Factory{IOStreams: ios, Now: time.Now, Exec: deploymentscmd.ExecCommand}); code != exitOK {
		t.Errorf("--follow: exit %d", code)
	}
	if n := len(logLines(t, fout.String())); n != len(logLines(t, func() string { _, o, _ := cli(t, "logs", "--db", db, "--run", runID); return o }())) {
		t.Errorf("--follow printed %d records", n)
	}
}

func TestLogsUsage(t *testing.T) {
	db := filepath.Join(t.TempDir(), "local.db")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--function", "mailer"}, "use planner, worker or results"},
		{[]string{"--level", "loud"}, "--level \"loud\""},
		{[]string{"--level", "fatal"}, "use debug, info, warn or error"},
		{[]string{"--since", "yesterday"}, "--since \"yesterday\""},
		{[]string{"-o", "csv"}, "use table or json"},
		{[]string{"extra"}, "unknown command"},
	} {
		code, _, stderr := cli(t, append([]string{"logs", "--db", db}, tt.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("logs %v: exit %d, %q; want %d and %q", tt.args, code, stderr, exitUsage, tt.want)
		}
	}
	code, _, stderr := cli(t, "logs", "--db", db)
	if code != exitError || !strings.Contains(stderr, "no log records beside") {
		t.Errorf("no logs: exit %d, %q", code, stderr)
	}
}
