package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
)

// testPrevious: the planner's read of the validators of a schedule's
// targets comes from the schedule's most recent runs before the tick, each
// target's newest result there, and nothing of other schedules or of the
// tick itself.
func testPrevious(t *testing.T, newStore func(t *testing.T) store.Store) {
	s := newStore(t)
	plan := func(i int, schedule string, ids ...string) {
		id := job.RunID(schedule, tick(i))
		putRun(t, s, store.Run{ID: id, Schedule: schedule, ScheduledAt: tick(i), Planned: len(ids), Targets: ids})
	}
	withValidators := func(r job.Result, etag string) job.Result {
		r.ETag, r.LastModified = etag, "Sat, 01 Mar 2025 10:00:00 GMT"
		return r
	}
	plan(0, "hourly", "a", "b", "c")
	putResult(t, s, withValidators(okResult("a", 0, "A0"), `"a0"`))
	putResult(t, s, okResult("b", 0, "B0"))
	putResult(t, s, withValidators(okResult("c", 0, "C0"), `"c0"`))
	plan(1, "hourly", "a", "b", "c")
	a1 := withValidators(okResult("a", 1, "A1"), `"a1"`)
	putResult(t, s, a1)
	putResult(t, s, failedResult("b", 1)) // c's job of tick 1 is still out
	plan(1, "daily", "d")
	d := okResult("d", 1, "D1")
	d.Schedule, d.RunID = "daily", job.RunID("daily", tick(1))
	putResult(t, s, d)
	plan(2, "hourly", "a", "b", "c")
	putResult(t, s, withValidators(okResult("a", 2, "A2"), `"a2"`))

	v := func(r job.Result) store.Validators {
		return store.Validators{TargetID: r.TargetID, RunID: r.RunID, ScheduledAt: r.ScheduledAt, URL: r.URL, Status: r.Status,
			ETag: r.ETag, LastModified: r.LastModified, ContentHash: r.ContentHash, RulesHash: r.RulesHash}
	}
	b1 := failedResult("b", 1)
	tests := []struct {
		name     string
		schedule string
		before   time.Time
		want     []store.Validators
	}{
		{"the newest run's results, and the older run's where it has none", "hourly", tick(2), []store.Validators{
			v(a1), v(b1), v(withValidators(okResult("c", 0, "C0"), `"c0"`)),
		}},
		{"two runs back at most", "hourly", tick(3), []store.Validators{
			v(withValidators(okResult("a", 2, "A2"), `"a2"`)), v(b1),
		}},
		{"no run before the first", "hourly", tick(0), []store.Validators{}},
		{"another schedule's runs only", "daily", tick(5), []store.Validators{v(d)}},
		{"an unknown schedule", "weekly", tick(5), []store.Validators{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Previous(t.Context(), tt.schedule, tt.before)
			if err != nil {
				t.Fatalf("Previous(%s, %s): %v", tt.schedule, tt.before, err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Previous(%s, %s) = %s, want %s", tt.schedule, tt.before, asJSON(got), asJSON(tt.want))
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if !g.ScheduledAt.Equal(w.ScheduledAt) {
					t.Errorf("Previous[%d].ScheduledAt = %v, want %v", i, g.ScheduledAt, w.ScheduledAt)
				}
				g.ScheduledAt, w.ScheduledAt = time.Time{}, time.Time{}
				if !reflect.DeepEqual(g, w) {
					t.Errorf("Previous(%s, %s)[%d]:\n got %s\nwant %s", tt.schedule, tt.before, i, asJSON(g), asJSON(w))
				}
			}
		})
	}
}
