package status

import (
	"strings"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/targets"
)

func TestAssess(t *testing.T) {
	tf, err := targets.Parse("targets.yaml", []byte(`schedules:
  hourly: { expression: "rate(1 hour)" }
targets:
  - { id: a, url: "https://example.com/a", schedule: hourly }
`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 10, 30, 0, 0, time.UTC)
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	done := store.Run{ID: "hourly-1", Schedule: "hourly", ScheduledAt: at, Planned: 2, Succeeded: 2, LastResultAt: at.Add(90 * time.Second)}
	for _, c := range []struct {
		name  string
		in    Input
		wants []string // in the problems, in order; none: healthy
	}{
		{"healthy", Input{Runs: []store.Run{done}, Queues: []Queue{{Role: RoleTargets, Name: "t"}}}, nil},
		{"failed targets", Input{Runs: []store.Run{{ID: "hourly-1", Schedule: "hourly", ScheduledAt: at, Planned: 2, Succeeded: 1, Failed: 1}}},
			[]string{"1 of run hourly-1's targets failed → cronless runs show hourly-1"}},
		{"draining, not yet stale", Input{Runs: []store.Run{{ID: "hourly-1", Schedule: "hourly", ScheduledAt: at, Planned: 2}}, Stale: time.Hour}, nil},
		{"draining too long", Input{Runs: []store.Run{{ID: "hourly-1", Schedule: "hourly", ScheduledAt: at, Planned: 2}}},
			[]string{"still draining after 30m0s (2 jobs in flight; expected within 15m0s) → cronless runs show hourly-1"}},
		{"dead letters count as done", Input{Runs: []store.Run{{ID: "hourly-1", Schedule: "hourly", ScheduledAt: at, Planned: 2, Succeeded: 1}},
			DeadLetters: map[string]int{"hourly-1": 1}, Queues: []Queue{{Role: RoleTargetsDLQ, Name: "d", DLQ: true, Visible: 1}}},
			[]string{"1 dead letter in d (jobs the workers gave up on) → cronless dlq list --queue targets"}},
		{"stale queue on a stage", Input{Stage: "prod", Queues: []Queue{{Role: RoleTargets, Name: "t", Visible: 3, OldestAge: time.Hour, AgeKnown: true},
			{Role: RoleResultsDLQ, Name: "r", DLQ: true, Delayed: 2}, {Role: RolePlannerFailures, Name: "p", DLQ: true, Visible: 1}}},
			[]string{"oldest message of t is 1h0m0s old → cronless logs --function worker --level warn --stage prod (and check the function's SQS event source mapping is enabled)",
				"2 dead letters in r → cronless dlq list --queue results --stage prod",
				"1 message in p (ticks or shard events the planner failed on) → cronless dlq list --queue planner --stage prod"}},
		{"planner failures alarm", Input{Stage: "prod", Alarms: []Alarm{{Name: "cronless-prod-planner-failures-not-empty", Description: "not planned"}}},
			[]string{"alarm cronless-prod-planner-failures-not-empty is in ALARM: not planned → cronless dlq list --queue planner --stage prod"}},
		{"alarm", Input{Stage: "prod", Alarms: []Alarm{{Name: "cronless-prod-targets-queue-stalled", Description: "stalled"}}},
			[]string{"alarm cronless-prod-targets-queue-stalled is in ALARM: stalled → cronless logs --function worker --level warn --stage prod"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.in.Now, c.in.Targets = now, tf
			r := Assess(c.in)
			if r.Healthy != (len(c.wants) == 0) || len(r.Problems) != len(c.wants) {
				t.Fatalf("healthy %v, problems %+v; want %d problems", r.Healthy, r.Problems, len(c.wants))
			}
			for i, w := range c.wants {
				what, next, _ := strings.Cut(w, " → ")
				if p := r.Problems[i]; !strings.Contains(p.What, what) || p.Next != next {
					t.Errorf("problem %d: %+v; want %q, next %q", i, p, what, next)
				}
			}
		})
	}
	r := Assess(Input{Now: now, Targets: tf, Runs: []store.Run{done}})
	lr := r.Schedules[0].LastRun
	if lr == nil || lr.Draining || lr.TookSeconds == nil || *lr.TookSeconds != 90 || !r.Schedules[0].NextTick.After(now) || r.Alarms != nil {
		t.Errorf("report %+v, last run %+v; want done in 90 s, a next tick, no alarms locally", r, lr)
	}
}
