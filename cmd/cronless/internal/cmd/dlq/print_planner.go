package dlq

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	deadletter "github.com/cronless/cronless/shared/dlq"
)

// plannerFailure is a row's planner failure (its zero value when the
// letter was not read as one).
func plannerFailure(r Row) deadletter.PlannerFailure {
	if r.Planner == nil {
		return deadletter.PlannerFailure{}
	}
	return *r.Planner
}

// printPlannerRows prints planner failures as a table or CSV (JSON lines
// are printDLQRows's: the letter carries its "planner" object): what
// failed, its run, the attempts, the age and why.
func printPlannerRows(w io.Writer, format string, rows []Row, withAction bool) error {
	switch format {
	case "json":
		return printDLQRows(w, format, rows, withAction)
	case "csv":
		header := []string{"message_id", "queue", "event", "schedule", "scheduled_at", "run_id", "shard", "attempts", "sent_at", "age_seconds",
			"source", "condition", "error_type", "reason", "malformed"}
		if withAction {
			header = append([]string{"action"}, header...)
			header = append(header, "action_error")
		}
		t := cmdutil.NewTable(header...)
		for _, r := range rows {
			f := plannerFailure(r)
			var scheduled, sent, shard, attempts string
			if !f.ScheduledAt.IsZero() {
				scheduled = f.ScheduledAt.UTC().Format(time.RFC3339)
			}
			if !r.SentAt.IsZero() {
				sent = r.SentAt.UTC().Format(time.RFC3339Nano)
			}
			if f.Shard != nil {
				shard = strconv.Itoa(*f.Shard)
			}
			if f.Attempts > 0 {
				attempts = strconv.Itoa(f.Attempts)
			}
			cells := []any{r.ID, r.Queue, f.Event, f.Schedule, scheduled, f.RunID, shard, attempts, sent, r.AgeSeconds,
				f.Source, f.Condition, f.ErrorType, f.Reason, f.Malformed}
			if withAction {
				cells = append(append([]any{r.Action}, cells...), r.Error)
			}
			t.Add(cells...)
		}
		return t.WriteCSV(w)
	}
	header := []string{"MESSAGE ID", "FAILED", "RUN", "ATTEMPTS", "AGE", "WHY"}
	if withAction {
		header = append([]string{"ACTION"}, header...)
	}
	t := cmdutil.NewTable(header...)
	for _, r := range rows {
		f := plannerFailure(r)
		why := f.Why()
		if r.Error != "" {
			why = r.Error
		}
		age := "-"
		if !r.SentAt.IsZero() {
			age = dlqAge(time.Duration(r.AgeSeconds) * time.Second)
		}
		cells := []any{r.ID, f.What(), cmdutil.OrDashS(f.RunID), attemptsCell(f.Attempts), age, cmdutil.Clip(why, 80)}
		if withAction {
			cells = append([]any{r.Action}, cells...)
		}
		t.Add(cells...)
	}
	return t.Write(w)
}

// attemptsCell is an attempt count for a table ("-" when unknown).
func attemptsCell(n int) string {
	if n <= 0 {
		return "-"
	}
	return strconv.Itoa(n)
}

// sourceText says where a planner failure comes from, for people.
var sourceText = map[string]string{
	deadletter.SourceInvocationRecord: "invocation record (Lambda's on-failure destination; locally, the local planner's)",
	deadletter.SourceScheduler:        "EventBridge Scheduler's dead-letter queue (the tick never reached the planner)",
	deadletter.SourceUnknown:          "unknown (no failure details)",
}

// printPlannerLetter prints one planner failure whole: for a person
// (table), as one JSON object, or as one CSV row.
func printPlannerLetter(w io.Writer, format string, l deadletter.Letter, now time.Time) error {
	row := Row{Letter: l, AgeSeconds: int64(l.Age(now).Seconds())}
	switch format {
	case "json":
		return json.NewEncoder(w).Encode(row)
	case "csv":
		return printPlannerRows(w, format, []Row{row}, false)
	}
	f := plannerFailure(row)
	bw := bufio.NewWriter(w)
	t := cmdutil.NewTable("Message", l.ID)
	t.Add("Queue", l.Queue)
	t.Add("Failed", f.What())
	t.Add("Run", cmdutil.OrDashS(f.RunID))
	t.Add("Why", f.Why())
	if f.Condition != "" {
		t.Add("Condition", f.Condition)
	}
	t.Add("Attempts", attemptsCell(f.Attempts))
	if !f.FailedAt.IsZero() {
		t.Add("Failed at", f.FailedAt.UTC().Format(time.RFC3339))
	}
	if !l.SentAt.IsZero() {
		t.Add("Sent", fmt.Sprintf("%s (%s ago)", l.SentAt.UTC().Format(time.RFC3339), dlqAge(l.Age(now))))
	}
	t.Add("Source", sourceText[f.Source])
	if f.Replayable() {
		t.Add("Replay", "re-delivers the "+f.Event+" to the planner: cronless dlq replay --queue planner --run "+f.RunID)
	} else {
		t.Add("Replay", "not replayable (malformed); purge it once read: cronless dlq purge --queue planner")
	}
	if err := t.Write(bw); err != nil {
		return err
	}
	if err := writeAttributesAndBody(bw, l); err != nil {
		return err
	}
	return bw.Flush()
}
