package runs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/shared/dlq"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
)

// View is a run as the runs commands print it (a JSON line of runs list).
type View struct {
	ID          string    `json:"run_id"`
	Schedule    string    `json:"schedule"`
	ScheduledAt time.Time `json:"scheduled_at"`
	// Planned is 0 while unknown (results stored before the run's plan).
	Planned       int       `json:"planned"`
	Succeeded     int       `json:"succeeded"`
	Failed        int       `json:"failed"`
	InFlight      int       `json:"in_flight"`
	DeadLettered  int       `json:"dead_lettered"`
	FirstResultAt time.Time `json:"first_result_at,omitzero"`
	LastResultAt  time.Time `json:"last_result_at,omitzero"`
	// Shards and PlannedShards: a run of a stored target list is planned in
	// shards, and Planned counts those that have recorded their part.
	Shards        int `json:"shards,omitempty"`
	PlannedShards int `json:"planned_shards,omitempty"`
}

// newRunView is run with dead of its jobs in the targets DLQ.
func newRunView(r store.Run, dead int) View {
	return View{
		ID: r.ID, Schedule: r.Schedule, ScheduledAt: r.ScheduledAt.UTC(),
		Planned: r.Planned, Succeeded: r.Succeeded, Failed: r.Failed,
		InFlight: max(0, r.Planned-r.Done()-dead), DeadLettered: dead,
		FirstResultAt: r.FirstResultAt.UTC(), LastResultAt: r.LastResultAt.UTC(),
		Shards: r.Shards, PlannedShards: r.PlannedShards,
	}
}

// plannedCell is the planned count for a person: "?" while unknown, and
// how many shards have added theirs while some have not.
func (v View) plannedCell() string {
	if v.Planned == 0 && v.Succeeded+v.Failed > 0 && v.Shards == 0 {
		return "?"
	}
	if v.PlannedShards < v.Shards {
		return fmt.Sprintf("%d so far (%d of %d shards planned)", v.Planned, v.PlannedShards, v.Shards)
	}
	return fmt.Sprint(v.Planned)
}

func printRuns(w io.Writer, format string, views []View) error {
	switch format {
	case "json":
		return cmdutil.PrintJSONLines(w, views)
	case "csv":
		t := cmdutil.NewTable("run_id", "schedule", "scheduled_at", "planned", "succeeded", "failed", "in_flight", "dead_lettered",
			"first_result_at", "last_result_at")
		for _, v := range views {
			t.Add(v.ID, v.Schedule, cmdutil.CSVTime(v.ScheduledAt), v.Planned, v.Succeeded, v.Failed, v.InFlight, v.DeadLettered,
				cmdutil.CSVTime(v.FirstResultAt), cmdutil.CSVTime(v.LastResultAt))
		}
		return t.WriteCSV(w)
	}
	t := cmdutil.NewTable("RUN", "SCHEDULE", "SCHEDULED", "PLANNED", "OK", "FAILED", "IN FLIGHT", "DEAD-LETTERED", "FIRST RESULT", "LAST RESULT")
	for _, v := range views {
		t.Add(v.ID, v.Schedule, cmdutil.TableTime(v.ScheduledAt), v.plannedCell(), v.Succeeded, v.Failed, v.InFlight, v.DeadLettered,
			cmdutil.TableTime(v.FirstResultAt), cmdutil.TableTime(v.LastResultAt))
	}
	return t.Write(w)
}

// runDetail is one run as runs show prints it.
type runDetail struct {
	View
	Results []job.Result `json:"results"`
	// Missing are the targets without a result (see runs show's help).
	Missing []missingTarget `json:"without_result"`
	// MissingFrom says where Missing comes from: "planned_targets" (the
	// targets the planner recorded with the run: exact) or "guessed" (a
	// run recorded without them: from the DLQ and the schedule's latest
	// results).
	MissingFrom string `json:"without_result_from"`
}

// Where runDetail.Missing comes from.
const (
	missingFromPlan  = "planned_targets"
	missingFromGuess = "guessed"
)

// missingTarget is a target of a run that has no result in it.
type missingTarget struct {
	TargetID string `json:"target_id"`
	// InDLQ: the target's job of this run is in the targets DLQ.
	InDLQ bool `json:"in_dlq"`
	// Attempts is the number of failed attempts recorded.
	Attempts int `json:"attempts"`
	// LastError is the last recorded attempt's error or, without one, the
	// error the dead-lettered message carries (a malformed message).
	LastError     *job.Error `json:"last_error,omitempty"`
	LastAttemptAt time.Time  `json:"last_attempt_at,omitzero"`
}

// newRunDetail puts together what runs show prints.
func newRunDetail(ctx context.Context, st cmdutil.ResultsStore, run store.Run, res []job.Result, letters []dlq.Letter) (runDetail, error) {
	have := map[string]bool{}
	for _, r := range res {
		have[r.TargetID] = true
	}
	dead := 0
	inDLQ := map[string]dlq.Letter{}
	for _, l := range letters {
		if l.RunID != run.ID {
			continue
		}
		dead++
		if _, ok := inDLQ[l.TargetID]; !ok && l.TargetID != "" {
			inDLQ[l.TargetID] = l
		}
	}
	ids, guessed := missingTargets(run, have), false
	if ids == nil {
		guessed = true
		for id := range inDLQ {
			if !have[id] {
				ids = append(ids, id)
			}
		}
	}
	// Jobs that are neither done nor accounted for by the DLQ: look for
	// them among the targets the schedule is known to have.
	if guessed && run.Planned-run.Done()-len(ids) > 0 {
		latest, err := st.Latest(ctx, "")
		if err != nil {
			return runDetail{}, fmt.Errorf("targets of schedule %s: %w", run.Schedule, err)
		}
		for _, l := range latest {
			_, dl := inDLQ[l.TargetID]
			if l.Schedule == run.Schedule && !have[l.TargetID] && !dl {
				ids = append(ids, l.TargetID)
			}
		}
	}
	sort.Strings(ids)
	d := runDetail{View: newRunView(run, dead), Results: res, Missing: []missingTarget{}, MissingFrom: missingFromPlan}
	if guessed {
		d.MissingFrom = missingFromGuess
	}
	if d.Results == nil {
		d.Results = []job.Result{}
	}
	for _, id := range ids {
		attempts, err := st.Attempts(ctx, run.ID, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return runDetail{}, fmt.Errorf("attempts of %s in run %s: %w", id, run.ID, err)
		}
		l, dl := inDLQ[id]
		m := missingTarget{TargetID: id, InDLQ: dl, Attempts: len(attempts)}
		if n := len(attempts); n > 0 {
			last := attempts[n-1]
			m.LastError, m.LastAttemptAt = &job.Error{Kind: last.Error.Kind, Message: last.Error.Message}, last.At.UTC()
		} else if dl && l.LastError != nil {
			// Listed without a history: the error attributes of a message
			// a handler dead-lettered itself (malformed).
			m.LastError = &job.Error{Kind: l.LastError.Kind, Message: l.LastError.Message}
		}
		d.Missing = append(d.Missing, m)
	}
	return d, nil
}

// missingTargets returns the run's recorded targets that have no result,
// or nil when the run has no recorded targets.
func missingTargets(run store.Run, have map[string]bool) []string {
	if len(run.Targets) == 0 {
		return nil
	}
	ids := []string{}
	seen := map[string]bool{}
	for _, id := range run.Targets {
		if !have[id] && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}

func printRunDetail(w io.Writer, format string, d runDetail) error {
	switch format {
	case "json":
		return json.NewEncoder(w).Encode(d)
	case "csv":
		return runDetailCSV(d).WriteCSV(w)
	}
	v := d.View
	head := &cmdutil.Table{}
	for _, kv := range [][2]string{
		{"Run", v.ID}, {"Schedule", v.Schedule}, {"Scheduled", cmdutil.TableTime(v.ScheduledAt)},
		{"Planned", v.plannedCell()}, {"OK", fmt.Sprint(v.Succeeded)}, {"Failed", fmt.Sprint(v.Failed)},
		{"In flight", fmt.Sprint(v.InFlight)}, {"Dead-lettered", fmt.Sprint(v.DeadLettered)},
		{"First result", cmdutil.TableTime(v.FirstResultAt)}, {"Last result", cmdutil.TableTime(v.LastResultAt)},
	} {
		head.Rows = append(head.Rows, []string{kv[0] + ":", kv[1]})
	}
	if err := head.WriteRows(w); err != nil {
		return err
	}
	if len(d.Results) == 0 {
		fmt.Fprintln(w, "\nNo results yet.")
	} else {
		fmt.Fprintf(w, "\nResults (%d):\n", len(d.Results))
		if err := cmdutil.PrintResults(w, "cmdutil.Table", d.Results); err != nil {
			return err
		}
	}
	if len(d.Missing) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nWithout a result (%d):\n", len(d.Missing))
	t := cmdutil.NewTable("TARGET", "IN DLQ", "ATTEMPTS", "LAST ATTEMPT", "LAST ERROR")
	anyDead, notDead := false, false
	for _, m := range d.Missing {
		last := "-"
		if m.LastError != nil {
			last = cmdutil.Clip(m.LastError.Kind+": "+m.LastError.Message, 100)
		}
		t.Add(m.TargetID, yesNo(m.InDLQ), m.Attempts, cmdutil.TableTime(m.LastAttemptAt), last)
		anyDead = anyDead || m.InDLQ
		notDead = notDead || !m.InDLQ
	}
	if err := t.Write(w); err != nil {
		return err
	}
	switch {
	case notDead && d.MissingFrom == missingFromGuess:
		fmt.Fprintf(w, "\nNot in the DLQ: guessed, as this run's planned targets were not recorded: the targets of schedule %s\n(known from their latest results) with no result in this run; %d of the run's jobs are neither done nor dead-lettered.\n", v.Schedule, v.InFlight)
	case notDead:
		fmt.Fprintf(w, "\nNot in the DLQ: planned targets of this run with no result yet (in flight, or waiting for a retry);\n%d of the run's jobs are neither done nor dead-lettered.\n", v.InFlight)
	}
	if anyDead {
		fmt.Fprintf(w, "\nOnce the cause is fixed: cronless dlq replay --run %s\n", v.ID)
	}
	return nil
}

// runDetailCSV is one row per target of the run: its result or, for a
// target without one, status dead_lettered (its job is in the targets DLQ)
// or no_result, with its recorded failed attempts and last error.
func runDetailCSV(d runDetail) *cmdutil.Table {
	names := cmdutil.FieldNames(d.Results)
	header := []string{"run_id", "target_id", "status", "http_status", "changed", "fetched_at", "duration_ms", "attempt",
		"in_dlq", "failed_attempts", "error_kind", "error_message"}
	for _, n := range names {
		header = append(header, "fields."+n)
	}
	t := cmdutil.NewTable(header...)
	for _, r := range d.Results {
		kind, msg := cmdutil.ErrorCells(r.Error)
		row := []any{r.RunID, r.TargetID, r.Status, cmdutil.OrEmpty(r.HTTPStatus), r.Changed, cmdutil.CSVTime(r.FetchedAt), r.DurationMS, r.Attempt,
			false, "", kind, msg}
		for _, n := range names {
			row = append(row, cmdutil.FieldCell(r.Fields, n))
		}
		t.Add(row...)
	}
	for _, m := range d.Missing {
		status := "no_result"
		if m.InDLQ {
			status = "dead_lettered"
		}
		kind, msg := cmdutil.ErrorCells(m.LastError)
		row := []any{d.ID, m.TargetID, status, "", "", "", "", "", m.InDLQ, m.Attempts, kind, msg}
		for range names {
			row = append(row, "")
		}
		t.Add(row...)
	}
	return t
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
