package main

import (
	"context"
	"encoding/csv"
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
	"github.com/cronless/cronless/shared/job"
)

// cli runs the command line in-process, with no terminal and the real
// clock, and returns its exit code and output.
func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return cliWith(t, nil, args...)
}

// cliAt is cli with the commands' clock stopped at now.
func cliAt(t *testing.T, now time.Time, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return cliWith(t, func(f *Factory) { f.Now = func() time.Time { return now } }, args...)
}

// cliWith is cli on a Factory that setup (if not nil) changes first.
func cliWith(t *testing.T, setup func(*Factory), args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ios, _, out, errb := iostreams.Test()
	f := &Factory{IOStreams: ios, Now: time.Now, Exec: deploymentscmd.ExecCommand}
	if setup != nil {
		setup(f)
	}
	code = run(context.Background(), args, f)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHelpOnEveryCommand(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"demo", "--help"}, {"run", "--help"}, {"invoke", "--help"},
		{"results", "--help"}, {"results", "latest", "--help"}, {"validate", "--help"},
	} {
		code, out, _ := cli(t, args...)
		if code != exitOK || !strings.Contains(out, "Usage:") {
			t.Errorf("cronless %v: exit %d, output %q; want 0 and a usage text", args, code, out)
		}
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	good := writeFile(t, "targets.yaml", "schedules:\n  s: { expression: \"rate(1 hour)\" }\ndefaults: { host_rate: 1000/s }\ntargets:\n  - { id: a, url: \"https://example.com/\", schedule: s }\n")
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"unknown command", []string{"crawl"}, "unknown command"},
		{"unknown flag", []string{"run", "--bogus"}, "unknown flag"},
		{"bad duration flag", []string{"run", "--targets", good, "--visibility-timeout", "soon"}, "invalid argument"},
		{"visibility below function timeout", []string{"run", "--targets", good, "--once", "--visibility-timeout", "5s", "--function-timeout", "10s"}, "raise --visibility-timeout"},
		{"batch size", []string{"run", "--targets", good, "--once", "--batch-size", "11"}, "--batch-size 11"},
		{"host concurrency", []string{"run", "--targets", good, "--once", "--host-concurrency", "101"}, "--host-concurrency 101"},
		{"negative host concurrency", []string{"run", "--targets", good, "--once", "--host-concurrency", "-1"}, "--host-concurrency -1"},
		{"host delay", []string{"run", "--targets", good, "--once", "--host-delay", "2m"}, "--host-delay 2m0s"},
		{"memory below Lambda's least", []string{"run", "--targets", good, "--once", "--memory", "64"}, "--memory 64: must be a Lambda function's memory in MB, between 128 and 10240"},
		{"memory above Lambda's most", []string{"run", "--targets", good, "--once", "--memory", "20000"}, "--memory 20000"},
		{"negative memory", []string{"run", "--targets", good, "--once", "--memory", "-1"}, "--memory -1"},
		{"memory not a number", []string{"run", "--targets", good, "--once", "--memory", "512MB"}, "invalid argument"},
		{"missing targets file", []string{"validate", "--targets", filepath.Join(t.TempDir(), "nope.yaml")}, "nope.yaml"},
		{"unknown schedule", []string{"run", "--targets", good, "--once", "--schedule", "daily", "--db", filepath.Join(t.TempDir(), "x.db")}, `schedule "daily"`},
		{"invoke without event", []string{"invoke", "planner"}, "--event is required"},
		{"invoke unknown handler", []string{"invoke", "mailer", "--event", "x.json"}, "invalid argument"},
		{"bad output", []string{"results", "latest", "--output", "xml"}, "use table, json or csv"},
		{"bad log level", []string{"validate", "--log-level", "loud", "--targets", good}, "--log-level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := cli(t, tt.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d; stderr: %s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q does not say %q", stderr, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	good := writeFile(t, "targets.yaml", "schedules:\n  s: { expression: \"cron(0 9 * * ? *)\", timezone: Asia/Seoul }\ntargets:\n  - { id: a, url: \"https://example.com/\", schedule: s }\n")
	code, out, stderr := cli(t, "validate", "--targets", good)
	if code != exitOK || !strings.Contains(out, "valid, 1 targets") || !strings.Contains(out, "KST") {
		t.Errorf("exit %d, out %q, err %q", code, out, stderr)
	}
	bad := writeFile(t, "targets.yaml", "schedules:\n  s: { expression: \"rate(1 hour)\" }\ntargets:\n  - id: a\n    url: https://example.com/\n    shedule: s\n")
	code, _, stderr = cli(t, "validate", "--targets", bad)
	if code != exitUsage || !strings.Contains(stderr, "targets.yaml:6:5") || !strings.Contains(stderr, `did you mean "schedule"`) {
		t.Errorf("exit %d, stderr %q; want 2 with line:col and a suggestion", code, stderr)
	}
	// The repository's example file is valid.
	if code, _, stderr := cli(t, "validate", "--targets", "../../targets.yaml"); code != exitOK || stderr != "" {
		t.Errorf("targets.yaml: exit %d, stderr %q; want 0 and no warnings", code, stderr)
	}
}

// TestValidateTickSpread: validate says how long each schedule's tick takes
// to start, and warns (exit 0) when ticks would overlap and when a hosts:
// entry is on no target's host.
func TestValidateTickSpread(t *testing.T) {
	var b strings.Builder
	b.WriteString("schedules:\n  hourly: { expression: \"rate(1 hour)\" }\n  daily: { expression: \"cron(0 9 * * ? *)\" }\n")
	b.WriteString("hosts:\n  big.example: { rate: 2/s }\n  exmaple.com: { rate: 5/s }\n")
	b.WriteString("targets:\n")
	for i := range 10000 {
		fmt.Fprintf(&b, "  - { id: big-%d, url: \"https://big.example/%d\", schedule: hourly }\n", i, i)
	}
	for i := range 60 {
		fmt.Fprintf(&b, "  - { id: small-%d, url: \"https://example.com/%d\", schedule: daily }\n", i, i)
	}
	path := writeFile(t, "targets.yaml", b.String())
	code, out, stderr := cliAt(t, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), "validate", "--targets", path)
	if code != exitOK {
		t.Fatalf("exit %d, want 0 (warnings do not fail validate); stderr: %s", code, stderr)
	}
	for _, want := range []string{
		"schedule hourly: 10000 targets on 1 host start within 1h23m20s (slowest host big.example: 10000 at 2/s)\n",
		"schedule daily: 60 targets on 1 host start within 1m0s (slowest host example.com: 60 at 1/s)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	wantErr := "cronless: warning: schedule hourly: a tick needs 1h23m20s to start its 10000 targets on 1 host (slowest host big.example: 10000 at 2/s), " +
		"longer than its period of 1h0m0s: ticks will overlap; raise the host's rate in hosts:, or run the schedule less often\n" +
		"cronless: warning: " + path + ":6:3: hosts entry \"exmaple.com\" matches no target's host in this file; did you mean \"example.com\"? (stored targets are not checked)\n"
	if stderr != wantErr {
		t.Errorf("stderr =\n%s\nwant\n%s", stderr, wantErr)
	}
}

func TestDemo(t *testing.T) {
	dir := t.TempDir()
	code, out, stderr := cli(t, "demo", "--dir", dir, "--ticks", "2")
	if code != exitOK {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{
		"about", "products", "news", "private",
		"gone", "http_4xx", "404", // the 404 is a failed result
		"Dead-lettered", "flaky", "http_5xx", "500 Internal Server Error", // the 500 is dead-lettered with its error
		"Try next:", "cronless results latest --db " + filepath.Join(dir, "local.db"),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	// What the demo stored is there for the next commands.
	code, out, stderr = cli(t, "results", "latest", "--db", filepath.Join(dir, "local.db"), "--output", "json")
	if code != exitOK {
		t.Fatalf("results latest: exit %d: %s", code, stderr)
	}
	byTarget := decodeLines(t, out)
	if len(byTarget) != 5 {
		t.Errorf("%d latest results after the demo, want 5 (every page but the dead-lettered one)", len(byTarget))
	}
	if r := byTarget["gone"]; r.Status != job.StatusFailed || r.HTTPStatus != 404 {
		t.Errorf("gone = %+v, want failed 404", r)
	}
	if r := byTarget["about"]; r.Status != job.StatusOK || r.Fields["contact"] != "team@example.com" || r.Changed {
		t.Errorf("about = %+v, want ok, unchanged, with contact extracted by regex", r)
	}
	// The news page changes between runs; the second run says so.
	if r := byTarget["news"]; r.Status != job.StatusOK || !r.Changed || r.Fields["edition"] != "Edition 2" {
		t.Errorf("news = %+v, want ok and changed in the second run", r)
	}
}

func decodeLines(t *testing.T, out string) map[string]job.Result {
	t.Helper()
	got := map[string]job.Result{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r job.Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q is not a JSON result: %v", line, err)
		}
		got[r.TargetID] = r
	}
	return got
}

func TestRunOnceAndResults(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, "<title>t%s</title><a href=\"/x\">x</a>", r.URL.Path)
	}))
	defer srv.Close()
	tf := writeFile(t, "targets.yaml", fmt.Sprintf(`schedules:
  fast: { expression: "rate(5 minutes)" }
  slow: { expression: "rate(1 day)" }
defaults: { host_rate: 1000/s } # not a pacing test: the local host at full speed
targets:
  - { id: one, url: "%[1]s/1", schedule: fast, extract: { links: { css: a, attr: href, all: true } } }
  - { id: two, url: "%[1]s/2", schedule: fast }
  - { id: three, url: "%[1]s/3", schedule: slow }
`, srv.URL))
	db := filepath.Join(t.TempDir(), "local.db")

	// Without --allow-private the loopback site is refused: a permanent failure.
	code, out, stderr := cli(t, "run", "--targets", tf, "--db", db, "--once", "--schedule", "slow")
	if code != exitOK || !strings.Contains(out, "slow-") {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, stderr)
	}
	code, out, _ = cli(t, "results", "latest", "--db", db, "--target", "three", "-o", "json")
	if r := decodeLines(t, out)["three"]; code != exitOK || r.Status != job.StatusFailed || r.Error == nil || r.Error.Kind != "blocked_address" {
		t.Errorf("three without --allow-private = %+v, want failed blocked_address", r)
	}

	code, out, stderr = cli(t, "run", "--targets", tf, "--db", db, "--once", "--schedule", "fast", "--allow-private")
	if code != exitOK {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, stderr)
	}
	// The summary names the run with its counts.
	if !strings.Contains(out, "fast-") || !strings.Contains(out, "PLANNED") {
		t.Errorf("run summary: %q", out)
	}
	code, out, _ = cli(t, "results", "latest", "--db", db, "-o", "json")
	got := decodeLines(t, out)
	if code != exitOK || len(got) != 3 || got["one"].Status != job.StatusOK || got["two"].Status != job.StatusOK {
		t.Fatalf("latest = %+v", got)
	}
	links, _ := got["one"].Fields["links"].([]any)
	if len(links) != 1 || links[0] != srv.URL+"/x" {
		t.Errorf("one's links = %v, want the absolute link", got["one"].Fields["links"])
	}

	code, out, _ = cli(t, "results", "latest", "--db", db, "-o", "csv")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != exitOK || err != nil || len(rows) != 4 || rows[0][0] != "target_id" {
		t.Errorf("csv: exit %d, err %v, rows %v", code, err, rows)
	}
	code, out, _ = cli(t, "results", "latest", "--db", db, "-o", "table")
	if code != exitOK || !strings.Contains(out, "TARGET") || !strings.Contains(out, "links=[") {
		t.Errorf("table: %q", out)
	}
}

func TestResultsWithoutDatabase(t *testing.T) {
	code, _, stderr := cli(t, "results", "latest", "--db", filepath.Join(t.TempDir(), "none.db"))
	if code != exitError || !strings.Contains(stderr, "cronless demo") {
		t.Errorf("exit %d, stderr %q; want 1 and a hint", code, stderr)
	}
}

func TestInvoke(t *testing.T) {
	db := filepath.Join(t.TempDir(), "local.db")
	tf := writeFile(t, "targets.yaml", "schedules:\n  hourly: { expression: \"rate(1 hour)\" }\ndefaults: { host_rate: 1000/s }\ntargets:\n  - { id: example, url: \"https://example.com/\", schedule: hourly }\n  - { id: other, url: \"https://example.org/\", schedule: hourly }\n")

	code, out, stderr := cli(t, "invoke", "planner", "--event", "../../events/schedule.json", "--targets", tf, "--db", db)
	if code != exitOK {
		t.Fatalf("invoke planner: exit %d: %s", code, stderr)
	}
	var plan struct {
		RunID   string `json:"run_id"`
		Planned int    `json:"planned"`
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil || plan.RunID != "hourly-20261127T090000Z" || plan.Planned != 2 {
		t.Errorf("planner response %q (%v)", out, err)
	}

	code, out, stderr = cli(t, "invoke", "results", "--event", "../../events/results-sqs.json", "--targets", tf, "--db", db)
	if code != exitOK || !strings.Contains(out, `"batchItemFailures": []`) {
		t.Fatalf("invoke results: exit %d, out %q, err %s", code, out, stderr)
	}
	code, out, _ = cli(t, "results", "latest", "--db", db, "-o", "json")
	if got := decodeLines(t, out); code != exitOK || len(got) != 2 {
		t.Errorf("after invoke results: %d results, want the sample's 2", len(got))
	}

	code, _, stderr = cli(t, "invoke", "worker", "--event", "../../events/schedule.json", "--targets", tf, "--db", db)
	if code != exitUsage || !strings.Contains(stderr, "not an SQS event") {
		t.Errorf("worker with a schedule event: exit %d, %q", code, stderr)
	}
}

// TestResultsLatestOnBothBackends checks the operating commands' backends:
// the same seeded result reads back the same from the local file and from a
// stage on fauxqs and dynalite.
func TestResultsLatestOnBothBackends(t *testing.T) {
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	r := job.Result{V: 1, RunID: "hourly-20261127T090000Z", Schedule: "hourly", TargetID: "example", URL: "https://example.com/",
		ScheduledAt: at, FetchedAt: at.Add(time.Second), Status: job.StatusOK, HTTPStatus: 200, Fields: map[string]any{"title": "Example"}, Attempt: 1}
	for _, b := range testBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			if _, err := b.Store.PutResult(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			code, out, stderr := cli(t, b.withArgs("results", "latest", "-o", "json")...)
			got := decodeLines(t, out)["example"]
			if code != exitOK || got.Fields["title"] != "Example" || got.RunID != r.RunID {
				t.Errorf("exit %d, got %+v, stderr %s", code, got, stderr)
			}
		})
	}
}
