package local_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/local"
	"github.com/cronless/cronless/shared/planner"
	"github.com/cronless/cronless/shared/schedule"
	"github.com/cronless/cronless/shared/targets"
)

// fakeClock is a clock whose waits end at once, moving the clock forward
// by what was waited for.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(max(d, 0))
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

func mustSchedule(t *testing.T, name, expr, zone string) targets.Schedule {
	t.Helper()
	e, err := schedule.Parse(expr)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	return targets.Schedule{Name: name, Expression: expr, Expr: e, Timezone: zone, Location: loc}
}

// ticks collects the ticks fired, and cancels the scheduler's context after
// the n-th.
type ticks struct {
	mu     sync.Mutex
	got    []planner.Tick
	n      int
	cancel context.CancelFunc
	fail   func(i int) error // the error of the i-th tick (0-based)
}

func (tk *ticks) fire(_ context.Context, tick planner.Tick) error {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	i := len(tk.got)
	tk.got = append(tk.got, tick)
	if len(tk.got) == tk.n {
		tk.cancel()
	}
	if tk.fail != nil {
		return tk.fail(i)
	}
	return nil
}

func (tk *ticks) all() []planner.Tick {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	return slices.Clone(tk.got)
}

// runScheduler runs s and fails the test when Run does not return within limit.
func runScheduler(t *testing.T, ctx context.Context, s *local.Scheduler, limit time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(limit):
		t.Fatalf("Run did not return within %v", limit)
	}
}

func TestSchedulerFiresOnMinuteBoundaries(t *testing.T) {
	// 50ms before 10:00 in Paris, which is 09:00 UTC.
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: time.Date(2026, 11, 27, 9, 59, 59, 950_000_000, paris)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tk := &ticks{n: 4, cancel: cancel, fail: func(i int) error {
		if i == 1 {
			return errors.New("planner unavailable")
		}
		return nil
	}}
	s := &local.Scheduler{
		Schedules: []targets.Schedule{mustSchedule(t, "every-minute", "rate(1 minute)", "UTC")},
		Fire:      tk.fire, Now: clock.Now, After: clock.After,
	}
	runScheduler(t, ctx, s, 5*time.Second)

	want := []planner.Tick{
		{Schedule: "every-minute", ScheduledTime: "2026-11-27T09:00:00Z"},
		{Schedule: "every-minute", ScheduledTime: "2026-11-27T09:01:00Z"}, // fails
		{Schedule: "every-minute", ScheduledTime: "2026-11-27T09:02:00Z"},
		{Schedule: "every-minute", ScheduledTime: "2026-11-27T09:03:00Z"},
	}
	if got := tk.all(); !slices.Equal(got, want) {
		t.Errorf("ticks = %v, want %v (a failed tick does not stop the next; none after cancel)", got, want)
	}
	// It waited until each time, on the clock it was given.
	clock.mu.Lock()
	defer clock.mu.Unlock()
	if w := clock.waits; len(w) < 4 || w[0] != 50*time.Millisecond || w[1] != time.Minute || w[2] != time.Minute || w[3] != time.Minute {
		t.Errorf("waits = %v, want 50ms then a minute each", w)
	}
}

func TestSchedulerEachScheduleInItsZone(t *testing.T) {
	// Just after midnight UTC on a winter day: 09:00 in Paris is 08:00 UTC,
	// 09:00 in New York is 14:00 UTC.
	// The clock stands still and every wait ends at once: the schedules
	// share it, so none may move it for the other.
	now := time.Date(2026, 11, 27, 0, 0, 1, 0, time.UTC)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu  sync.Mutex
		got = map[string][]string{}
	)
	fire := func(_ context.Context, tick planner.Tick) error {
		mu.Lock()
		defer mu.Unlock()
		got[tick.Schedule] = append(got[tick.Schedule], tick.ScheduledTime)
		if len(got["paris"]) >= 2 && len(got["new-york"]) >= 2 {
			cancel()
		}
		return nil
	}
	s := &local.Scheduler{
		Schedules: []targets.Schedule{
			mustSchedule(t, "paris", "cron(0 9 * * ? *)", "Europe/Paris"),
			mustSchedule(t, "new-york", "cron(0 9 * * ? *)", "America/New_York"),
		},
		Fire: fire,
		Now:  func() time.Time { return now },
		After: func(time.Duration) <-chan time.Time {
			ch := make(chan time.Time, 1)
			ch <- now
			return ch
		},
	}
	runScheduler(t, ctx, s, 5*time.Second)
	mu.Lock()
	defer mu.Unlock()
	if p := got["paris"]; len(p) < 2 || p[0] != "2026-11-27T08:00:00Z" || p[1] != "2026-11-28T08:00:00Z" {
		t.Errorf("paris fired at %v, want 2026-11-27T08:00:00Z, 2026-11-28T08:00:00Z, ...", p)
	}
	if ny := got["new-york"]; len(ny) < 2 || ny[0] != "2026-11-27T14:00:00Z" || ny[1] != "2026-11-28T14:00:00Z" {
		t.Errorf("new-york fired at %v, want 2026-11-27T14:00:00Z, 2026-11-28T14:00:00Z, ...", ny)
	}
}

func TestSchedulerOneTimeScheduleEnds(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)}
	var got []planner.Tick
	s := &local.Scheduler{
		Schedules: []targets.Schedule{mustSchedule(t, "once", "at(2026-11-27T09:30:00)", "UTC")},
		Fire: func(_ context.Context, tick planner.Tick) error {
			got = append(got, tick)
			return nil
		},
		Now: clock.Now, After: clock.After,
	}
	// No cancel: Run returns by itself once no schedule has a time left.
	runScheduler(t, context.Background(), s, 5*time.Second)
	if want := []planner.Tick{{Schedule: "once", ScheduledTime: "2026-11-27T09:30:00Z"}}; !slices.Equal(got, want) {
		t.Errorf("ticks = %v, want %v", got, want)
	}
}

// With the default (real) waiting, a clock 50ms before a minute boundary
// fires that minute's tick about 50ms later, and the next one is a minute
// away: cancelling the context stops the wait.
func TestSchedulerRealWait(t *testing.T) {
	base := time.Date(2026, 11, 27, 8, 59, 59, 950_000_000, time.UTC)
	start := time.Now()
	now := func() time.Time { return base.Add(time.Since(start)) }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fired := make(chan planner.Tick, 10)
	s := &local.Scheduler{
		Schedules: []targets.Schedule{mustSchedule(t, "every-minute", "rate(1 minute)", "UTC")},
		Fire: func(_ context.Context, tick planner.Tick) error {
			fired <- tick
			return nil
		},
		Now: now,
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case tick := <-fired:
		if elapsed := time.Since(start); elapsed < 40*time.Millisecond {
			t.Errorf("tick fired %v after start, want about 50ms (not early)", elapsed)
		}
		if want := (planner.Tick{Schedule: "every-minute", ScheduledTime: "2026-11-27T09:00:00Z"}); tick != want {
			t.Errorf("tick = %+v, want %+v", tick, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no tick within 5s of a clock 50ms before the minute")
	}
	select {
	case tick := <-fired:
		t.Errorf("second tick %+v fired at once; the next is a minute away", tick)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	if len(fired) != 0 {
		t.Errorf("%d ticks fired after cancel", len(fired))
	}
}

func TestNewTickIsSchedulerPayload(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "events", "schedule.json"))
	if err != nil {
		t.Fatal(err)
	}
	var golden map[string]any
	if err := json.Unmarshal(data, &golden); err != nil {
		t.Fatal(err)
	}
	at, err := time.Parse(time.RFC3339, golden["scheduled_time"].(string))
	if err != nil {
		t.Fatal(err)
	}
	// The same instant seen from another zone still goes out in UTC.
	tick := local.NewTick(golden["schedule"].(string), at.In(time.FixedZone("UTC+5:30", 5*3600+1800)))
	out, err := json.Marshal(tick)
	if err != nil {
		t.Fatal(err)
	}
	var ours map[string]any
	if err := json.Unmarshal(out, &ours); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(ours, golden) {
		t.Errorf("NewTick payload = %s, want %s", out, data)
	}
	// And the planner accepts it as it accepts Scheduler's.
	var back planner.Tick
	if err := json.Unmarshal(out, &back); err != nil || back != tick {
		t.Errorf("planner decodes %s as %+v, %v", out, back, err)
	}
}

// A tick whose Fire outlasts several periods (or a machine that slept) does
// not make the scheduler fire the missed times back to back: it goes on
// from now, as EventBridge Scheduler does.
func TestSchedulerSkipsMissedTimes(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 11, 27, 8, 59, 30, 0, time.UTC)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tk := &ticks{n: 2, cancel: cancel, fail: func(i int) error {
		if i == 0 {
			clock.After(5*time.Minute + 10*time.Second) // the first Fire takes 5m10s
		}
		return nil
	}}
	s := &local.Scheduler{
		Schedules: []targets.Schedule{mustSchedule(t, "every-minute", "rate(1 minute)", "UTC")},
		Fire:      tk.fire, Now: clock.Now, After: clock.After,
	}
	runScheduler(t, ctx, s, 5*time.Second)
	got := tk.all()
	if len(got) != 2 || got[0].ScheduledTime != "2026-11-27T09:00:00Z" || got[1].ScheduledTime != "2026-11-27T09:06:00Z" {
		t.Fatalf("ticks %+v, want 09:00 then 09:06 (the times missed during the slow Fire are skipped)", got)
	}
}
