package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronless/cronless/cmd/cronless/internal/localbackend"

	dlqcmd "github.com/cronless/cronless/cmd/cronless/internal/cmd/dlq"
	"github.com/cronless/cronless/shared/dlq"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/sqsevent"
)

// dlqJob is the message of a job of run for target.
func dlqJob(t *testing.T, run, target string) queue.Outgoing {
	t.Helper()
	body, err := job.Encode(job.Job{V: 1, RunID: run, Schedule: "hourly", TargetID: target, URL: "https://example.com/" + target,
		ScheduledAt: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return queue.Outgoing{Body: body, Attributes: job.Attributes(run, target)}
}

// sendAll sends msgs to q in batches of 10, several batches at once.
func sendAll(t *testing.T, q queue.Queue, msgs []queue.Outgoing) {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, 8)
	)
	for i := 0; i < len(msgs); i += queue.MaxBatch {
		batch := slices.Clone(msgs[i:min(i+queue.MaxBatch, len(msgs))])
		for j := range batch {
			batch[j].ID = fmt.Sprintf("e%d", j)
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := q.SendBatch(context.Background(), batch); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
}

// deadLetterViaRedrive sends msgs to the targets queue and receives them
// until the queue's redrive policy (maxReceiveCount 3) moves them to the
// DLQ, as when a worker keeps failing them.
func deadLetterViaRedrive(t *testing.T, b *testBackend, msgs []queue.Outgoing) {
	t.Helper()
	ctx := context.Background()
	sendAll(t, b.Targets, msgs)
	for range 20 {
		got, err := b.Targets.Receive(ctx, queue.ReceiveOptions{Max: 10, Visibility: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range got {
			if err := b.Targets.ChangeVisibility(ctx, m.ReceiptHandle, 0); err != nil {
				t.Fatal(err)
			}
		}
		if d := queueDepth(t, b.Targets); d.Total() == 0 {
			return
		}
	}
	t.Fatalf("messages not dead-lettered after 20 receives: %+v", queueDepth(t, b.Targets))
}

func queueDepth(t *testing.T, q queue.Queue) queue.Depth {
	t.Helper()
	d, err := q.Depth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// wantAllVisible checks that q holds exactly n messages, all visible.
func wantAllVisible(t *testing.T, q queue.Queue, n int) {
	t.Helper()
	if d := queueDepth(t, q); d.Visible != n || d.InFlight != 0 {
		t.Errorf("%s: %+v; want %d visible, none in flight", q.Name(), d, n)
	}
}

// takeAll receives and deletes every message of q.
func takeAll(t *testing.T, q queue.Queue) []queue.Message {
	t.Helper()
	ctx := context.Background()
	var all []queue.Message
	for empty := 0; empty < 2; {
		msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			empty++
			continue
		}
		rh := make([]string, len(msgs))
		for i, m := range msgs {
			rh[i] = m.ReceiptHandle
		}
		if err := q.Delete(ctx, rh); err != nil {
			t.Fatal(err)
		}
		all = append(all, msgs...)
	}
	return all
}

// dlqRow is a row of the dlq commands' JSON output.
type dlqRow = dlqcmd.Row

// dlqRows decodes the JSON lines of dlq list, replay or purge.
func dlqRows(t *testing.T, out string) []dlqRow {
	t.Helper()
	var rows []dlqRow
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var r dlqRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q is not a dead letter: %v", sc.Text(), err)
		}
		rows = append(rows, r)
	}
	return rows
}

func rowsByTarget(rows []dlqRow) map[string]dlqRow {
	m := map[string]dlqRow{}
	for _, r := range rows {
		m[r.TargetID] = r
	}
	return m
}

// TestDLQ walks the dlq commands on both backends: list explains and leaves
// every message visible, show, replay with each filter, dry run, usage
// errors, and the native move task (which fauxqs lacks).
func TestDLQ(t *testing.T) {
	for _, b := range testBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			// a: retried three times, then dead-lettered by the redrive
			// policy; its attempts are in the store.
			deadLetterViaRedrive(t, b, []queue.Outgoing{dlqJob(t, "r1", "a")})
			for i, kind := range []string{"http_5xx", "http_5xx", "timeout"} {
				if err := b.Store.RecordAttempt(ctx, job.Attempt{V: 1, RunID: "r1", TargetID: "a", Attempt: i + 1, At: time.Now().UTC(),
					Error: job.Error{Kind: kind, Message: fmt.Sprintf("attempt %d failed", i+1)}}); err != nil {
					t.Fatal(err)
				}
			}
			// b: no recorded error; bad: a malformed job a worker
			// dead-lettered itself, with the reason in its attributes.
			bad := queue.Outgoing{Body: `{"v":1,"run_id":"r1","target_id":"bad"`, Attributes: map[string]string{
				job.AttrRunID: "r1", job.AttrTargetID: "bad", sqsevent.AttrErrorKind: sqsevent.KindBadMessage,
				sqsevent.AttrErrorMessage: "invalid message: job: unexpected EOF", sqsevent.AttrOriginalMessageID: "orig-1",
				sqsevent.AttrSourceQueue: "arn:aws:sqs:us-east-1:000000000000:cronless-test-targets",
			}}
			sendAll(t, b.TargetsDLQ, []queue.Outgoing{dlqJob(t, "r2", "b"), bad})
			// A result the results function could not store.
			res := job.Result{V: 1, RunID: "r1", TargetID: "a", URL: "https://example.com/a", ScheduledAt: time.Now().UTC(),
				FetchedAt: time.Now().UTC(), Status: job.StatusOK}
			body, _ := job.Encode(res)
			resAttrs := job.Attributes("r1", "a")
			resAttrs[job.AttrType] = job.TypeResult
			sendAll(t, b.ResultsDLQ, []queue.Outgoing{{Body: body, Attributes: resAttrs}})

			var ids map[string]string // target → message ID
			var resultID string       // the results DLQ's message
			t.Run("list", func(t *testing.T) {
				code, out, stderr := cli(t, b.withArgs("dlq", "list", "-o", "json")...)
				if code != exitOK {
					t.Fatalf("exit %d: %s", code, stderr)
				}
				rows := dlqRows(t, out)
				got := rowsByTarget(rows)
				if len(rows) != 3 {
					t.Fatalf("listed %d, want 3: %s", len(rows), out)
				}
				a := got["a"]
				if a.LastError == nil || a.LastError.Kind != "timeout" || a.LastError.Attempt != 3 || a.LastError.Source != dlq.SourceHistory {
					t.Errorf("a's last error %+v, want attempt 3's timeout from the history", a.LastError)
				}
				if a.ReceiveCount < 3 || a.ReceiveCount > 4 || a.RunID != "r1" || a.URL != "https://example.com/a" || a.ID == "" || a.Queue != "cronless-test-targets-dlq" && a.Queue != localbackend.TargetsDLQueue {
					t.Errorf("a = %+v; want 3 receives as before the listing (4 on SQS, which counts the receive that dead-lettered it), run r1, its URL and queue", a)
				}
				if e := got["bad"].LastError; e == nil || e.Kind != sqsevent.KindBadMessage || !strings.Contains(e.Message, "unexpected EOF") || e.Source != dlq.SourceAttributes {
					t.Errorf("bad's last error %+v, want the handler's reason", e)
				}
				if got["b"].LastError != nil {
					t.Errorf("b has no recorded error, listed with %+v", got["b"].LastError)
				}
				ids = map[string]string{}
				for _, r := range rows {
					ids[r.TargetID] = r.ID
				}
				wantAllVisible(t, b.TargetsDLQ, 3)

				// Listing again raises the receive counts by one each time;
				// the listing shows the count as it was before it.
				code, out, _ = cli(t, b.withArgs("dlq", "list", "-o", "csv", "--target", "a")...)
				recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
				if code != exitOK || err != nil || len(recs) != 2 || recs[0][0] != "message_id" || recs[1][2] != "a" || recs[1][5] != fmt.Sprint(a.ReceiveCount+1) || recs[1][8] != "timeout" {
					t.Errorf("csv: exit %d, %v, %q", code, err, recs)
				}
				code, out, _ = cli(t, b.withArgs("dlq", "list", "-o", "table")...)
				for _, want := range []string{"MESSAGE ID", "LAST ERROR", "timeout: attempt 3 failed", "bad_message: invalid message", "3 messages in"} {
					if code != exitOK || !strings.Contains(out, want) {
						t.Errorf("table lacks %q:\n%s", want, out)
					}
				}
				code, out, _ = cli(t, b.withArgs("dlq", "list", "--queue", "results", "-o", "json")...)
				if rows := dlqRows(t, out); code != exitOK || len(rows) != 1 || rows[0].Attributes[job.AttrType] != job.TypeResult {
					t.Errorf("results DLQ: exit %d, %s", code, out)
				} else {
					resultID = rows[0].ID
				}
				wantAllVisible(t, b.TargetsDLQ, 3)
				wantAllVisible(t, b.ResultsDLQ, 1)
			})
			if ids == nil {
				t.FailNow()
			}

			t.Run("show", func(t *testing.T) {
				code, out, stderr := cli(t, b.withArgs("dlq", "show", ids["a"], "-o", "table")...)
				for _, want := range []string{ids["a"], "Error history (3 failed attempts", "attempt 1 failed", "timeout", `"target_id": "a"`, "run_id"} {
					if code != exitOK || !strings.Contains(out, want) {
						t.Errorf("show lacks %q (exit %d, %s):\n%s", want, code, stderr, out)
					}
				}
				code, out, _ = cli(t, b.withArgs("dlq", "show", ids["a"], "-o", "json")...)
				var shown struct {
					dlqRow
					History []job.Attempt `json:"history"`
				}
				if err := json.Unmarshal([]byte(out), &shown); code != exitOK || err != nil || len(shown.History) != 3 || shown.Body == "" || shown.ID != ids["a"] {
					t.Errorf("show json: exit %d, %v, %s", code, err, out)
				}
				code, out, _ = cli(t, b.withArgs("dlq", "show", ids["bad"])...)
				if code != exitOK || !strings.Contains(out, `"kind":"bad_message"`) {
					t.Errorf("show bad: %d %s", code, out)
				}
				// Without --queue, the results DLQ is searched too.
				if code, out, _ := cli(t, b.withArgs("dlq", "show", resultID)...); code != exitOK || resultID == "" || !strings.Contains(out, resultID) {
					t.Errorf("show of a results DLQ message: %d %s", code, out)
				}
				code, _, stderr = cli(t, b.withArgs("dlq", "show", "no-such-message", "--queue", "targets")...)
				if code != exitError || !strings.Contains(stderr, "is not in") {
					t.Errorf("show of a missing message: exit %d, %s", code, stderr)
				}
				wantAllVisible(t, b.TargetsDLQ, 3)
			})

			t.Run("replay", func(t *testing.T) {
				// A dry run prints what would move and changes nothing.
				code, out, stderr := cli(t, b.withArgs("dlq", "replay", "--all", "--dry-run", "-o", "json")...)
				rows := dlqRows(t, out)
				if code != exitOK || len(rows) != 3 || rows[0].Action != string(dlq.ActionWouldMove) || !strings.Contains(stderr, "would move 3, skipped 0") {
					t.Errorf("dry run: exit %d, %d rows, %s", code, len(rows), stderr)
				}
				wantAllVisible(t, b.TargetsDLQ, 3)
				wantAllVisible(t, b.Targets, 0)

				// --target
				code, out, stderr = cli(t, b.withArgs("dlq", "replay", "--target", "a", "-o", "json")...)
				rows = dlqRows(t, out)
				if code != exitOK || len(rows) != 1 || rows[0].Action != "moved" || rows[0].ID != ids["a"] || !strings.Contains(stderr, "moved 1, skipped 2, failed 0") {
					t.Errorf("replay --target a: exit %d, %s, %s", code, out, stderr)
				}
				moved := takeAll(t, b.Targets)
				if len(moved) != 1 || moved[0].Body != dlqJob(t, "r1", "a").Body || moved[0].Attributes[job.AttrTargetID] != "a" || moved[0].Attributes[job.AttrRunID] != "r1" {
					t.Errorf("targets queue holds %+v, want a's job with its attributes", moved)
				}
				wantAllVisible(t, b.TargetsDLQ, 2)

				// --error-kind: the handler's error attributes are dropped.
				code, _, stderr = cli(t, b.withArgs("dlq", "replay", "--error-kind", "bad_message", "-o", "table")...)
				if code != exitOK {
					t.Errorf("replay --error-kind: exit %d, %s", code, stderr)
				}
				moved = takeAll(t, b.Targets)
				if len(moved) != 1 || moved[0].Body != bad.Body {
					t.Fatalf("targets queue holds %+v, want the malformed job", moved)
				}
				for _, k := range dlq.StrippedAttributes {
					if _, ok := moved[0].Attributes[k]; ok {
						t.Errorf("replayed message keeps attribute %s", k)
					}
				}
				if moved[0].Attributes[job.AttrTargetID] != "bad" {
					t.Errorf("replayed attributes %v lost target_id", moved[0].Attributes)
				}

				// --run and --older-than: b is seconds old.
				code, out, stderr = cli(t, b.withArgs("dlq", "replay", "--run", "r2", "--older-than", "7d", "-o", "table")...)
				if code != exitOK || !strings.Contains(out, "No matching messages") || !strings.Contains(out, "moved 0, skipped 1, failed 0") {
					t.Errorf("replay --older-than 7d: exit %d, %s, %s", code, out, stderr)
				}
				code, out, stderr = cli(t, b.withArgs("dlq", "replay", "--run", "r2", "--older-than", "1ms", "--limit", "1", "--rate", "100", "-o", "table")...)
				if code != exitOK || !strings.Contains(out, "moved 1, skipped 0, failed 0") || !strings.Contains(out, "moved  ") {
					t.Errorf("replay --run r2: exit %d, %s, %s", code, out, stderr)
				}
				wantAllVisible(t, b.TargetsDLQ, 0)
				if moved := takeAll(t, b.Targets); len(moved) != 1 || moved[0].Attributes[job.AttrTargetID] != "b" {
					t.Errorf("targets queue holds %+v, want b's job", moved)
				}

				// The results DLQ goes back to the results queue, its type kept.
				code, _, stderr = cli(t, b.withArgs("dlq", "replay", "--queue", "results", "--all", "-o", "csv")...)
				if code != exitOK || !strings.Contains(stderr, "moved 1") {
					t.Errorf("replay results: exit %d, %s", code, stderr)
				}
				if moved := takeAll(t, b.Results); len(moved) != 1 || moved[0].Attributes[job.AttrType] != job.TypeResult {
					t.Errorf("results queue holds %+v", moved)
				}
			})

			t.Run("native", func(t *testing.T) {
				code, _, stderr := cli(t, b.withArgs("dlq", "replay", "--all", "--native")...)
				if b.name == "local" {
					if code != exitUsage || !strings.Contains(stderr, "needs a deployed stage") {
						t.Errorf("--native locally: exit %d, %s", code, stderr)
					}
					code, _, stderr = cli(t, b.withArgs("dlq", "cancel")...)
					if code != exitUsage || !strings.Contains(stderr, "deployed stage") {
						t.Errorf("cancel locally: exit %d, %s", code, stderr)
					}
					return
				}
				// fauxqs has no message move tasks.
				if code != exitError || !strings.Contains(stderr, "not supported by this server") {
					t.Errorf("--native on fauxqs: exit %d, %s", code, stderr)
				}
				code, _, stderr = cli(t, b.withArgs("dlq", "cancel", "--queue", "results")...)
				if code != exitError || !strings.Contains(stderr, "not supported by this server") {
					t.Errorf("cancel on fauxqs: exit %d, %s", code, stderr)
				}
			})
		})
	}
}

// TestDLQPurge purges with and without an archive, on both backends, and
// checks that nothing is purged when the archive cannot be written or the
// purge is not confirmed.
func TestDLQPurge(t *testing.T) {
	for _, b := range testBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			var msgs []queue.Outgoing
			for i := range 6 {
				msgs = append(msgs, dlqJob(t, "r1", fmt.Sprintf("p%d", i%2)))
			}
			sendAll(t, b.TargetsDLQ, msgs)

			// Not a terminal, no --yes: refused.
			code, _, stderr := cli(t, b.withArgs("dlq", "purge")...)
			if code != exitUsage || !strings.Contains(stderr, "--yes") {
				t.Errorf("purge without --yes: exit %d, %s", code, stderr)
			}
			// The archive cannot be created: nothing purged.
			dir := t.TempDir()
			notADir := filepath.Join(dir, "file")
			if err := os.WriteFile(notADir, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			code, _, stderr = cli(t, b.withArgs("dlq", "purge", "--yes", "--archive", filepath.Join(notADir, "a.jsonl"))...)
			if code != exitError || !strings.Contains(stderr, "nothing purged") {
				t.Errorf("purge with an unwritable archive: exit %d, %s", code, stderr)
			}
			if os.Geteuid() != 0 { // root writes to read-only directories
				ro := filepath.Join(dir, "ro")
				if err := os.Mkdir(ro, 0o500); err != nil {
					t.Fatal(err)
				}
				code, _, _ = cli(t, b.withArgs("dlq", "purge", "--yes", "--archive", filepath.Join(ro, "a.jsonl"))...)
				if code != exitError {
					t.Errorf("purge with an archive in a read-only directory: exit %d", code)
				}
			}
			wantAllVisible(t, b.TargetsDLQ, 6)

			// A dry run changes nothing.
			code, out, _ := cli(t, b.withArgs("dlq", "purge", "--dry-run", "--target", "p0", "-o", "json")...)
			if rows := dlqRows(t, out); code != exitOK || len(rows) != 3 || rows[0].Action != string(dlq.ActionWouldPurge) {
				t.Errorf("dry run: exit %d, %s", code, out)
			}
			wantAllVisible(t, b.TargetsDLQ, 6)

			// With an archive: every purged message is in it.
			arch := filepath.Join(dir, "purged.jsonl")
			code, out, stderr = cli(t, b.withArgs("dlq", "purge", "--target", "p0", "--archive", arch, "--yes", "-o", "json")...)
			purged := dlqRows(t, out)
			if code != exitOK || len(purged) != 3 || !strings.Contains(stderr, "purged 3, skipped 3, failed 0") {
				t.Fatalf("purge --target p0: exit %d, %s, %s", code, out, stderr)
			}
			data, err := os.ReadFile(arch)
			if err != nil {
				t.Fatal(err)
			}
			var archived []string
			for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
				var a dlq.Archived
				if err := json.Unmarshal([]byte(line), &a); err != nil || a.Body == "" || a.TargetID != "p0" || a.ArchivedAt.IsZero() {
					t.Errorf("archive line %q: %+v, %v", line, a, err)
				}
				archived = append(archived, a.ID)
			}
			for _, p := range purged {
				if !slices.Contains(archived, p.ID) {
					t.Errorf("purged message %s is not in the archive", p.ID)
				}
			}
			wantAllVisible(t, b.TargetsDLQ, 3)

			// Without an archive, the rest.
			code, out, _ = cli(t, b.withArgs("dlq", "purge", "--yes", "-o", "table")...)
			if code != exitOK || !strings.Contains(out, "purged 3, skipped 0, failed 0") {
				t.Errorf("purge: exit %d, %s", code, out)
			}
			wantAllVisible(t, b.TargetsDLQ, 0)
		})
	}
}

// TestDLQList1000 lists a DLQ of 1,000 messages completely and leaves all
// of them visible, on both backends.
func TestDLQList1000(t *testing.T) {
	const n = 1000
	for _, b := range testBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			msgs := make([]queue.Outgoing, n)
			for i := range msgs {
				msgs[i] = dlqJob(t, "r1", fmt.Sprintf("t%04d", i))
			}
			sendAll(t, b.TargetsDLQ, msgs)
			code, out, stderr := cli(t, b.withArgs("dlq", "list", "-o", "json")...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			seen := map[string]bool{}
			targets := map[string]bool{}
			for _, r := range dlqRows(t, out) {
				seen[r.ID] = true
				targets[r.TargetID] = true
			}
			if len(seen) != n || len(targets) != n {
				t.Errorf("listed %d distinct messages of %d targets, want %d", len(seen), len(targets), n)
			}
			wantAllVisible(t, b.TargetsDLQ, n)
		})
	}
}

// TestDLQReplaySurvivesKill kills replaying processes with SIGKILL at many
// points, with a consumer processing the targets queue meanwhile. After
// each kill, DLQ + targets queue + processed is never below the original
// count; at the end every original message has been processed.
func TestDLQReplaySurvivesKill(t *testing.T) {
	bin := buildCLI(t)
	const n = 60
	for _, b := range testBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			msgs := make([]queue.Outgoing, n)
			want := map[string]bool{}
			for i := range msgs {
				msgs[i] = dlqJob(t, "crash", fmt.Sprintf("c%03d", i))
				want[msgs[i].Body] = true
			}
			sendAll(t, b.TargetsDLQ, msgs)

			// The consumer records a message as processed, then deletes it.
			var (
				mu        sync.Mutex
				processed = map[string]int{}
				count     int
				wg        sync.WaitGroup
			)
			wg.Go(func() {
				for ctx.Err() == nil {
					// Short receives: a long poll cut short by the end of
					// the test would only make the SDK complain.
					got, err := b.Targets.Receive(context.WithoutCancel(ctx), queue.ReceiveOptions{Max: 10})
					if err != nil || len(got) == 0 {
						time.Sleep(20 * time.Millisecond)
						continue
					}
					for _, m := range got {
						mu.Lock()
						processed[m.Body]++
						count++
						mu.Unlock()
						_ = b.Targets.Delete(context.WithoutCancel(ctx), []string{m.ReceiptHandle})
					}
				}
			})
			defer wg.Wait()
			defer cancel()

			total := func() int {
				// DLQ first, then the queue, then what was processed: a
				// message on its way moves forward in that order, so it is
				// never missed (it may be counted twice).
				d := queueDepth(t, b.TargetsDLQ).Total()
				d += queueDepth(t, b.Targets).Total()
				mu.Lock()
				defer mu.Unlock()
				return d + count
			}
			forward := func() int { // sent to the queue so far (plus transients)
				d := queueDepth(t, b.Targets).Total()
				mu.Lock()
				defer mu.Unlock()
				return d + count
			}
			// Kill points: at fixed times, and right after a send is seen
			// (so the kill lands between a send and its delete).
			const onSend = -1
			for i, delay := range []time.Duration{100, onSend, 500, onSend, 900, onSend, 1100} {
				cmd := exec.Command(bin, b.withArgs("dlq", "replay", "--all", "--rate", "20", "--visibility", "1s", "-o", "json")...)
				var out strings.Builder
				cmd.Stdout, cmd.Stderr = &out, &out
				before := forward()
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				if delay == onSend {
					for end := time.Now().Add(5 * time.Second); forward() == before && time.Now().Before(end); {
						time.Sleep(200 * time.Microsecond)
					}
				} else {
					time.Sleep(delay * time.Millisecond)
				}
				_ = cmd.Process.Kill() // SIGKILL: no deferred release runs
				_ = cmd.Wait()
				mu.Lock()
				processedSoFar := count
				mu.Unlock()
				t.Logf("kill %d (%v): %d processed so far", i, delay*time.Millisecond, processedSoFar)
				if got := total(); got < n {
					t.Fatalf("after kill %d: DLQ + queue + processed = %d < %d\n%s", i, got, n, out.String())
				}
			}
			// What the killed processes held comes back after --visibility;
			// a last replay moves the rest, and the consumer processes it.
			time.Sleep(1100 * time.Millisecond)
			if code, _, stderr := cli(t, b.withArgs("dlq", "replay", "--all", "--visibility", "1s", "-o", "json")...); code != exitOK {
				t.Fatalf("final replay: exit %d: %s", code, stderr)
			}
			deadline := time.Now().Add(15 * time.Second)
			for queueDepth(t, b.TargetsDLQ).Total()+queueDepth(t, b.Targets).Total() > 0 && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			cancel()
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			for body := range want {
				if processed[body] == 0 {
					t.Errorf("lost: %s", body)
				}
			}
			if count < n {
				t.Errorf("processed %d, want at least %d", count, n)
			}
			t.Logf("%s: %d originals, %d processed (%d duplicates)", b.name, n, count, count-n)
		})
	}
}

// buildCLI builds the cronless binary once for the test (with the race
// detector when the test has it, so the build reuses the test's packages).
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cronless")
	args := []string{"build", "-o", bin}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" && s.Value == "true" {
				args = append(args, "-race")
			}
		}
	}
	out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestDLQUsage(t *testing.T) {
	db := localTestBackend(t).args
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"dlq", "list", "--queue", "jobs"}, "use targets, results or planner"},
		{[]string{"dlq", "list", "--output", "xml"}, "use table, json or csv"},
		{[]string{"dlq", "list", "--limit", "-1"}, "--limit -1"},
		{[]string{"dlq", "list", "--visibility", "100ms"}, "--visibility"},
		{[]string{"dlq", "replay", "--error-kind", "http_500"}, "use one of timeout, connection"},
		{[]string{"dlq", "replay", "--older-than", "soon", "--all"}, "--older-than"},
		{[]string{"dlq", "replay"}, "say what to replay"},
		{[]string{"dlq", "replay", "--all", "--target", "a"}, "--all moves every message"},
		{[]string{"dlq", "replay", "--target", "a", "--native"}, "cannot filter"},
		{[]string{"dlq", "replay", "--all", "--native"}, "needs a deployed stage"},
		{[]string{"dlq", "replay", "--all", "--rate", "-1"}, "--rate"},
		{[]string{"dlq", "purge"}, "pass --yes"},
		{[]string{"dlq", "show"}, "accepts 1 arg"},
		{[]string{"dlq", "cancel"}, "deployed stage"},
	}
	for _, tt := range tests {
		code, _, stderr := cli(t, append(tt.args, db...)...)
		if code != exitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("cronless %s: exit %d, %q; want 2 and %q", strings.Join(tt.args, " "), code, stderr, tt.want)
		}
	}
	for _, args := range [][]string{{"dlq", "--help"}, {"dlq", "list", "--help"}, {"dlq", "show", "--help"}, {"dlq", "replay", "--help"},
		{"dlq", "purge", "--help"}, {"dlq", "cancel", "--help"}} {
		if code, out, _ := cli(t, args...); code != exitOK || !strings.Contains(out, "Usage:") {
			t.Errorf("cronless %v: exit %d", args, code)
		}
	}
}
