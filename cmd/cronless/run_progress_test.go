package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cronless/cronless/cmd/cronless/internal/localbackend"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/local"
	"github.com/cronless/cronless/shared/queue"
)

// A run --once that finds a tick an interrupted start left in flight says,
// on a terminal, that it waits for it, then plans and drains that run too.
func TestRunOnceWaitsForAnInterruptedTick(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, "<title>t%s</title>", r.URL.Path)
	}))
	defer srv.Close()
	tf := writeFile(t, "targets.yaml", fmt.Sprintf(`schedules:
  fast: { expression: "rate(5 minutes)" }
defaults: { host_rate: 1000/s } # not a pacing test: the local host at full speed
targets:
  - { id: one, url: "%[1]s/1", schedule: fast }
  - { id: two, url: "%[1]s/2", schedule: fast }
`, srv.URL))
	db := filepath.Join(t.TempDir(), "local.db")
	ctx := context.Background()

	// An earlier start received this tick and died before planning it: it
	// is in flight until its visibility timeout.
	interrupted := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	b, err := localbackend.Open(ctx, db, &localbackend.Settings{Visibility: 2 * time.Second, MaxReceives: 3})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(local.NewTick("fast", interrupted))
	if err := b.Ticks.SendBatch(ctx, []queue.Outgoing{{ID: "t", Body: string(body)}}); err != nil {
		t.Fatal(err)
	}
	// In flight for 4 s: longer than the new start's own run takes, even
	// on a loaded machine, so that it has to wait for it.
	if msgs, err := b.Ticks.Receive(ctx, queue.ReceiveOptions{Max: 1, Visibility: 4 * time.Second}); err != nil || len(msgs) != 1 {
		t.Fatalf("receive the tick: %v %v", msgs, err)
	}
	b.Close()

	args := []string{"run", "--once", "--targets", tf, "--db", db, "--allow-private",
		"--visibility-timeout", "2s", "--function-timeout", "2s", "--log-level", "error"}
	_, stderr := runWithStderr(t, args, true, false)
	if !strings.Contains(stderr, "cronless: waiting for 1 tick(s) an interrupted run left in "+db) {
		t.Errorf("stderr on a terminal does not say what it waits for:\n%q", stderr)
	}

	b, err = localbackend.Open(ctx, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	run, err := b.Store.Run(ctx, job.RunID("fast", interrupted))
	if err != nil || run.Planned != 2 || run.Succeeded != 2 {
		t.Errorf("the interrupted run: %+v, %v; want 2 planned and ok", run, err)
	}
}
