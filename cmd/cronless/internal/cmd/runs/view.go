package runs

import (
	"fmt"
	"io"
	"time"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
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

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
