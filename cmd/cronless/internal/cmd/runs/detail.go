package runs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/shared/dlq"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
)

// runDetail is one run as runs show prints it.
type runDetail struct {
	View
	// Results are the first results by target ID, at most --limit of
	// them, with their fields.
	Results []job.Result `json:"results"`
	// ResultsCount is how many results the run has, ResultsOK,
	// ResultsFailed and ResultsChanged how many of them are ok, failed
	// and changed, and ResultsMore how many Results leaves out (over
	// --limit): Results is complete when it is 0.
	ResultsCount   int `json:"results_count"`
	ResultsOK      int `json:"results_ok"`
	ResultsFailed  int `json:"results_failed"`
	ResultsChanged int `json:"results_changed"`
	ResultsMore    int `json:"results_more"`
	// Missing are the first targets without a result (see runs show's
	// help for which come first), at most --limit of them.
	Missing []missingTarget `json:"without_result"`
	// MissingCount is how many targets have no result, MissingInDLQ how
	// many of them have their job in the targets DLQ, and MissingMore how
	// many Missing leaves out (over --limit): Missing is complete when it
	// is 0.
	MissingCount int `json:"without_result_count"`
	MissingInDLQ int `json:"without_result_in_dlq"`
	MissingMore  int `json:"without_result_more"`
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

// newRunDetail puts together what runs show prints of run, its results
// (rr, with the listed ones read) and the targets DLQ's letters, with at
// most limit (0: all) targets without a result listed.
func newRunDetail(ctx context.Context, st cmdutil.ResultsStore, run store.Run, rr runResults, letters []dlq.Letter, limit int) (runDetail, error) {
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
	ids, guessed := missingTargets(run, &rr), false
	if ids == nil {
		guessed = true
		for id := range inDLQ {
			if !rr.has(id) {
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
			if l.Schedule == run.Schedule && !rr.has(l.TargetID) && !dl {
				ids = append(ids, l.TargetID)
			}
		}
	}
	slices.Sort(ids)
	missing, err := listMissing(ctx, st, run.ID, ids, inDLQ, limit)
	if err != nil {
		return runDetail{}, err
	}
	d := runDetail{View: newRunView(run, dead), Results: rr.listed, Missing: missing, MissingFrom: missingFromPlan,
		ResultsCount: len(rr.ids), ResultsOK: rr.ok, ResultsFailed: rr.failed, ResultsChanged: rr.changed,
		ResultsMore: len(rr.ids) - len(rr.listed), MissingCount: len(ids), MissingMore: len(ids) - len(missing)}
	for _, id := range ids {
		if _, dl := inDLQ[id]; dl {
			d.MissingInDLQ++
		}
	}
	if guessed {
		d.MissingFrom = missingFromGuess
	}
	if d.Results == nil {
		d.Results = []job.Result{}
	}
	return d, nil
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
		{"Changed", fmt.Sprint(d.ResultsChanged)},
		{"In flight", fmt.Sprint(v.InFlight)}, {"Dead-lettered", fmt.Sprint(v.DeadLettered)},
		{"Without a result", fmt.Sprintf("%d (%d in the DLQ)", d.MissingCount, d.MissingInDLQ)},
		{"First result", cmdutil.TableTime(v.FirstResultAt)}, {"Last result", cmdutil.TableTime(v.LastResultAt)},
	} {
		head.Rows = append(head.Rows, []string{kv[0] + ":", kv[1]})
	}
	if err := head.WriteRows(w); err != nil {
		return err
	}
	switch {
	case d.ResultsCount == 0:
		fmt.Fprintln(w, "\nNo results yet.")
	case d.ResultsMore > 0:
		fmt.Fprintf(w, "\nResults (%d; the first %d by target ID):\n", d.ResultsCount, len(d.Results))
	default:
		fmt.Fprintf(w, "\nResults (%d):\n", d.ResultsCount)
	}
	if len(d.Results) > 0 {
		if err := cmdutil.PrintResults(w, "cmdutil.Table", d.Results); err != nil {
			return err
		}
	}
	if d.ResultsMore > 0 {
		fmt.Fprintf(w, "… and %d more: %s\n", d.ResultsMore, moreResultsHint(v.ID))
	}
	if d.MissingCount == 0 {
		return nil
	}
	if d.MissingMore > 0 {
		fmt.Fprintf(w, "\nWithout a result (%d; the first %d, those in the DLQ or with failed attempts first):\n", d.MissingCount, len(d.Missing))
	} else {
		fmt.Fprintf(w, "\nWithout a result (%d):\n", d.MissingCount)
	}
	t := cmdutil.NewTable("TARGET", "IN DLQ", "ATTEMPTS", "LAST ATTEMPT", "LAST ERROR")
	for _, m := range d.Missing {
		last := "-"
		if m.LastError != nil {
			last = cmdutil.Clip(m.LastError.Kind+": "+m.LastError.Message, 100)
		}
		t.Add(m.TargetID, yesNo(m.InDLQ), m.Attempts, cmdutil.TableTime(m.LastAttemptAt), last)
	}
	if err := t.Write(w); err != nil {
		return err
	}
	if d.MissingMore > 0 {
		fmt.Fprintf(w, "… and %d more: %s\n", d.MissingMore, moreHint(v.ID))
	}
	switch notDead := d.MissingCount > d.MissingInDLQ; {
	case notDead && d.MissingFrom == missingFromGuess:
		fmt.Fprintf(w, "\nNot in the DLQ: guessed, as this run's planned targets were not recorded: the targets of schedule %s\n(known from their latest results) with no result in this run; %d of the run's jobs are neither done nor dead-lettered.\n", v.Schedule, v.InFlight)
	case notDead:
		fmt.Fprintf(w, "\nNot in the DLQ: planned targets of this run with no result yet (in flight, or waiting for a retry);\n%d of the run's jobs are neither done nor dead-lettered.\n", v.InFlight)
	}
	if d.MissingInDLQ > 0 {
		fmt.Fprintf(w, "\nOnce the cause is fixed: cronless dlq replay --run %s\n", v.ID)
	}
	return nil
}

// moreHint says how to list every target of run runID without a result.
func moreHint(runID string) string {
	return fmt.Sprintf("`cronless runs show %s --limit 0` lists them all (-o csv for a file)", runID)
}

// moreResultsHint says how to list every result of run runID.
func moreResultsHint(runID string) string {
	return fmt.Sprintf("`cronless runs show %s --limit 0` or `cronless results run %s` lists them all", runID, runID)
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
