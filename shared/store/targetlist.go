package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cronless/cronless/shared/targets"
)

// TargetList is the target list a store holds (cronless targets import)
// and the plan parts of the runs planned from it in shards (docs/scale.md).
// Every adapter keeps these semantics (storetest's TargetList suite):
//
//   - ApplyTargets writes a targets.Change: its puts, then its layouts, then
//     its deletes, then its dropped schedules. Applying it again, whole or
//     after an interruption, ends in the same list, and so does applying
//     the change planned again against what an interruption left: an
//     adapter that reads a target only where its layout places it finishes
//     the deletes an interrupted apply had yet to make (in every later
//     ApplyTargets, an empty change too, before it writes a layout), so
//     that no later layout brings a removed target back;
//   - ShardTargets reads one shard's targets by key (never a scan), in ID
//     order, and ShardTail the last few of them; TargetLayouts,
//     StoredTarget and EachTarget read what ApplyTargets wrote;
//   - PutPlanPart records the part of a run one shard planned once; putting
//     it again keeps the first. Run sums the parts into Planned and appends
//     their targets, shard by shard, after the run's own; Runs sums them
//     too.
type TargetList interface {
	// TargetLayouts returns the layout of every schedule with stored
	// targets, by schedule.
	TargetLayouts(ctx context.Context) (map[string]targets.Layout, error)
	// ShardTargets returns the stored targets of one shard, in ID order.
	ShardTargets(ctx context.Context, sh targets.Shard) ([]targets.Stored, error)
	// ShardTail returns the last n stored targets of one shard (all of them
	// when it holds fewer), in ID order, reading by key: the few the tick's
	// planner plans itself so that every shard sends full batches
	// (docs/scale.md).
	ShardTail(ctx context.Context, sh targets.Shard, n int) ([]targets.Stored, error)
	// StoredTarget returns one stored target, or ErrNotFound.
	StoredTarget(ctx context.Context, id string) (targets.Stored, error)
	// EachTarget calls fn with every stored target, schedule by schedule
	// (by name), shard by shard, in ID order in a shard; an error from fn
	// stops it and is returned.
	EachTarget(ctx context.Context, fn func(targets.Stored) error) error
	// ApplyTargets writes ch, after it has finished what an interrupted
	// ApplyTargets left (an empty ch finishes it too: call it even when
	// the change planned is empty); progress, when not nil, is called with
	// the number of items written so far.
	ApplyTargets(ctx context.Context, ch targets.Change, progress func(written int)) error

	// RecentRuns returns the IDs of schedule's n most recent runs scheduled
	// before before, newest first: the runs a shard reads validators of.
	RecentRuns(ctx context.Context, schedule string, before time.Time, n int) ([]string, error)
	// ShardPrevious returns, for each target of ids (the shard's, in ID
	// order) with a result in one of runIDs (newest first), the validators
	// of its newest one there, ordered by target ID. It reads by key: the
	// shard's range of each run.
	ShardPrevious(ctx context.Context, sh targets.Shard, runIDs []string, ids []string) ([]Validators, error)
	// PutPlanPart records the part of a run's plan one shard planned; a
	// part that exists is kept (created is false).
	PutPlanPart(ctx context.Context, part PlanPart) (created bool, err error)
}

// PlanPart is what one shard of a run planned: how many jobs, and the
// targets they were for, in plan order.
type PlanPart struct {
	RunID   string
	Shard   int
	Planned int
	Targets []string
}

// CheckPlanPart checks what PutPlanPart requires: a run ID, a shard index
// that is not negative, and targets as many as planned, each a non-empty ID
// without a line break. Adapters call it.
func CheckPlanPart(p PlanPart) error {
	switch {
	case p.RunID == "":
		return errors.New("run ID is missing")
	case p.Shard < 0:
		return fmt.Errorf("shard %d is negative", p.Shard)
	case len(p.Targets) != p.Planned:
		return fmt.Errorf("%d targets for a plan part of %d jobs", len(p.Targets), p.Planned)
	}
	for i, id := range p.Targets {
		if id == "" || strings.ContainsAny(id, "\r\n") {
			return fmt.Errorf("target %d: ID %q is empty or holds a line break", i, id)
		}
	}
	return nil
}
