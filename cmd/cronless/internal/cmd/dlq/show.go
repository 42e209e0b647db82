package dlq

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	deadletter "github.com/cronless/cronless/shared/dlq"
	"github.com/cronless/cronless/shared/job"
)

// DLQShowOptions are the options of `dlq show`.
type DLQShowOptions struct {
	dlqOptions
	MessageID string
}

// NewCmdDLQShow is `dlq show`; runF, when set, runs instead of dlqShowRun (tests).
func NewCmdDLQShow(f *cmdutil.Factory, runF func(*DLQShowOptions) error) *cobra.Command {
	opts := &DLQShowOptions{dlqOptions: newDLQOptions(f)}
	cmd := &cobra.Command{
		Use:   "show MESSAGE_ID",
		Short: "Show one dead-lettered message whole, with its error history",
		Long: `Show one message of a dead-letter queue: its attributes, its body (JSON pretty-printed),
its receive count (as before this look) and when it was sent, and the error history
of its (run, target): every failed attempt recorded, oldest first.

Without --queue it looks in the targets DLQ, then in the results DLQ. With --queue
planner it shows a planner failure: what failed (a tick or a shard event), why, when,
after how many attempts, and whether a replay can re-deliver it. The message stays in
the queue.`,
		Example: `  cronless dlq show 6f0c3a9e-5b1d-4d44-9a57-1f0e2b7c8d90
  cronless dlq show 6f0c3a9e-5b1d-4d44-9a57-1f0e2b7c8d90 --stage prod -o json
  cronless dlq show 6f0c3a9e-5b1d-4d44-9a57-1f0e2b7c8d90 --queue planner --stage prod`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.set(f, cmd)
			opts.MessageID = args[0]
			return cmdutil.RunOr(opts, runF, dlqShowRun)
		},
	}
	opts.registerQueue(cmd, "")
	opts.registerOutput(cmd)
	return cmd
}

func dlqShowRun(opts *DLQShowOptions) error {
	format, err := cmdutil.OutputFormat(opts.IO, opts.output)
	if err != nil {
		return err
	}
	if err := checkQueueFlag(opts.queue, true); err != nil {
		return err
	}
	ctx := opts.ctx
	o, pairs, sopts, err := opts.openDLQs(deadletter.Filter{})
	if err != nil {
		return err
	}
	defer o.Close()
	var searched []string
	for _, p := range pairs {
		popts := sopts
		done := Progress(ctx, opts.IO, p.dlq, "looking in "+p.dlq.Name(), &popts)
		l, err := deadletter.Find(ctx, p.dlq, opts.MessageID, popts)
		done()
		if errors.Is(err, deadletter.ErrNotFound) {
			searched = append(searched, p.dlq.Name())
			continue
		}
		if err != nil {
			return fmt.Errorf("show: %w", err)
		}
		if p.name == plannerQueue {
			return printPlannerLetter(opts.IO.Out, format, l, opts.Now())
		}
		var history []job.Attempt
		if l.RunID != "" && l.TargetID != "" {
			if history, err = o.Store.Attempts(ctx, l.RunID, l.TargetID); err != nil {
				return fmt.Errorf("error history of run %s, target %s: %w", l.RunID, l.TargetID, err)
			}
		}
		return printLetter(opts.IO.Out, format, l, history, opts.Now())
	}
	hint := "`cronless dlq list` shows what is there"
	if opts.queue == "" {
		hint += "; a planner failure needs --queue planner"
	}
	return fmt.Errorf("message %s is not in %s on %s (replayed or purged already? %s)",
		opts.MessageID, strings.Join(searched, " or "), o.Where, hint)
}

// printLetter prints one dead letter whole: for a person (table), as one
// JSON object, or its error history as CSV.
func printLetter(w io.Writer, format string, l deadletter.Letter, history []job.Attempt, now time.Time) error {
	switch format {
	case "json":
		out := struct {
			Row
			History []job.Attempt `json:"history"`
		}{Row{Letter: l, AgeSeconds: int64(l.Age(now).Seconds())}, history}
		if out.History == nil {
			out.History = []job.Attempt{}
		}
		return json.NewEncoder(w).Encode(out)
	case "csv":
		// message_id is the dead letter's; attempt_message_id the message
		// the attempt was made on (another one before a replay).
		t := cmdutil.NewTable("message_id", "attempt_message_id", "attempt", "at", "error_kind", "error_message")
		for _, h := range history {
			t.Add(l.ID, h.MessageID, h.Attempt, h.At.UTC().Format(time.RFC3339Nano), h.Error.Kind, h.Error.Message)
		}
		return t.WriteCSV(w)
	}
	bw := bufio.NewWriter(w)
	t := cmdutil.NewTable("Message", l.ID)
	t.Add("Queue", l.Queue)
	t.Add("Target", cmdutil.OrDashS(l.TargetID))
	t.Add("Run", cmdutil.OrDashS(l.RunID))
	t.Add("URL", cmdutil.OrDashS(l.URL))
	if !l.SentAt.IsZero() {
		t.Add("Sent", fmt.Sprintf("%s (%s ago)", l.SentAt.UTC().Format(time.RFC3339), dlqAge(l.Age(now))))
	}
	t.Add("Receives", fmt.Sprintf("%d (before this look)", l.ReceiveCount))
	if e := l.LastError; e != nil && e.Source == deadletter.SourceAttributes {
		t.Add("Dead-lettered", fmt.Sprintf("by a handler: %s: %s", e.Kind, e.Message))
	}
	if err := t.Write(bw); err != nil {
		return err
	}
	if err := writeAttributesAndBody(bw, l); err != nil {
		return err
	}
	if len(history) == 0 {
		fmt.Fprintln(bw, "\nError history: none recorded for this run and target.")
	} else {
		fmt.Fprintf(bw, "\nError history (%d failed attempts, oldest first):\n", len(history))
		ht := cmdutil.NewTable("  ATTEMPT", "AT", "KIND", "MESSAGE")
		earlier := false
		for _, h := range history {
			n := strconv.Itoa(h.Attempt)
			if h.MessageID != "" && h.MessageID != l.ID {
				n += "*"
				earlier = true
			}
			ht.Add("  "+n, h.At.UTC().Format(time.RFC3339), h.Error.Kind, h.Error.Message)
		}
		if err := ht.Write(bw); err != nil {
			return err
		}
		if earlier {
			fmt.Fprintln(bw, "\n  * made on an earlier message of this job (before a replay), counted from 1 again since")
		}
	}
	return bw.Flush()
}

// writeAttributesAndBody writes a letter's attributes (sorted by name)
// and its body (JSON pretty-printed) for a person.
func writeAttributesAndBody(w io.Writer, l deadletter.Letter) error {
	if len(l.Attributes) > 0 {
		fmt.Fprintln(w, "\nAttributes:")
		keys := make([]string, 0, len(l.Attributes))
		for k := range l.Attributes {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		at := cmdutil.NewTable("  NAME", "VALUE")
		for _, k := range keys {
			at.Add("  "+k, l.Attributes[k])
		}
		if err := at.Write(w); err != nil {
			return err
		}
	}
	fmt.Fprintln(w, "\nBody:")
	fmt.Fprintln(w, indentText(prettyJSON(l.Body), "  "))
	return nil
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
