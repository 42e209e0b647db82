package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// TestWhenSomethingBreaks walks README's "When something breaks" on the
// local backend, command by command, as an operator would: a page starts
// failing and is dead-lettered; `status` flags it and names the next
// command; `logs --run R --target T` tells the target's story across the
// planner, the worker and the results function; the site is fixed; `dlq
// replay` sends the job again; and the next `status` is healthy.
func TestWhenSomethingBreaks(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/price" && down.Load() {
			http.Error(w, "upstream timed out", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, "<title>%s</title><p class=price>12</p>", r.URL.Path)
	}))
	defer srv.Close()
	tf := writeFile(t, "targets.yaml", fmt.Sprintf(`schedules:
  hourly: { expression: "rate(1 hour)" }
defaults: { host_rate: unlimited }
targets:
  - { id: home, url: "%[1]s/", schedule: hourly }
  - { id: price, url: "%[1]s/price", schedule: hourly, extract: { price: { css: .price, required: true } } }
`, srv.URL))
	db := filepath.Join(t.TempDir(), "local.db")
	// The pipeline, as `cronless run` keeps it going: one tick, drained.
	crawl := func() {
		t.Helper()
		code, _, stderr := cli(t, "run", "--once", "--targets", tf, "--db", db, "--allow-private", "--max-receives", "2",
			"--retry-delay", "10ms", "--visibility-timeout", "1s", "--function-timeout", "1s", "--log-level", "error")
		if code != exitOK {
			t.Fatalf("run --once: exit %d\n%s", code, stderr)
		}
	}
	crawl()

	// 1. status: something needs attention, and what to run next.
	code, r := statusReport(t, "--targets", tf, "--db", db)
	if code != exitAttention || r.Healthy {
		t.Fatalf("status: exit %d healthy %v, want %d", code, r.Healthy, exitAttention)
	}
	var next []string
	for _, p := range r.Problems {
		next = append(next, p.Next)
	}
	if !slices.ContainsFunc(next, func(n string) bool { return strings.HasPrefix(n, "cronless dlq list") }) {
		t.Errorf("status names %q as next, want cronless dlq list", next)
	}
	lr := r.Schedules[0].LastRun
	if lr == nil || lr.DeadLettered != 1 || lr.OK != 1 {
		t.Fatalf("last run %+v, want 1 ok and 1 dead-lettered", lr)
	}

	// 2. logs --run R --target T: the target's story, in time order.
	code, out, stderr := cli(t, "logs", "--db", db, "--run", lr.ID, "--target", "price", "-o", "json")
	if code != exitOK {
		t.Fatalf("logs: exit %d\n%s", code, stderr)
	}
	rs := logLines(t, out)
	inTimeOrder(t, rs)
	functions := map[string]bool{}
	var said []string
	for _, rec := range rs {
		functions[fmt.Sprint(rec["function"])] = true
		said = append(said, fmt.Sprint(rec["msg"]))
		if tg, ok := rec["target_id"]; ok && tg != "price" {
			t.Errorf("a record of target %v in price's story: %v", tg, rec)
		}
	}
	for _, fn := range []string{"planner", "worker", "results"} {
		if !functions[fn] {
			t.Errorf("no %s record in the story of price: %q", fn, said)
		}
	}
	if !strings.Contains(out, "503") {
		t.Errorf("the story does not show the cause (503):\n%s", out)
	}

	// 3. The fix (here the site's), then 4. dlq replay, and the pipeline
	// crawls the job again.
	down.Store(false)
	if code, _, stderr := cli(t, "dlq", "replay", "--all", "--db", db, "-o", "json"); code != exitOK {
		t.Fatalf("dlq replay: exit %d\n%s", code, stderr)
	}
	crawl()
	if code, r := statusReport(t, "--targets", tf, "--db", db); code != exitOK || !r.Healthy {
		t.Errorf("status after the replay: exit %d, problems %+v; want healthy", code, r.Problems)
	}
}
