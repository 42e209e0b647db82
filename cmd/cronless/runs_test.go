package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	runscmd "github.com/cronless/cronless/cmd/cronless/internal/cmd/runs"
)

func TestRunsGolden(t *testing.T) {
	runGoldens(t, []goldenCase{
		{"runs_list", []string{"runs", "list"}},
		// In flight, dead-lettered (with its attempts), and in flight after a failed attempt.
		{"runs_show", []string{"runs", "show", runH09}},
		// No results yet; a malformed job of the run in the DLQ.
		{"runs_show_pending", []string{"runs", "show", runH10}},
	}, func(t *testing.T, b *testBackend) {
		ctx := context.Background()
		// Looking at the DLQ did not consume it: all three messages are
		// there and visible.
		if d, err := b.TargetsDLQ.Depth(ctx); err != nil || d.Visible != 3 || d.InFlight != 0 {
			t.Errorf("targets DLQ after the runs commands: %+v, %v; want 3 visible", d, err)
		}
		code, out, _ := cli(t, b.withArgs("runs", "list", "--limit", "2", "-o", "json")...)
		var ids []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var v runscmd.View
			if err := json.Unmarshal([]byte(line), &v); err != nil {
				t.Fatalf("runs list -o json: %q: %v", line, err)
			}
			ids = append(ids, v.ID)
		}
		if code != exitOK || strings.Join(ids, " ") != runH10+" "+runH09 {
			t.Errorf("runs list --limit 2: exit %d, runs %v; want the two newest", code, ids)
		}
		code, out, stderr := cli(t, b.withArgs("runs", "show", "hourly-nope")...)
		if code != exitError || out != "" || !strings.Contains(stderr, "run hourly-nope not found") {
			t.Errorf("runs show of an unknown run: exit %d, stdout %q, stderr %q; want 1 and not found", code, out, stderr)
		}
	})
}

func TestRunsEmptyBackend(t *testing.T) {
	for _, b := range testBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			for _, format := range []string{"json", "csv"} {
				if code, out, stderr := cli(t, b.withArgs("runs", "list", "-o", format)...); code != exitOK || out != "" || stderr != "" {
					t.Errorf("runs list -o %s: exit %d, stdout %q, stderr %q; want 0 and nothing", format, code, out, stderr)
				}
			}
			code, out, stderr := cli(t, b.withArgs("runs", "list", "-o", "table")...)
			if code != exitOK || out != "" || !strings.Contains(stderr, "no runs in") || !strings.Contains(stderr, "cronless run --once") {
				t.Errorf("runs list: exit %d, stdout %q, stderr %q; want 0 and a hint", code, out, stderr)
			}
			code, out, stderr = cli(t, b.withArgs("results", "latest", "-o", "table")...)
			if code != exitOK || out != "" || !strings.Contains(stderr, "no results in") {
				t.Errorf("results latest: exit %d, stdout %q, stderr %q; want 0 and a hint", code, out, stderr)
			}
		})
	}
}
