package dlq

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/cmd/cronless/internal/iostreams"
	deadletter "github.com/cronless/cronless/shared/dlq"
)

// Row is a dead letter as printed in JSON: the letter and its age.
type Row struct {
	Action string `json:"action,omitempty"`
	deadletter.Letter
	AgeSeconds int64  `json:"age_seconds"`
	Error      string `json:"error,omitempty"`
}

// printLetters prints dead letters as a table, JSON lines or CSV, oldest
// first, as planner failures when planner is set. With action set, each
// row starts with it (replay and purge).
func printLetters(w io.Writer, format string, letters []deadletter.Letter, now time.Time, action string, planner bool) error {
	rows := make([]Row, len(letters))
	for i, l := range letters {
		rows[i] = Row{Action: action, Letter: l, AgeSeconds: int64(l.Age(now).Seconds())}
	}
	sortDLQRows(rows)
	if planner {
		return printPlannerRows(w, format, rows, action != "")
	}
	return printDLQRows(w, format, rows, action != "")
}

// sortDLQRows orders dead letters oldest first (then by run, target and
// message ID), not in the order SQS happened to return them, so that the
// same queue lists the same way twice.
func sortDLQRows(rows []Row) {
	slices.SortStableFunc(rows, func(a, b Row) int {
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

func printDLQRows(w io.Writer, format string, rows []Row, withAction bool) error {
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
		t := cmdutil.NewTable(header...)
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
			t.Add(cells...)
		}
		return t.WriteCSV(w)
	}
	header := []string{"MESSAGE ID", "TARGET", "RUN", "URL", "RECEIVES", "AGE", "LAST ERROR"}
	if withAction {
		header = append([]string{"ACTION"}, header...)
	}
	t := cmdutil.NewTable(header...)
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
		cells := []any{r.ID, cmdutil.OrDashS(r.TargetID), cmdutil.OrDashS(r.RunID), cmdutil.OrDashS(cmdutil.Clip(r.URL, 48)), r.ReceiveCount, age, cmdutil.Clip(last, 80)}
		if withAction {
			cells = append([]any{r.Action}, cells...)
		}
		t.Add(cells...)
	}
	return t.Write(w)
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

// summary prints a command's last line: on stdout under a table, on stderr
// when stdout carries JSON lines or CSV.
func summary(ios *iostreams.IOStreams, format, line string) {
	if format == "table" {
		fmt.Fprintf(ios.Out, "\n%s\n", line)
		return
	}
	fmt.Fprintf(ios.ErrOut, "cronless: %s\n", line)
}

// actionPrinter prints what a replay or purge did with each message: JSON
// lines as it happens, a table or CSV at the end (oldest first).
type actionPrinter struct {
	w       io.Writer
	format  string
	planner bool             // the rows are planner failures
	now     func() time.Time // for the ages
	rows    []Row
	err     error
}

func newActionPrinter(w io.Writer, format string, now func() time.Time, planner bool) *actionPrinter {
	return &actionPrinter{w: w, format: format, now: now, planner: planner}
}

func (p *actionPrinter) report(l deadletter.Letter, act deadletter.Action, err error) {
	r := Row{Action: string(act), Letter: l, AgeSeconds: int64(l.Age(p.now()).Seconds())}
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
	if p.planner {
		return printPlannerRows(p.w, p.format, p.rows, true)
	}
	return printDLQRows(p.w, p.format, p.rows, true)
}
