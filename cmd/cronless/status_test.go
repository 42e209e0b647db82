package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cronless/cronless/shared/status"
)

// statusReport runs status -o json and decodes its report.
func statusReport(t *testing.T, args ...string) (int, status.Report) {
	t.Helper()
	code, out, stderr := cli(t, append([]string{"status", "-o", "json"}, args...)...)
	var r status.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("status -o json: %v\nstdout %q\nstderr %q", err, out, stderr)
	}
	return code, r
}

// TestStatusLocal walks the local health check: a target fails into the
// targets DLQ, status names the last run, the dead letter and the command
// to run next and exits 3; once the site is fixed, the dead letter replayed
// and the next run done, status is healthy and exits 0.
func TestStatusLocal(t *testing.T) {
	var broken atomic.Bool
	broken.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" && broken.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, "<title>t%s</title>", r.URL.Path)
	}))
	defer srv.Close()
	tf := writeFile(t, "targets.yaml", fmt.Sprintf(`schedules:
  fast: { expression: "rate(5 minutes)" }
  daily: { expression: "cron(0 9 * * ? *)" }
defaults: { host_rate: unlimited }
targets:
  - { id: good, url: "%[1]s/good", schedule: fast }
  - { id: bad, url: "%[1]s/bad", schedule: fast }
  - { id: later, url: "%[1]s/later", schedule: daily }
`, srv.URL))
	db := filepath.Join(t.TempDir(), "local.db")
	runOnce := func() {
		t.Helper()
		code, _, stderr := cli(t, "run", "--once", "--schedule", "fast", "--targets", tf, "--db", db, "--allow-private", "--max-receives", "1",
			"--retry-delay", "10ms", "--visibility-timeout", "1s", "--function-timeout", "1s", "--log-level", "error")
		if code != exitOK {
			t.Fatalf("run --once: exit %d\n%s", code, stderr)
		}
	}
	runOnce()

	code, out, _ := cli(t, "status", "--targets", tf, "--db", db, "-o", "table")
	for _, want := range []string{
		"fast-", // the last run's ID
		"1 dead letter in cronless-targets-dlq",
		"next: cronless dlq list --queue targets",
		"cronless-ticks", "cronless-results-dlq",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status does not say %q:\n%s", want, out)
		}
	}
	if code != exitAttention {
		t.Errorf("status with a dead letter: exit %d, want %d\n%s", code, exitAttention, out)
	}

	code, r := statusReport(t, "--targets", tf, "--db", db)
	if code != exitAttention || r.Healthy || len(r.Problems) == 0 {
		t.Errorf("status -o json: exit %d, healthy %v, problems %v; want %d, not healthy", code, r.Healthy, r.Problems, exitAttention)
	}
	if len(r.Schedules) != 2 || r.Schedules[0].Name != "fast" || r.Schedules[1].Name != "daily" {
		t.Fatalf("schedules %+v; want fast and daily, in file order", r.Schedules)
	}
	fast, daily := r.Schedules[0], r.Schedules[1]
	if lr := fast.LastRun; lr == nil || lr.Planned != 2 || lr.OK != 1 || lr.DeadLettered != 1 || lr.InFlight != 0 || lr.Draining || lr.TookSeconds == nil {
		t.Errorf("fast's last run %+v; want 2 planned, 1 ok, 1 dead-lettered, done", lr)
	}
	if daily.LastRun != nil || daily.NextTick.IsZero() || fast.NextTick.IsZero() {
		t.Errorf("daily %+v, fast next tick %v; want no run and next ticks", daily, fast.NextTick)
	}
	roles := map[string]status.Queue{}
	for _, q := range r.Queues {
		roles[q.Role] = q
	}
	if q := roles[status.RoleTargetsDLQ]; q.Visible != 1 || !q.DLQ || q.OldestAgeSeconds == nil {
		t.Errorf("targets DLQ %+v; want 1 message and its age", q)
	}
	if q, ok := roles[status.RoleTicks]; !ok || q.Total() != 0 || q.OldestAgeSeconds != nil {
		t.Errorf("ticks %+v (present %v); want empty, no age", q, ok)
	}
	if r.Alarms != nil {
		t.Errorf("alarms %v locally; want null", r.Alarms)
	}

	// The site is fixed, the dead letter replayed, the next run done.
	broken.Store(false)
	if code, _, stderr := cli(t, "dlq", "replay", "--all", "--db", db, "-o", "json"); code != exitOK {
		t.Fatalf("dlq replay: exit %d\n%s", code, stderr)
	}
	runOnce()
	code, out, _ = cli(t, "status", "--targets", tf, "--db", db, "-o", "table")
	if code != exitOK || !strings.Contains(out, "Healthy: nothing needs attention.") {
		t.Errorf("status once healthy: exit %d, want 0\n%s", code, out)
	}
	if code, r := statusReport(t, "--targets", tf, "--db", db); code != exitOK || !r.Healthy || len(r.Problems) != 0 {
		t.Errorf("status -o json once healthy: exit %d, %+v", code, r)
	}
}
