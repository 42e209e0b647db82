package local

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/cronless/cronless/shared/planner"
	"github.com/cronless/cronless/shared/targets"
)

// TickFunc receives a schedule's tick, as the planner Lambda does.
type TickFunc func(ctx context.Context, tick planner.Tick) error

// NewTick is the payload EventBridge Scheduler delivers for a schedule firing at at.
func NewTick(schedule string, at time.Time) planner.Tick {
	return planner.Tick{Schedule: schedule, ScheduledTime: at.UTC().Format(time.RFC3339)}
}

// Scheduler fires schedules at their times, as EventBridge Scheduler does,
// each in its own time zone, until its context ends.
type Scheduler struct {
	Schedules []targets.Schedule
	Fire      TickFunc
	Log       *zap.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// After waits on that clock, as time.After does (default time.After).
	// Tests give a fake clock both Now and After.
	After func(d time.Duration) <-chan time.Time
}

// Run fires every schedule at each of its times until ctx ends. A tick
// whose Fire fails is logged; the schedule goes on with its next time.
func (s *Scheduler) Run(ctx context.Context) error {
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.After == nil {
		s.After = time.After
	}
	if s.Log == nil {
		s.Log = zap.NewNop()
	}
	var wg sync.WaitGroup
	for _, sc := range s.Schedules {
		wg.Go(func() { s.runOne(ctx, sc) })
	}
	wg.Wait()
	return nil
}

func (s *Scheduler) runOne(ctx context.Context, sc targets.Schedule) {
	after := s.Now()
	for ctx.Err() == nil {
		next := sc.Expr.Next(after, sc.Location)
		if next.IsZero() {
			s.Log.Info("schedule has no more times", zap.String("schedule", sc.Name))
			return
		}
		s.Log.Info("next tick", zap.String("schedule", sc.Name), zap.Time("at", next))
		// Wait on the same clock next came from.
		select {
		case <-ctx.Done():
			return
		case <-s.After(next.Sub(s.Now())):
		}
		if ctx.Err() != nil {
			return
		}
		if err := s.Fire(ctx, NewTick(sc.Name, next)); err != nil {
			s.Log.Error("tick failed", zap.String("schedule", sc.Name), zap.Time("at", next), zap.Error(err))
		}
		// Like EventBridge Scheduler, do not fire a backlog of missed
		// times (after a sleep, or a Fire slower than the period): go on
		// from now.
		after = next
		if now := s.Now(); now.After(after) {
			after = now
		}
	}
}
