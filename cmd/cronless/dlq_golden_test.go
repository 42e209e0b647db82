package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/dlq"
	"github.com/cronless/cronless/shared/queue"
)

// dlqGoldenCase is a dlq command whose table, JSON and CSV outputs are
// compared with testdata/<name>.<format>.golden (stdout) and, when the
// command says something on stderr, <name>.<format>.stderr.golden.
type dlqGoldenCase struct {
	name string
	args []string
	// show, if set, is the target whose message ID is appended to args
	// (looked up by a listing first, which raises its receive count by one).
	show string
	// streamed: the command prints JSON lines as it acts, in the order SQS
	// returned the messages; the test sorts them.
	streamed bool
	// wantDLQ and wantQueue are what the targets DLQ and queue hold after
	// the command (all visible).
	wantDLQ, wantQueue int
}

// goldenAge is how old the seeded messages are to the dlq commands
// (Factory.Now) in the golden tests: 3h00m in tables, whatever the few
// seconds the seeding took.
const goldenAge = 3*time.Hour + 30*time.Second

// TestDLQGolden checks the table, JSON and CSV outputs of dlq list, show,
// replay (and its dry run) and purge (and its dry run) against golden
// files, on the local backend and on fauxqs + dynalite. Each command runs
// on a freshly seeded targets DLQ: the three dead letters of seedGolden (a
// job retried three times with its error history, a stale job with no
// recorded error, a malformed job a handler dead-lettered with its reason),
// sent oldest first a few milliseconds apart.
//
// What differs between runs and backends is normalised: message IDs (to
// 00000000-0000-0000-0000-00000000000N, numbered as they first appear),
// sent_at and age_seconds in JSON and CSV (the table ages come from a fixed
// clock), the queue names (a stage's "cronless-test-…" to the local
// "cronless-…") and the backend ("on BACKEND").
func TestDLQGolden(t *testing.T) {
	cases := []dlqGoldenCase{
		{name: "dlq_list", args: []string{"dlq", "list"}, wantDLQ: 3},
		{name: "dlq_list_filtered", args: []string{"dlq", "list", "--run", runH09, "--older-than", "1h"}, wantDLQ: 3},
		{name: "dlq_show", args: []string{"dlq", "show"}, show: "gamma", wantDLQ: 3},
		{name: "dlq_show_malformed", args: []string{"dlq", "show", "--queue", "targets"}, show: "epsilon", wantDLQ: 3},
		{name: "dlq_replay_dry_run", args: []string{"dlq", "replay", "--all", "--dry-run"}, streamed: true, wantDLQ: 3},
		{name: "dlq_replay", args: []string{"dlq", "replay", "--run", runH09}, streamed: true, wantDLQ: 2, wantQueue: 1},
		{name: "dlq_purge_dry_run", args: []string{"dlq", "purge", "--dry-run"}, streamed: true, wantDLQ: 3},
		{name: "dlq_purge", args: []string{"dlq", "purge", "--yes", "--error-kind", "bad_message"}, streamed: true, wantDLQ: 2},
	}
	for i, b := range testBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			seedGolden(t, b)
			seed := snapshotDLQ(t, b.TargetsDLQ)
			for _, c := range cases {
				for _, format := range []string{"table", "json", "csv"} {
					t.Run(c.name+"."+format, func(t *testing.T) {
						runDLQGolden(t, b, seed, c, format, *updateGolden && i == 0)
					})
				}
			}
		})
	}
}

// runDLQGolden runs one case in one format on a freshly seeded DLQ.
func runDLQGolden(t *testing.T, b *testBackend, seed []queue.Outgoing, c dlqGoldenCase, format string, write bool) {
	t.Helper()
	now := reseedDLQ(t, b, seed)
	args := slices.Clone(c.args)
	if c.show != "" {
		id := dlqIDs(t, b.TargetsDLQ)[c.show]
		if id == "" {
			t.Fatalf("no message of %s in the DLQ", c.show)
		}
		args = append(args, id)
	}
	code, out, stderr := cliAt(t, now, b.withArgs(append(args, "-o", format)...)...)
	if code != exitOK {
		t.Fatalf("%v -o %s: exit %d, stderr %q", args, format, code, stderr)
	}
	if format == "json" {
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if !json.Valid([]byte(line)) {
				t.Errorf("line %q is not JSON", line)
			}
		}
		if c.streamed {
			out = sortBySentAt(t, out)
		}
	}
	checkGolden(t, c.name+"."+format, normDLQ(t, out, format), write)
	if stderr != "" || format != "table" && c.streamed {
		// The summary of a replay or purge goes to stderr under JSON and
		// CSV, so stdout carries only rows; nothing else ever does.
		checkGolden(t, c.name+"."+format+".stderr", normDLQ(t, stderr, "text"), write)
	}
	wantAllVisible(t, b.TargetsDLQ, c.wantDLQ)
	wantAllVisible(t, b.Targets, c.wantQueue)
}

// snapshotDLQ takes the messages out of q, to be sent again before each
// command, ordered by body (oldest run first).
func snapshotDLQ(t *testing.T, q queue.Queue) []queue.Outgoing {
	t.Helper()
	var seed []queue.Outgoing
	for _, m := range takeAll(t, q) {
		seed = append(seed, queue.Outgoing{ID: "m", Body: m.Body, Attributes: m.Attributes})
	}
	slices.SortFunc(seed, func(a, b queue.Outgoing) int { return strings.Compare(a.Body, b.Body) })
	if len(seed) != 3 {
		t.Fatalf("seeded DLQ held %d messages, want 3", len(seed))
	}
	return seed
}

// reseedDLQ empties the targets queue and DLQ, sends seed to the DLQ one
// message at a time (so that each has its own sent time, in order), and
// returns the time for the commands' clock: goldenAge after the sends began.
func reseedDLQ(t *testing.T, b *testBackend, seed []queue.Outgoing) time.Time {
	t.Helper()
	takeAll(t, b.TargetsDLQ)
	takeAll(t, b.Targets)
	wantAllVisible(t, b.TargetsDLQ, 0)
	wantAllVisible(t, b.Targets, 0)
	start := time.Now()
	sendSpaced(t, b.TargetsDLQ, seed)
	return start.Add(goldenAge)
}

// sendSpaced sends msgs to q one at a time, in order, a few milliseconds
// apart, so that each has a sent time of its own.
func sendSpaced(t *testing.T, q queue.Queue, msgs []queue.Outgoing) {
	t.Helper()
	for _, m := range msgs {
		if err := q.SendBatch(context.Background(), []queue.Outgoing{m}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Millisecond) // SQS sent times are in milliseconds
	}
}

// dlqIDs lists q (raising each message's receive count by one) and returns
// the message ID of each target.
func dlqIDs(t *testing.T, q queue.Queue) map[string]string {
	t.Helper()
	letters, err := dlq.List(context.Background(), q, dlq.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, l := range letters {
		ids[l.TargetID] = l.ID
	}
	return ids
}

var (
	uuidRE    = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	sentAtRE  = regexp.MustCompile(`"sent_at":"[^"]*"`)
	ageRE     = regexp.MustCompile(`"age_seconds":\d+`)
	sentRowRE = regexp.MustCompile(`(?m)^(Sent +)\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)
	backendRE = regexp.MustCompile(`(local|stage test) \([^)]*\)`)
)

// sortBySentAt sorts JSON lines of dead letters oldest first, as the
// tables are: they stream in the order SQS returned the messages.
func sortBySentAt(t *testing.T, out string) string {
	t.Helper()
	lines := strings.SplitAfter(out, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	sent := func(line string) time.Time {
		var r dlqRow
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q is not a dead letter: %v", line, err)
		}
		return r.SentAt
	}
	slices.SortStableFunc(lines, func(a, b string) int { return sent(a).Compare(sent(b)) })
	return strings.Join(lines, "")
}

// normDLQ replaces what differs between runs and backends in the output of
// a dlq command (see TestDLQGolden) with placeholders of the same width.
func normDLQ(t *testing.T, out, format string) string {
	t.Helper()
	if format == "csv" {
		out = normDLQCSV(t, out)
	}
	ids := map[string]string{}
	out = uuidRE.ReplaceAllStringFunc(out, func(id string) string {
		if ids[id] == "" {
			ids[id] = fmt.Sprintf("00000000-0000-0000-0000-%012d", len(ids)+1)
		}
		return ids[id]
	})
	out = sentAtRE.ReplaceAllString(out, `"sent_at":"SENT_AT"`)
	out = ageRE.ReplaceAllString(out, `"age_seconds":"AGE_SECONDS"`)
	out = sentRowRE.ReplaceAllString(out, "${1}"+storedTable)
	out = backendRE.ReplaceAllString(out, "BACKEND")
	return strings.ReplaceAll(out, "cronless-test-", "cronless-")
}

// normDLQCSV masks the sent_at and age_seconds columns of CSV output.
func normDLQCSV(t *testing.T, out string) string {
	t.Helper()
	if out == "" {
		return out
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, out)
	}
	for col, name := range recs[0] {
		mask := map[string]string{"sent_at": "SENT_AT", "age_seconds": "AGE_SECONDS"}[name]
		if mask == "" {
			continue
		}
		for _, r := range recs[1:] {
			if r[col] != "" {
				r[col] = mask
			}
		}
	}
	var b strings.Builder
	w := csv.NewWriter(&b)
	if err := w.WriteAll(recs); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
