// Package status is what `cronless status` reports in one look: each
// schedule's last run and next tick, the queues and their DLQs, the alarms
// in ALARM on a stage, and what needs attention with the command to run
// next. Assess is pure; the command gathers its input from the backend.
package status

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/targets"
)

// DefaultStale is how long a run may drain, and a work queue's oldest
// message may wait, before it needs attention.
const DefaultStale = 15 * time.Minute

// Queue roles, the names status prints for the queues.
const (
	RoleTicks           = "ticks" // local only: the ticks waiting to be planned
	RoleTargets         = "targets"
	RoleResults         = "results"
	RoleTargetsDLQ      = "targets-dlq"
	RoleResultsDLQ      = "results-dlq"
	RolePlannerFailures = "planner-failures" // the planner's on-failure destination (locally: what the local planner failed on)
)

// Queue is one queue's counts, as SQS's approximate attributes give them.
type Queue struct {
	Role     string `json:"role"`
	Name     string `json:"name"`
	DLQ      bool   `json:"dlq"`
	Visible  int    `json:"visible"`
	InFlight int    `json:"in_flight"`
	Delayed  int    `json:"delayed"`
	// OldestAge is the age of the oldest message (ApproximateAgeOfOldestMessage);
	// AgeKnown is false when the queue is empty or, on a stage, CloudWatch
	// has no recent datapoint of the metric.
	OldestAge time.Duration `json:"-"`
	AgeKnown  bool          `json:"-"`
	// OldestAgeSeconds is OldestAge in JSON: null when not known.
	OldestAgeSeconds *float64 `json:"oldest_age_seconds"`
}

// Total is every message the queue holds.
func (q Queue) Total() int { return q.Visible + q.InFlight + q.Delayed }

// Run is a schedule's last run.
type Run struct {
	ID           string    `json:"run_id"`
	ScheduledAt  time.Time `json:"scheduled_at"`
	Planned      int       `json:"planned"`
	OK           int       `json:"ok"`
	Failed       int       `json:"failed"`
	DeadLettered int       `json:"dead_lettered"`
	InFlight     int       `json:"in_flight"`
	// Draining: jobs of the run are neither stored nor dead-lettered yet.
	Draining bool `json:"draining"`
	// TookSeconds is from the scheduled time to the last result stored, for
	// a run done draining (null otherwise); DrainingSeconds is from the
	// scheduled time to now, for a run still draining.
	TookSeconds     *float64 `json:"took_seconds"`
	DrainingSeconds *float64 `json:"draining_seconds,omitempty"`
}

// Schedule is one schedule of the targets file.
type Schedule struct {
	Name       string    `json:"schedule"`
	Expression string    `json:"expression"`
	NextTick   time.Time `json:"next_tick,omitzero"`
	LastRun    *Run      `json:"last_run"`
}

// Alarm is a CloudWatch alarm in state ALARM.
type Alarm struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	Since       time.Time `json:"since,omitzero"`
}

// Problem is something that needs attention and the command to run next.
type Problem struct {
	What string `json:"what"`
	Next string `json:"next,omitempty"`
}

// Report is what status prints.
type Report struct {
	Where     string     `json:"where"`
	At        time.Time  `json:"at"`
	Healthy   bool       `json:"healthy"`
	Schedules []Schedule `json:"schedules"`
	Queues    []Queue    `json:"queues"`
	// Alarms are the stage's alarms in ALARM (nil locally: null in JSON).
	Alarms   []Alarm   `json:"alarms"`
	Problems []Problem `json:"problems"`
}

// Input is what Assess judges.
type Input struct {
	Where   string
	Now     time.Time
	Stage   string // empty: local
	Targets *targets.File
	// Runs are recent runs, newest first (store.Store.Runs).
	Runs []store.Run
	// DeadLetters counts the targets DLQ's messages by run ID.
	DeadLetters map[string]int
	Queues      []Queue
	Alarms      []Alarm // nil locally
	// Stale is how long a run may drain, and a work queue's oldest message
	// wait, before it needs attention (0: DefaultStale).
	Stale time.Duration
}

// Assess puts the report together and finds the problems.
func Assess(in Input) Report {
	if in.Stage == "" {
		in.Alarms = nil
	} else if in.Alarms == nil {
		in.Alarms = []Alarm{}
	}
	stale := in.Stale
	if stale <= 0 {
		stale = DefaultStale
	}
	r := Report{Where: in.Where, At: in.Now.UTC(), Alarms: in.Alarms, Schedules: []Schedule{}, Queues: []Queue{}, Problems: []Problem{}}
	stage := ""
	if in.Stage != "" {
		stage = " --stage " + in.Stage
	}
	add := func(next, format string, args ...any) {
		r.Problems = append(r.Problems, Problem{What: fmt.Sprintf(format, args...), Next: next})
	}

	last := map[string]store.Run{}
	for _, run := range in.Runs {
		if _, ok := last[run.Schedule]; !ok {
			last[run.Schedule] = run
		}
	}
	for _, name := range in.Targets.ScheduleNames {
		sc := in.Targets.Schedules[name]
		s := Schedule{Name: name, Expression: sc.Expression, NextTick: sc.Next(in.Now).UTC()}
		if run, ok := last[name]; ok {
			s.LastRun = lastRun(run, in.DeadLetters[run.ID], in.Now)
			lr := s.LastRun
			if lr.Failed > 0 {
				add("cronless runs show "+lr.ID+stage, "schedule %s: %d of run %s's targets failed", name, lr.Failed, lr.ID)
			}
			if lr.Draining && in.Now.Sub(lr.ScheduledAt) > stale {
				add("cronless runs show "+lr.ID+stage, "schedule %s: run %s still draining after %s (%d jobs in flight; expected within %s)",
					name, lr.ID, Round(in.Now.Sub(lr.ScheduledAt)), lr.InFlight, stale)
			}
		}
		r.Schedules = append(r.Schedules, s)
	}

	for _, q := range in.Queues {
		if q.AgeKnown {
			secs := q.OldestAge.Seconds()
			q.OldestAgeSeconds = &secs
		}
		r.Queues = append(r.Queues, q)
		switch n := q.Total(); {
		case q.Role == RoleTargetsDLQ && n > 0:
			add("cronless dlq list --queue targets"+stage, "%s in %s (jobs the workers gave up on)", plural(n, "dead letter"), q.Name)
		case q.Role == RoleResultsDLQ && n > 0:
			add("cronless dlq list --queue results"+stage, "%s in %s (results that could not be stored)", plural(n, "dead letter"), q.Name)
		case q.Role == RolePlannerFailures && n > 0:
			add("cronless dlq list --queue planner"+stage, "%s in %s (ticks or shard events the planner failed on)", plural(n, "message"), q.Name)
		case !q.DLQ && q.AgeKnown && q.OldestAge > stale:
			add(consumerHint(q.Role, in.Stage), "the oldest message of %s is %s old (more than %s): is it consumed?", q.Name, Round(q.OldestAge), stale)
		}
	}

	for _, a := range in.Alarms {
		what := "alarm " + a.Name + " is in ALARM"
		if a.Description != "" {
			what += ": " + a.Description
		}
		add(alarmNext(a.Name, stage, in.Stage), "%s", what)
	}
	r.Healthy = len(r.Problems) == 0
	return r
}

func lastRun(run store.Run, dead int, now time.Time) *Run {
	lr := &Run{ID: run.ID, ScheduledAt: run.ScheduledAt.UTC(), Planned: run.Planned, OK: run.Succeeded, Failed: run.Failed,
		DeadLettered: dead, InFlight: max(0, run.Planned-run.Done()-dead)}
	lr.Draining = lr.InFlight > 0
	if lr.Draining {
		d := max(0, now.Sub(run.ScheduledAt)).Seconds()
		lr.DrainingSeconds = &d
	} else if !run.LastResultAt.IsZero() {
		d := max(0, run.LastResultAt.Sub(run.ScheduledAt)).Seconds()
		lr.TookSeconds = &d
	}
	return lr
}

// consumerHint is what to look at when a work queue is not drained.
func consumerHint(role, stage string) string {
	if stage == "" {
		return "cronless run (the local pipeline consumes the queues while it runs)"
	}
	fn := map[string]string{RoleTargets: "worker", RoleResults: "results"}[role]
	if fn == "" {
		return ""
	}
	return fmt.Sprintf("cronless logs --function %s --level warn --stage %s (and check the function's SQS event source mapping is enabled)", fn, stage)
}

// alarmNext is the command to run for one of the stage's alarms
// (serverless.yml names them cronless-<stage>-<what>).
func alarmNext(name, stageFlag, stage string) string {
	switch {
	case strings.HasSuffix(name, "-targets-dlq-not-empty"):
		return "cronless dlq list --queue targets" + stageFlag
	case strings.HasSuffix(name, "-results-dlq-not-empty"):
		return "cronless dlq list --queue results" + stageFlag
	case strings.HasSuffix(name, "-planner-failures-not-empty"):
		return "cronless dlq list --queue planner" + stageFlag
	case strings.HasSuffix(name, "-targets-queue-stalled"):
		return "cronless logs --function worker --level warn --stage " + stage
	case strings.HasSuffix(name, "-results-queue-stalled"):
		return "cronless logs --function results --level warn --stage " + stage
	}
	return ""
}

// Round is d for a person: to the second, or the millisecond under one.
func Round(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}

func plural(n int, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %ss", n, one)
}

// SortAlarms orders alarms by name.
func SortAlarms(as []Alarm) { sort.Slice(as, func(i, j int) bool { return as[i].Name < as[j].Name }) }
