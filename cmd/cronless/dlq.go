package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/cronless/cronless/shared/crawl"
	"github.com/cronless/cronless/shared/dlq"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/queue/sqsq"
	"github.com/cronless/cronless/shared/sqsevent"
	"github.com/cronless/cronless/shared/worker"
)

// dlqErrorKinds are the error kinds a dead letter can have: the crawl's
// failure kinds and the handlers' bad_message. --error-kind takes one of them.
var dlqErrorKinds = []string{
	string(crawl.KindTimeout), string(crawl.KindConnection), string(crawl.KindHTTP5xx), string(crawl.KindHTTP429),
	string(crawl.KindHTTP4xx), string(crawl.KindRobots), string(crawl.KindBlocked), string(crawl.KindTooLarge),
	string(crawl.KindContentType), string(crawl.KindRequired), string(crawl.KindBadRule), string(crawl.KindRedirects),
	string(crawl.KindFieldsTooLarge), worker.KindPanic, sqsevent.KindBadMessage,
}

// dlqStageWait is each receive's long poll on SQS when paging through a DLQ:
// a short receive samples only some of SQS's servers, so an empty one does
// not prove the queue has nothing visible left. The local backend answers
// exactly without waiting.
const dlqStageWait = time.Second

// dlqMoveInterval is how often `dlq replay --native` polls its move task.
const dlqMoveInterval = 2 * time.Second

// dlqClock is the dlq commands' clock: the ages they print and what
// --older-than compares with. Tests set it to print fixed ages.
var dlqClock = time.Now

// dlqFlags are the flags the dlq commands share.
type dlqFlags struct {
	queue      string
	output     string
	visibility time.Duration
	limit      int
	target     string
	run        string
	errorKind  string
	olderThan  string
}

func (f *dlqFlags) registerQueue(cmd *cobra.Command, def string) {
	help := "the dead-letter queue: targets (jobs the workers gave up on) or results (results that could not be stored)"
	if def == "" {
		help += " (default: look in both)"
	}
	cmd.Flags().StringVar(&f.queue, "queue", def, help)
	cmd.Flags().DurationVar(&f.visibility, "visibility", dlq.DefaultVisibility,
		"how long each message stays hidden while cronless pages through the queue (extended as it works; if cronless is killed, the messages come back after this long); also the longest wait for messages in flight that cronless does not hold")
}

func (f *dlqFlags) registerOutput(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "table, json (JSON lines) or csv (default: table on a terminal, else json)")
}

func (f *dlqFlags) registerFilters(cmd *cobra.Command, limitHelp string) {
	cmd.Flags().StringVar(&f.target, "target", "", "only messages of this target ID")
	cmd.Flags().StringVar(&f.run, "run", "", "only messages of this run ID")
	cmd.Flags().StringVar(&f.errorKind, "error-kind", "", "only messages whose last error has this kind ("+strings.Join(dlqErrorKinds, ", ")+")")
	cmd.Flags().StringVar(&f.olderThan, "older-than", "", "only messages first sent at least this long ago (a duration: 90m, 24h, 7d, 1d12h)")
	cmd.Flags().IntVar(&f.limit, "limit", 0, limitHelp+" (0: no limit)")
}

// parse checks the output format, the filters and the --queue flag (one
// queue) that list, replay and purge share.
func (f *dlqFlags) parse(a *app) (format string, flt dlq.Filter, err error) {
	if format, err = a.outputFormat(f.output); err != nil {
		return "", flt, err
	}
	if flt, err = f.filter(); err != nil {
		return "", flt, err
	}
	return format, flt, checkQueueFlag(f.queue, false)
}

// filter checks the filter flags.
func (f *dlqFlags) filter() (dlq.Filter, error) {
	flt := dlq.Filter{TargetID: f.target, RunID: f.run, ErrorKind: f.errorKind}
	if f.errorKind != "" && !slices.Contains(dlqErrorKinds, f.errorKind) {
		return flt, usagef("--error-kind %q: use one of %s", f.errorKind, strings.Join(dlqErrorKinds, ", "))
	}
	if f.olderThan != "" {
		d, err := parseDLQAge(f.olderThan)
		if err != nil {
			return flt, usagef("--older-than %q: use a duration such as 90m, 24h, 7d or 1d12h", f.olderThan)
		}
		flt.OlderThan = d
	}
	if f.limit < 0 {
		return flt, usagef("--limit %d: must be 0 (no limit) or more", f.limit)
	}
	return flt, nil
}

var dlqDays = regexp.MustCompile(`^(\d+)d(.*)$`)

// parseDLQAge parses a Go duration that may start with whole days ("7d",
// "1d12h").
func parseDLQAge(s string) (time.Duration, error) {
	var d time.Duration
	if m := dlqDays.FindStringSubmatch(s); m != nil {
		days, err := strconv.Atoi(m[1])
		if err != nil || days > 100_000 {
			return 0, fmt.Errorf("days %q", m[1])
		}
		d, s = time.Duration(days)*24*time.Hour, m[2]
		if s == "" {
			return d, nil
		}
	}
	more, err := time.ParseDuration(s)
	if err != nil || more < 0 {
		return 0, fmt.Errorf("duration %q", s)
	}
	return d + more, nil
}

// dlqPair is a dead-letter queue and the queue its messages came from.
type dlqPair struct {
	name   string // targets or results
	dlq    queue.Queue
	source queue.Queue
}

// dlqPairs returns the DLQs that --queue names ("" : both).
func dlqPairs(o *ops, name string) ([]dlqPair, error) {
	pairs := []dlqPair{{"targets", o.jobsDLQ, o.jobs}, {"results", o.resultsDLQ, o.results}}
	switch name {
	case "":
		return pairs, nil
	case "targets":
		return pairs[:1], nil
	case "results":
		return pairs[1:], nil
	}
	return nil, usagef("--queue %q: use targets or results", name)
}

// checkQueueFlag checks --queue before anything is opened.
func checkQueueFlag(name string, allowBoth bool) error {
	if name == "targets" || name == "results" || name == "" && allowBoth {
		return nil
	}
	return usagef("--queue %q: use targets or results", name)
}

// scanOptions are the scan parameters for the backend.
// openDLQs opens the backend, the dead-letter queues --queue selects and
// the scan options of the flags. Close o when done (it is nil on error).
func (a *app) openDLQs(ctx context.Context, f *dlqFlags, flt dlq.Filter) (*ops, []dlqPair, dlq.Options, error) {
	o, err := a.openOps(ctx)
	if err != nil {
		return nil, nil, dlq.Options{}, err
	}
	pairs, err := dlqPairs(o, f.queue)
	if err == nil {
		var opts dlq.Options
		if opts, err = a.scanOptions(o, f, flt); err == nil {
			return o, pairs, opts, nil
		}
	}
	o.Close()
	return nil, nil, dlq.Options{}, err
}

func (a *app) scanOptions(o *ops, f *dlqFlags, flt dlq.Filter) (dlq.Options, error) {
	if f.visibility < dlq.MinVisibility || f.visibility > dlq.MaxVisibility {
		return dlq.Options{}, usagef("--visibility %s: must be between %s and %s", f.visibility, dlq.MinVisibility, dlq.MaxVisibility)
	}
	opts := dlq.Options{Filter: flt, Limit: f.limit, Visibility: f.visibility, History: o.store, Now: dlqClock}
	if a.stage != "" {
		opts.Wait = dlqStageWait
	}
	return opts, nil
}

func (a *app) dlqCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "List, show, replay and purge dead-lettered messages",
		Long: `Work with the dead-letter queues: the targets DLQ holds jobs the workers gave up on
(retried maxReceiveCount times, or malformed), the results DLQ results that could not
be stored. Every command works on the local backend (--db) or a deployed stage
(--stage).

Listing does not consume: cronless receives the messages to read them, keeps them
hidden while it pages through the queue, and makes them visible again at the end,
also when it fails or is interrupted (if it is killed, they come back after
--visibility). Each receive raises SQS's receive count by one; the counts shown are
as they were before the listing.

Every command sees the whole queue: when messages are in flight that cronless does
not hold (a receive whose response was lost hid them), it waits for them to come
back, up to --visibility; messages still in flight then are held by someone else
(another listing, replay or purge), and the command says so and exits 1.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(a.dlqListCommand(), a.dlqShowCommand(), a.dlqReplayCommand(), a.dlqCancelCommand(), a.dlqPurgeCommand())
	return cmd
}

func (a *app) dlqListCommand() *cobra.Command {
	f := &dlqFlags{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List dead-lettered messages with the last error of each",
		Long: `List the messages of a dead-letter queue: message ID, target, run, URL, receive
count (as before this listing), age, and the last error of the message's (run,
target) from the error history, or the reason a handler gave when it dead-lettered
a malformed message itself.

The messages stay in the queue, visible again when the listing ends.`,
		Example: `  cronless dlq list
  cronless dlq list --stage prod --queue results -o json
  cronless dlq list --target example --older-than 24h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, flt, err := f.parse(a)
			if err != nil {
				return err
			}
			o, pairs, opts, err := a.openDLQs(cmd.Context(), f, flt)
			if err != nil {
				return err
			}
			defer o.Close()
			q := pairs[0].dlq
			done := a.dlqProgress(cmd.Context(), q, "reading "+q.Name(), &opts)
			letters, err := dlq.List(cmd.Context(), q, opts)
			done()
			incomplete := errors.Is(err, dlq.ErrIncomplete)
			if err != nil && !incomplete {
				return fmt.Errorf("list %s: %w", q.Name(), err)
			}
			if err := printLetters(a.stdout, format, letters, dlqClock(), ""); err != nil {
				return err
			}
			if incomplete {
				// What it saw is printed; say what it could not see.
				return fmt.Errorf("list %s: %w; run it again later to see them", q.Name(), err)
			}
			if format == "table" {
				noun := "messages"
				if len(letters) == 1 {
					noun = "message"
				}
				fmt.Fprintf(a.stdout, "\n%d %s in %s on %s (receive counts as before this listing; the messages are visible again).\n",
					len(letters), noun, q.Name(), o.where)
			}
			return nil
		},
	}
	f.registerQueue(cmd, "targets")
	f.registerOutput(cmd)
	f.registerFilters(cmd, "list at most this many messages")
	return cmd
}

// dlqRow is a dead letter as printed in JSON: the letter and its age.
type dlqRow struct {
	Action string `json:"action,omitempty"`
	dlq.Letter
	AgeSeconds int64  `json:"age_seconds"`
	Error      string `json:"error,omitempty"`
}

// printLetters prints dead letters as a table, JSON lines or CSV, oldest
// first. With action set, each row starts with it (replay and purge).
func printLetters(w io.Writer, format string, letters []dlq.Letter, now time.Time, action string) error {
	rows := make([]dlqRow, len(letters))
	for i, l := range letters {
		rows[i] = dlqRow{Action: action, Letter: l, AgeSeconds: int64(l.Age(now).Seconds())}
	}
	sortDLQRows(rows)
	return printDLQRows(w, format, rows, action != "")
}

// sortDLQRows orders dead letters oldest first (then by run, target and
// message ID), not in the order SQS happened to return them, so that the
// same queue lists the same way twice.
func sortDLQRows(rows []dlqRow) {
	slices.SortStableFunc(rows, func(a, b dlqRow) int {
		if c := a.SentAt.Compare(b.SentAt); c != 0 {
			return c
		}
		if c := strings.Compare(a.RunID, b.RunID); c != 0 {
			return c
		}
		if c := strings.Compare(a.TargetID, b.TargetID); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

func printDLQRows(w io.Writer, format string, rows []dlqRow, withAction bool) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	case "csv":
		header := []string{"message_id", "queue", "target_id", "run_id", "url", "receive_count", "sent_at", "age_seconds", "error_kind", "error_message", "error_source"}
		if withAction {
			header = append([]string{"action"}, header...)
			header = append(header, "action_error")
		}
		t := newTable(header...)
		for _, r := range rows {
			var kind, msg, src string
			if e := r.LastError; e != nil {
				kind, msg, src = e.Kind, e.Message, e.Source
			}
			sent := ""
			if !r.SentAt.IsZero() {
				sent = r.SentAt.UTC().Format(time.RFC3339Nano)
			}
			cells := []any{r.ID, r.Queue, r.TargetID, r.RunID, r.URL, r.ReceiveCount, sent, r.AgeSeconds, kind, msg, src}
			if withAction {
				cells = append(append([]any{r.Action}, cells...), r.Error)
			}
			t.add(cells...)
		}
		return t.writeCSV(w)
	}
	header := []string{"MESSAGE ID", "TARGET", "RUN", "URL", "RECEIVES", "AGE", "LAST ERROR"}
	if withAction {
		header = append([]string{"ACTION"}, header...)
	}
	t := newTable(header...)
	for _, r := range rows {
		last := "-"
		if e := r.LastError; e != nil {
			last = e.Kind + ": " + e.Message
		}
		if r.Error != "" {
			last = r.Error
		}
		age := "-"
		if !r.SentAt.IsZero() {
			age = dlqAge(time.Duration(r.AgeSeconds) * time.Second)
		}
		cells := []any{r.ID, orDashS(r.TargetID), orDashS(r.RunID), orDashS(clip(r.URL, 48)), r.ReceiveCount, age, clip(last, 80)}
		if withAction {
			cells = append([]any{r.Action}, cells...)
		}
		t.add(cells...)
	}
	return t.write(w)
}

func orDashS(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// dlqAge renders an age for people: 45s, 12m, 3h05m, 2d04h.
func dlqAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// dlqProgress shows a progress bar of a scan of q on a terminal (stderr),
// hooked into opts; the returned function clears it.
func (a *app) dlqProgress(ctx context.Context, q queue.Queue, what string, opts *dlq.Options) func() {
	if !a.isTerminal(a.stderr) {
		return func() {}
	}
	total := -1
	if d, err := q.Depth(ctx); err == nil && d.Total() > 0 {
		total = d.Total()
	}
	// Drawn at once: the first receive may take a while (a long poll on
	// SQS), and a show may find its message in it.
	bar := progressbar.NewOptions(total, progressbar.OptionSetWriter(a.stderr), progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetRenderBlankState(true))
	opts.Progress = func(p dlq.Progress) {
		if p.Matched > 0 && (p.Done > 0 || p.Failed > 0) {
			bar.Describe(fmt.Sprintf("%s (done %d, failed %d)", what, p.Done, p.Failed))
		}
		if total > 0 && p.Received > total {
			total = p.Received
			bar.ChangeMax(total)
		}
		_ = bar.Set(p.Received)
	}
	return func() { _ = bar.Finish() }
}

func (a *app) dlqShowCommand() *cobra.Command {
	f := &dlqFlags{}
	cmd := &cobra.Command{
		Use:   "show MESSAGE_ID",
		Short: "Show one dead-lettered message whole, with its error history",
		Long: `Show one message of a dead-letter queue: its attributes, its body (JSON pretty-printed),
its receive count (as before this look) and when it was sent, and the error history
of its (run, target): every failed attempt recorded, oldest first.

Without --queue it looks in the targets DLQ, then in the results DLQ. The message
stays in the queue.`,
		Example: `  cronless dlq show 6f0c3a9e-5b1d-4d44-9a57-1f0e2b7c8d90
  cronless dlq show 6f0c3a9e-5b1d-4d44-9a57-1f0e2b7c8d90 --stage prod -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := a.outputFormat(f.output)
			if err != nil {
				return err
			}
			if err := checkQueueFlag(f.queue, true); err != nil {
				return err
			}
			ctx := cmd.Context()
			o, pairs, opts, err := a.openDLQs(ctx, f, dlq.Filter{})
			if err != nil {
				return err
			}
			defer o.Close()
			var searched []string
			for _, p := range pairs {
				popts := opts
				done := a.dlqProgress(ctx, p.dlq, "looking in "+p.dlq.Name(), &popts)
				l, err := dlq.Find(ctx, p.dlq, args[0], popts)
				done()
				if errors.Is(err, dlq.ErrNotFound) {
					searched = append(searched, p.dlq.Name())
					continue
				}
				if err != nil {
					return fmt.Errorf("show: %w", err)
				}
				var history []job.Attempt
				if l.RunID != "" && l.TargetID != "" {
					if history, err = o.store.Attempts(ctx, l.RunID, l.TargetID); err != nil {
						return fmt.Errorf("error history of run %s, target %s: %w", l.RunID, l.TargetID, err)
					}
				}
				return printLetter(a.stdout, format, l, history, dlqClock())
			}
			return fmt.Errorf("message %s is not in %s on %s (replayed or purged already? `cronless dlq list` shows what is there)",
				args[0], strings.Join(searched, " or "), o.where)
		},
	}
	f.registerQueue(cmd, "")
	f.registerOutput(cmd)
	return cmd
}

// printLetter prints one dead letter whole: for a person (table), as one
// JSON object, or its error history as CSV.
func printLetter(w io.Writer, format string, l dlq.Letter, history []job.Attempt, now time.Time) error {
	switch format {
	case "json":
		out := struct {
			dlqRow
			History []job.Attempt `json:"history"`
		}{dlqRow{Letter: l, AgeSeconds: int64(l.Age(now).Seconds())}, history}
		if out.History == nil {
			out.History = []job.Attempt{}
		}
		return json.NewEncoder(w).Encode(out)
	case "csv":
		// message_id is the dead letter's; attempt_message_id the message
		// the attempt was made on (another one before a replay).
		t := newTable("message_id", "attempt_message_id", "attempt", "at", "error_kind", "error_message")
		for _, h := range history {
			t.add(l.ID, h.MessageID, h.Attempt, h.At.UTC().Format(time.RFC3339Nano), h.Error.Kind, h.Error.Message)
		}
		return t.writeCSV(w)
	}
	bw := bufio.NewWriter(w)
	t := newTable("Message", l.ID)
	t.add("Queue", l.Queue)
	t.add("Target", orDashS(l.TargetID))
	t.add("Run", orDashS(l.RunID))
	t.add("URL", orDashS(l.URL))
	if !l.SentAt.IsZero() {
		t.add("Sent", fmt.Sprintf("%s (%s ago)", l.SentAt.UTC().Format(time.RFC3339), dlqAge(l.Age(now))))
	}
	t.add("Receives", fmt.Sprintf("%d (before this look)", l.ReceiveCount))
	if e := l.LastError; e != nil && e.Source == dlq.SourceAttributes {
		t.add("Dead-lettered", fmt.Sprintf("by a handler: %s: %s", e.Kind, e.Message))
	}
	if err := t.write(bw); err != nil {
		return err
	}
	if len(l.Attributes) > 0 {
		fmt.Fprintln(bw, "\nAttributes:")
		keys := make([]string, 0, len(l.Attributes))
		for k := range l.Attributes {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		at := newTable("  NAME", "VALUE")
		for _, k := range keys {
			at.add("  "+k, l.Attributes[k])
		}
		if err := at.write(bw); err != nil {
			return err
		}
	}
	fmt.Fprintln(bw, "\nBody:")
	fmt.Fprintln(bw, indentText(prettyJSON(l.Body), "  "))
	if len(history) == 0 {
		fmt.Fprintln(bw, "\nError history: none recorded for this run and target.")
	} else {
		fmt.Fprintf(bw, "\nError history (%d failed attempts, oldest first):\n", len(history))
		ht := newTable("  ATTEMPT", "AT", "KIND", "MESSAGE")
		earlier := false
		for _, h := range history {
			n := strconv.Itoa(h.Attempt)
			if h.MessageID != "" && h.MessageID != l.ID {
				n += "*"
				earlier = true
			}
			ht.add("  "+n, h.At.UTC().Format(time.RFC3339), h.Error.Kind, h.Error.Message)
		}
		if err := ht.write(bw); err != nil {
			return err
		}
		if earlier {
			fmt.Fprintln(bw, "\n  * made on an earlier message of this job (before a replay), counted from 1 again since")
		}
	}
	return bw.Flush()
}

// prettyJSON indents s when it is JSON, keeping its key order, else
// returns it as it is.
func prettyJSON(s string) string {
	var b bytes.Buffer
	if json.Indent(&b, []byte(s), "", "  ") != nil {
		return s
	}
	return b.String()
}

func indentText(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

func (a *app) dlqReplayCommand() *cobra.Command {
	f := &dlqFlags{}
	var (
		rate        float64
		dryRun      bool
		all, native bool
	)
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Move dead-lettered messages back to the queue they came from",
		Long: `Move the messages that match the filters back to their source queue (the targets
DLQ's to the targets queue, the results DLQ's to the results queue), to be processed
again. Say what to move with --target, --run, --error-kind or --older-than, or
--all for everything.

Each message is sent first and deleted from the DLQ only after the send succeeded,
so an interruption at any moment (Ctrl-C, kill -9, a network error) loses nothing:
at worst a message is in both queues and is processed twice, which the pipeline
absorbs (results are keyed by target and run). Messages keep their body and
attributes, less the error_* attributes a handler adds when it dead-letters a
malformed message (a replayed malformed message is dead-lettered again, with a
fresh reason). The other messages stay in the DLQ, untouched.

--dry-run prints exactly what would move and changes nothing. A summary ends the
output: moved, skipped (did not match) and failed (still in the DLQ). The exit code
is 1 when any failed.

--native (a deployed stage only) hands the whole DLQ to SQS instead: a message move
task (StartMessageMoveTask) moves every message back to its source queue at
--rate, and cronless shows its progress until it is done. Ctrl-C stops watching,
not the task; ` + "`cronless dlq cancel`" + ` cancels it.`,
		Example: `  cronless dlq replay --target example --dry-run
  cronless dlq replay --target example
  cronless dlq replay --error-kind http_5xx --older-than 1h --rate 5 --stage prod
  cronless dlq replay --all --native --rate 50 --stage prod`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, flt, err := f.parse(a)
			if err != nil {
				return err
			}
			if rate < 0 || math.IsNaN(rate) || math.IsInf(rate, 0) {
				return usagef("--rate %v: must be 0 (no cap) or more messages a second", rate)
			}
			if native {
				if !all || !flt.IsZero() || f.limit != 0 {
					return usagef("--native moves the whole queue with an SQS message move task, which cannot filter: pass --all and no --target, --run, --error-kind, --older-than or --limit (or drop --native)")
				}
				if a.stage == "" {
					return usagef("--native needs a deployed stage (--stage): it uses SQS message move tasks, which the local backend does not have; locally, use `cronless dlq replay --all`")
				}
				if rate != float64(int(rate)) || rate > dlq.MaxMovePerSecond {
					return usagef("--rate %v: a move task takes a whole number of messages a second, up to %d", rate, dlq.MaxMovePerSecond)
				}
				return a.replayNative(cmd.Context(), f.queue, int(rate), dryRun)
			}
			if all && !flt.IsZero() {
				return usagef("--all moves every message: drop it, or the filters")
			}
			if !all && flt.IsZero() && !dryRun {
				return usagef("say what to replay: --target, --run, --error-kind or --older-than, or --all for every message (try --dry-run first)")
			}
			o, pairs, opts, err := a.openDLQs(cmd.Context(), f, flt)
			if err != nil {
				return err
			}
			defer o.Close()
			p := pairs[0]
			done := a.dlqProgress(cmd.Context(), p.dlq, "replaying "+p.dlq.Name(), &opts)
			out := newActionPrinter(a.stdout, format)
			sum, err := dlq.Replay(cmd.Context(), p.dlq, p.source, dlq.ReplayOptions{Options: opts, Rate: rate, DryRun: dryRun, Report: out.report})
			done()
			if perr := out.flush(); perr != nil && err == nil {
				err = perr
			}
			line := fmt.Sprintf("moved %d, skipped %d, failed %d (%s → %s on %s)", sum.Moved, sum.Skipped, sum.Failed, p.dlq.Name(), p.source.Name(), o.where)
			if dryRun {
				line = fmt.Sprintf("dry run: would move %d, skipped %d; nothing changed (%s → %s on %s)", sum.Moved, sum.Skipped, p.dlq.Name(), p.source.Name(), o.where)
			}
			a.summary(format, line)
			switch {
			case errors.Is(err, context.Canceled):
				return fmt.Errorf("interrupted: what was not moved is still in %s", p.dlq.Name())
			case err != nil:
				return fmt.Errorf("replay: %w", err)
			case sum.Failed > 0:
				return fmt.Errorf("%d messages were not moved; they are still in %s", sum.Failed, p.dlq.Name())
			}
			return nil
		},
	}
	f.registerQueue(cmd, "targets")
	f.registerOutput(cmd)
	f.registerFilters(cmd, "move at most this many messages")
	cmd.Flags().Float64Var(&rate, "rate", 0, "send at most this many messages a second (0: no cap)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would move and change nothing")
	cmd.Flags().BoolVar(&all, "all", false, "replay every message of the queue")
	cmd.Flags().BoolVar(&native, "native", false, "with --all, on a stage: let SQS move the messages (StartMessageMoveTask)")
	return cmd
}

// summary prints a command's last line: on stdout under a table, on stderr
// when stdout carries JSON lines or CSV.
func (a *app) summary(format, line string) {
	if format == "table" {
		fmt.Fprintf(a.stdout, "\n%s\n", line)
		return
	}
	fmt.Fprintf(a.stderr, "cronless: %s\n", line)
}

// actionPrinter prints what a replay or purge did with each message: JSON
// lines as it happens, a table or CSV at the end (oldest first).
type actionPrinter struct {
	w      io.Writer
	format string
	rows   []dlqRow
	err    error
}

func newActionPrinter(w io.Writer, format string) *actionPrinter {
	return &actionPrinter{w: w, format: format}
}

func (p *actionPrinter) report(l dlq.Letter, act dlq.Action, err error) {
	r := dlqRow{Action: string(act), Letter: l, AgeSeconds: int64(l.Age(dlqClock()).Seconds())}
	if err != nil {
		r.Error = err.Error()
	}
	if p.format == "json" {
		if e := json.NewEncoder(p.w).Encode(r); e != nil && p.err == nil {
			p.err = e
		}
		return
	}
	p.rows = append(p.rows, r)
}

func (p *actionPrinter) flush() error {
	if p.format == "json" || p.err != nil {
		return p.err
	}
	if len(p.rows) == 0 && p.format == "table" {
		fmt.Fprintln(p.w, "No matching messages.")
		return nil
	}
	sortDLQRows(p.rows)
	return printDLQRows(p.w, p.format, p.rows, true)
}

// sqsMover adapts an SQS queue's move-task methods to dlq.Mover.
type sqsMover struct{ q *sqsq.Queue }

func (m sqsMover) StartMove(ctx context.Context, dst string, perSecond int) (string, error) {
	return m.q.StartMove(ctx, dst, perSecond)
}

func (m sqsMover) CancelMove(ctx context.Context, handle string) (int64, error) {
	return m.q.CancelMove(ctx, handle)
}

func (m sqsMover) ListMoves(ctx context.Context) ([]dlq.MoveTask, error) {
	ts, err := m.q.ListMoves(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]dlq.MoveTask, len(ts))
	for i, t := range ts {
		out[i] = dlq.MoveTask{Handle: t.Handle, Status: t.Status, DestinationARN: t.DestinationARN, MaxPerSecond: t.MaxPerSecond,
			Moved: t.Moved, ToMove: t.ToMove, FailureReason: t.FailureReason, StartedAt: t.StartedAt}
	}
	return out, nil
}

// mover returns the move-task API of a stage's DLQ.
func (a *app) mover(o *ops, queueName string) (dlq.Mover, dlqPair, error) {
	pairs, err := dlqPairs(o, queueName)
	if err != nil {
		return nil, dlqPair{}, err
	}
	sq := o.sqs[pairs[0].dlq]
	if sq == nil {
		return nil, dlqPair{}, usagef("message move tasks need a deployed stage (--stage)")
	}
	return sqsMover{sq}, pairs[0], nil
}

// movesUnsupported explains a server without message move tasks.
func movesUnsupported(err error) error {
	if errors.Is(err, sqsq.ErrMovesUnsupported) {
		return fmt.Errorf("message move tasks are not supported by this server (%w); use `cronless dlq replay --all` without --native", err)
	}
	return err
}

// replayNative moves a stage's whole DLQ back with an SQS message move task
// and watches it.
func (a *app) replayNative(ctx context.Context, queueName string, rate int, dryRun bool) error {
	o, err := a.openOps(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	m, p, err := a.mover(o, queueName)
	if err != nil {
		return err
	}
	if dryRun {
		d, err := p.dlq.Depth(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "dry run: would start a message move task moving every message of %s (about %d) back to %s on %s; nothing changed\n",
			p.dlq.Name(), d.Total(), p.source.Name(), o.where)
		return nil
	}
	handle, err := dlq.StartMove(ctx, m, rate)
	if err != nil {
		return fmt.Errorf("start a move task from %s: %w", p.dlq.Name(), movesUnsupported(err))
	}
	fmt.Fprintf(a.stderr, "cronless: move task %s started: %s → its source queue; Ctrl-C stops watching, not the task\n", handle, p.dlq.Name())
	t, err := a.watchMove(ctx, m, handle, "moving "+p.dlq.Name(), dlqMoveInterval)
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("stopped watching; move task %s keeps running on AWS (%d moved so far). Cancel it with: cronless dlq cancel %s --stage %s --queue %s",
			handle, t.Moved, handle, a.stage, orTargets(queueName))
	}
	if err != nil {
		return fmt.Errorf("watch move task %s: %w", handle, err)
	}
	switch t.Status {
	case dlq.StatusCompleted:
		fmt.Fprintf(a.stdout, "moved %d messages from %s back to their source queue on %s\n", t.Moved, p.dlq.Name(), o.where)
		return nil
	case dlq.StatusCancelled:
		return fmt.Errorf("move task %s was cancelled after moving %d messages", handle, t.Moved)
	}
	return fmt.Errorf("move task %s ended %s after moving %d messages: %s", handle, t.Status, t.Moved, t.FailureReason)
}

// watchMove watches a move task until it ends (dlq.WatchMove), with a
// progress bar of the messages moved on a terminal (stderr).
func (a *app) watchMove(ctx context.Context, m dlq.Mover, handle, what string, interval time.Duration) (dlq.MoveTask, error) {
	if !a.isTerminal(a.stderr) {
		return dlq.WatchMove(ctx, m, handle, interval, nil)
	}
	var bar *progressbar.ProgressBar
	toMove := int64(-1) // unknown: a spinner with the count
	progress := func(t dlq.MoveTask) {
		known := t.ToMove
		if known <= 0 {
			// SQS reports no (or no useful) total: count up.
			known = -1
		}
		if bar == nil {
			toMove = known
			bar = progressbar.NewOptions64(toMove, progressbar.OptionSetWriter(a.stderr), progressbar.OptionSetDescription(what),
				progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
		} else if known != toMove && known > 0 {
			toMove = known
			bar.ChangeMax64(toMove)
		}
		_ = bar.Set64(t.Moved)
	}
	t, err := dlq.WatchMove(ctx, m, handle, interval, progress)
	if bar != nil {
		_ = bar.Finish()
	}
	return t, err
}

func orTargets(q string) string {
	if q == "" {
		return "targets"
	}
	return q
}

func (a *app) dlqCancelCommand() *cobra.Command {
	var queueName string
	cmd := &cobra.Command{
		Use:   "cancel [TASK_HANDLE]",
		Short: "Cancel the running message move task of a stage's DLQ (dlq replay --native)",
		Long: `Cancel a message move task started by ` + "`cronless dlq replay --all --native`" + `: the one
with TASK_HANDLE, or the DLQ's running task. Messages already moved stay moved; the
rest stay in the DLQ. A deployed stage only.`,
		Example: `  cronless dlq cancel --stage prod
  cronless dlq cancel --stage prod --queue results`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkQueueFlag(queueName, false); err != nil {
				return err
			}
			if a.stage == "" {
				return usagef("dlq cancel needs a deployed stage (--stage): message move tasks exist only on SQS")
			}
			ctx := cmd.Context()
			o, err := a.openOps(ctx)
			if err != nil {
				return err
			}
			defer o.Close()
			m, p, err := a.mover(o, queueName)
			if err != nil {
				return err
			}
			handle := ""
			if len(args) == 1 {
				handle = args[0]
			}
			handle, moved, err := dlq.CancelMove(ctx, m, handle)
			if errors.Is(err, dlq.ErrNoRunningMove) {
				return fmt.Errorf("%s on %s has no running move task", p.dlq.Name(), o.where)
			}
			if err != nil {
				return fmt.Errorf("cancel the move task of %s: %w", p.dlq.Name(), movesUnsupported(err))
			}
			fmt.Fprintf(a.stdout, "cancelled move task %s of %s after %d messages moved; the rest stay in the DLQ\n", handle, p.dlq.Name(), moved)
			return nil
		},
	}
	cmd.Flags().StringVar(&queueName, "queue", "targets", "the dead-letter queue: targets or results")
	return cmd
}

func (a *app) dlqPurgeCommand() *cobra.Command {
	f := &dlqFlags{}
	var (
		archivePath string
		yes, dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "purge",
		Short: "Delete dead-lettered messages for good (optionally archiving them first)",
		Long: `Delete the messages that match the filters (all of them without filters) from a
dead-letter queue, for good.

With --archive FILE.jsonl each message is appended to the file as a JSON line
(message, attributes, body, last error) and the file is synced to disk before the
message is deleted; if the archive cannot be written, nothing more is deleted.

On a terminal cronless shows how many messages match and asks first, unless --yes.
When stdin is not a terminal it does not ask: pass --yes, or it refuses (exit 2).`,
		Example: `  cronless dlq purge --target old-site --archive purged.jsonl
  cronless dlq purge --older-than 7d --stage prod --yes
  cronless dlq purge --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, flt, err := f.parse(a)
			if err != nil {
				return err
			}
			interactive := a.stdinIsTerminal()
			if !dryRun && !yes && !interactive {
				return usagef("purge deletes messages for good and stdin is not a terminal, so cronless cannot ask: pass --yes to confirm (or --dry-run to see what would go)")
			}
			ctx := cmd.Context()
			o, pairs, opts, err := a.openDLQs(ctx, f, flt)
			if err != nil {
				return err
			}
			defer o.Close()
			q := pairs[0].dlq
			if !dryRun && !yes {
				copts := opts
				done := a.dlqProgress(ctx, q, "counting matches in "+q.Name(), &copts)
				sum, err := dlq.Purge(ctx, q, dlq.PurgeOptions{Options: copts, DryRun: true})
				done()
				if err != nil {
					return fmt.Errorf("purge: %w", err)
				}
				if sum.Purged == 0 {
					fmt.Fprintf(a.stdout, "Nothing in %s matches (%s); nothing to purge.\n", q.Name(), flt)
					return nil
				}
				arch := "no archive"
				if archivePath != "" {
					arch = "archived to " + archivePath
				}
				if !confirm(a.stdin, a.stderr, fmt.Sprintf("Delete %d messages (%s) from %s on %s for good, %s?", sum.Purged, flt, q.Name(), o.where, arch)) {
					return errors.New("not confirmed; nothing purged")
				}
			}
			var arch dlq.Archive
			if archivePath != "" && !dryRun {
				af, err := openArchive(archivePath)
				if err != nil {
					return fmt.Errorf("archive: %w; nothing purged", err)
				}
				defer af.Close()
				arch = af
			}
			done := a.dlqProgress(ctx, q, "purging "+q.Name(), &opts)
			out := newActionPrinter(a.stdout, format)
			sum, err := dlq.Purge(ctx, q, dlq.PurgeOptions{Options: opts, Archive: arch, DryRun: dryRun, Report: out.report})
			done()
			if perr := out.flush(); perr != nil && err == nil {
				err = perr
			}
			line := fmt.Sprintf("purged %d, skipped %d, failed %d (%s on %s)", sum.Purged, sum.Skipped, sum.Failed, q.Name(), o.where)
			if dryRun {
				line = fmt.Sprintf("dry run: would purge %d, skipped %d; nothing changed (%s on %s)", sum.Purged, sum.Skipped, q.Name(), o.where)
			} else if archivePath != "" {
				line += "; archived to " + archivePath
			}
			a.summary(format, line)
			switch {
			case errors.Is(err, context.Canceled):
				return fmt.Errorf("interrupted: what was not purged is still in %s", q.Name())
			case err != nil:
				return fmt.Errorf("purge: %w", err)
			case sum.Failed > 0:
				return fmt.Errorf("%d messages were not purged; they are still in %s", sum.Failed, q.Name())
			}
			return nil
		},
	}
	f.registerQueue(cmd, "targets")
	f.registerOutput(cmd)
	f.registerFilters(cmd, "purge at most this many messages")
	cmd.Flags().StringVar(&archivePath, "archive", "", "append every purged message to this JSON-lines file, synced before the message is deleted")
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be purged and change nothing")
	return cmd
}

// stdinIsTerminal reports whether stdin is a terminal (a person can answer).
func (a *app) stdinIsTerminal() bool {
	f, ok := a.stdin.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// confirm asks a yes/no question on w and reads the answer from r; only
// "y" or "yes" is a yes.
func confirm(r io.Reader, w io.Writer, question string) bool {
	fmt.Fprintf(w, "%s [y/N] ", question)
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(w)
		return false
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

// openArchive opens (creating it if needed) a purge archive for appending,
// and syncs its directory when it creates it, so the file itself survives a
// crash.
func openArchive(path string) (*os.File, error) {
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if errors.Is(statErr, os.ErrNotExist) {
		if d, err := os.Open(filepath.Dir(path)); err == nil {
			_ = d.Sync()
			_ = d.Close()
		}
	}
	return f, nil
}
