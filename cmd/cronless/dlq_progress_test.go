package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	deploymentscmd "github.com/cronless/cronless/cmd/cronless/internal/cmd/deployments"

	"github.com/cronless/cronless/cmd/cronless/internal/iostreams"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/store"
)

// progressCase is a long dlq command: on a terminal its progress goes to
// stderr; piped, stderr carries at most the summary line.
type progressCase struct {
	name string
	args []string
	// show, if set, is the target whose message ID is appended to args.
	show string
	// confirm: stdin is the terminal too, and the test answers the
	// purge's question with y.
	confirm bool
	rows    int      // JSON lines on stdout
	bar     []string // in the progress bar
	// summary is the start of the stderr line that a replay or purge
	// prints under JSON lines ("" : none).
	summary string
}

// TestDLQProgressOnTerminal runs the long dlq commands with stderr on a
// terminal (IOStreams) and then piped, on both backends: on the terminal the
// progress bar is drawn on stderr and cleared, stdout carries only the JSON
// lines; piped, there is no progress at all.
func TestDLQProgressOnTerminal(t *testing.T) {
	const n = 25 // three receives of up to ten
	cases := []progressCase{
		{name: "list", args: []string{"dlq", "list"}, rows: n, bar: []string{"reading ", "targets-dlq", "/25)"}},
		{name: "show", args: []string{"dlq", "show"}, show: "t07", rows: 1, bar: []string{"looking in ", "targets-dlq"}},
		{name: "replay dry run", args: []string{"dlq", "replay", "--all", "--dry-run"}, rows: n, bar: []string{"replaying "},
			summary: fmt.Sprintf("cronless: dry run: would move %d, skipped 0", n)},
		// runs list counts each run's dead letters by reading the DLQ.
		{name: "runs list", args: []string{"runs", "list"}, rows: 1, bar: []string{"reading ", "targets-dlq"}},
		// These act on one target: t1x on the terminal, t0x piped.
		{name: "replay", args: []string{"dlq", "replay", "--target", "t01"}, rows: 1, bar: []string{"replaying ", "(0/25)"},
			summary: "cronless: moved 1, skipped "},
		{name: "purge", args: []string{"dlq", "purge", "--yes", "--target", "t02"}, rows: 1, bar: []string{"purging "},
			summary: "cronless: purged 1, skipped "},
		// Before it asks, purge counts what matches: with progress too.
		{name: "purge confirmed", args: []string{"dlq", "purge", "--target", "t03"}, confirm: true, rows: 1,
			bar:     []string{"counting matches in ", "Delete 1 messages (target=t13)", "[y/N]", "purging "},
			summary: "cronless: purged 1, skipped "},
	}
	for _, b := range testBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			msgs := make([]queue.Outgoing, n)
			for i := range msgs {
				msgs[i] = dlqJob(t, "r1", fmt.Sprintf("t%02d", i))
			}
			sendAll(t, b.TargetsDLQ, msgs)
			run := store.Run{ID: "r1", Schedule: "hourly", ScheduledAt: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC), Planned: n}
			if _, err := b.Store.PutRun(context.Background(), run); err != nil {
				t.Fatal(err)
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					args := append(c.args, "-o", "json")
					if c.show != "" {
						args = append(args, dlqIDs(t, b.TargetsDLQ)[c.show])
					}
					for _, terminal := range []bool{true, false} {
						if c.confirm && !terminal {
							continue // piped, purge does not ask (TestDLQPurge)
						}
						run := args
						if terminal {
							run = onOtherTarget(args)
						}
						stdout, stderr := runWithStderr(t, b.withArgs(run...), terminal, c.confirm)
						checkProgressRun(t, c, terminal, stdout, stderr)
					}
				})
			}
			// Two replayed, three purged; the rest visible again.
			wantAllVisible(t, b.TargetsDLQ, n-5)
		})
	}
}

// onOtherTarget makes args act on another target (--target t01 → t11), so
// that the terminal and the piped run each find one.
func onOtherTarget(args []string) []string {
	out := append([]string(nil), args...)
	for i := range out {
		if i > 0 && out[i-1] == "--target" {
			out[i] = "t1" + out[i][2:]
		}
	}
	return out
}

// runWithStderr runs the command line in-process with stderr a terminal or
// not (stdin a terminal too when confirm, answering y), and returns stdout
// and stderr.
func runWithStderr(t *testing.T, args []string, terminal, confirm bool) (stdout, stderr string) {
	t.Helper()
	ios, in, out, errb := iostreams.Test()
	ios.SetStderrTTY(terminal)
	if confirm {
		ios.SetStdinTTY(true)
		in.WriteString("y\n")
	}
	where := map[bool]string{true: "on a terminal", false: "piped"}[terminal]
	if code := run(context.Background(), args, &Factory{IOStreams: ios, Now: time.Now, Exec: deploymentscmd.ExecCommand}); code != exitOK {
		t.Fatalf("%v %s: exit %d, stderr %q", args, where, code, errb.String())
	}
	return out.String(), errb.String()
}

// checkProgressRun checks one run of a progressCase.
func checkProgressRun(t *testing.T, c progressCase, terminal bool, stdout, stderr string) {
	t.Helper()
	where := map[bool]string{true: "on a terminal", false: "piped"}[terminal]
	// stdout carries the JSON lines and nothing else, either way.
	if strings.ContainsAny(stdout, "\r\x1b") {
		t.Errorf("%s: stdout has terminal control characters: %q", where, stdout)
	}
	if rows := dlqRows(t, stdout); len(rows) != c.rows {
		t.Errorf("%s: %d rows on stdout, want %d", where, len(rows), c.rows)
	}
	if !terminal {
		// Nothing, or the summary line alone.
		if c.summary == "" && stderr != "" || c.summary != "" && (!strings.HasPrefix(stderr, c.summary) ||
			strings.Count(stderr, "\n") != 1 || strings.ContainsAny(stderr, "\r\x1b")) {
			t.Errorf("piped: stderr %q; want only the summary %q", stderr, c.summary)
		}
		return
	}
	for _, want := range c.bar {
		if !strings.Contains(stderr, want) {
			t.Errorf("on a terminal: stderr lacks %q (no progress?): %q", want, stderr)
		}
	}
	// The bar redraws its line with carriage returns and is cleared at the
	// end: the summary starts a line of its own.
	if !strings.Contains(stderr, "\r") {
		t.Errorf("on a terminal: stderr has no carriage return, so no bar was drawn: %q", stderr)
	}
	if c.summary != "" && !strings.Contains(stderr, "\r"+c.summary) && !strings.Contains(stderr, "\n"+c.summary) {
		t.Errorf("on a terminal: the summary %q does not start a line: %q", c.summary, stderr)
	}
}
