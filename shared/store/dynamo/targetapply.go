package dynamo

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/cronless/cronless/shared/store/dynamo/ddb"
	"github.com/cronless/cronless/shared/targets"
)

// applyParallelism is how many BatchWriteItem calls ApplyTargets makes at
// once: 8 × 25 items.
const applyParallelism = 8

// The stored target list (docs/aws.md, "Table"): a target is an item of its
// shard's partition, TL#<schedule>#<shard index>, keyed T#<target ID>, so a
// shard is one Query by key and the shards of a tick, planned at once, read
// as many partition keys. Its schedule and shard are its PK's and its ID its
// SK's; the item holds only the entry's own settings and its rank, some 100
// bytes. A schedule's layout (its shards' bounds) is one item of the
// partition TLAYOUT, read once per tick and per shard.

// ApplyTargets writes ch with BatchWriteItem (25 items a call, applyParallelism
// calls at once): the targets to put, then the changed layouts, then the
// targets to delete, then the layouts of dropped schedules, each phase
// after the one before has been written whole, so a planner reading
// meanwhile finds every target of a new layout stored, and a dropped
// schedule's targets are gone before its layout. Every write is a put or a
// delete of a whole item, so applying ch again, whole or after an
// interruption, ends in the same list.
//
// Around those phases it keeps the shards whose bounds ch changes clean
// (targetsweep.go): it first sweeps what an interrupted apply left
// recorded (an empty ch too), then records ch's, and sweeps them last.
// That costs a Query of TLPENDING (1 RRU) on every apply and of TLAYOUT
// when ch changes layouts or a record is left; the sweep reads each changed
// shard's partition once (some 85 B a target: a shard of 10,000 about 210
// RRU, strongly consistent) and writes 1 WRU per item it deletes (none
// unless an apply was cut short) and per record put or deleted. A change
// that keeps every layout's bounds, such as one that adds or removes a few
// targets, sweeps nothing.
//
// progress, when not nil, is called (never concurrently) with the items
// written so far: the change's, and those a sweep deleted.
func (s *Store) ApplyTargets(ctx context.Context, ch targets.Change, progress func(written int)) error {
	if err := s.applyTargets(ctx, ch, progress); err != nil {
		return fmt.Errorf("dynamo: apply a target list change: %w", err)
	}
	return nil
}

func (s *Store) applyTargets(ctx context.Context, ch targets.Change, progress func(int)) error {
	// Everything is checked before anything is written. The target items
	// are made chunk by chunk as they are written, so that a million-target
	// import holds no second copy of its change.
	for _, st := range ch.Put {
		if err := checkStored(st); err != nil {
			return err
		}
	}
	layouts := make([]types.WriteRequest, 0, len(ch.Layouts))
	for _, sched := range slices.Sorted(maps.Keys(ch.Layouts)) {
		l := ch.Layouts[sched]
		if l.Schedule != sched {
			return fmt.Errorf("the layout of schedule %q says schedule %q", sched, l.Schedule)
		}
		if err := checkSchedule(sched); err != nil {
			return err
		}
		it, err := layoutItem(l)
		if err != nil {
			return err
		}
		layouts = append(layouts, ddb.Put(it))
	}
	// A key to delete that is put too is the target's new item: keep it.
	// No key is deleted twice (BatchWriteItem refuses a call that names a
	// key twice).
	delAt := make(map[string]int, len(ch.Delete))
	for i, st := range ch.Delete {
		if err := checkStored(st); err != nil {
			return err
		}
		if _, dup := delAt[storedKey(st)]; !dup {
			delAt[storedKey(st)] = i
		}
	}
	if len(delAt) > 0 {
		for _, st := range ch.Put {
			delete(delAt, storedKey(st))
		}
	}
	del := make([]types.WriteRequest, 0, len(delAt))
	for i, st := range ch.Delete {
		if j, ok := delAt[storedKey(st)]; ok && j == i {
			del = append(del, ddb.Delete(ddb.Key(targetListPK(st.Schedule, st.Shard), targetPK(st.ID))))
		}
	}
	dropped := make([]types.WriteRequest, 0, len(ch.Dropped))
	for _, sched := range ch.Dropped {
		if _, kept := ch.Layouts[sched]; kept {
			return fmt.Errorf("schedule %q is both dropped and laid out", sched)
		}
		dropped = append(dropped, ddb.Delete(ddb.Key(pkLayouts, sched)))
	}

	var (
		mu      sync.Mutex
		written int
	)
	done := func(n int) {
		mu.Lock()
		defer mu.Unlock()
		written += n
		if progress != nil {
			progress(written)
		}
	}

	stored, next, err := s.beginSweep(ctx, ch, done)
	if err != nil {
		return err
	}
	putChunk := func(start, end int) ([]types.WriteRequest, error) {
		reqs := make([]types.WriteRequest, 0, end-start)
		for _, st := range ch.Put[start:end] {
			it, err := storedItem(st)
			if err != nil {
				return nil, err
			}
			reqs = append(reqs, ddb.Put(it))
		}
		return reqs, nil
	}
	fixed := func(reqs []types.WriteRequest) func(start, end int) ([]types.WriteRequest, error) {
		return func(start, end int) ([]types.WriteRequest, error) { return reqs[start:end], nil }
	}
	phases := []struct {
		n     int
		chunk func(start, end int) ([]types.WriteRequest, error)
	}{{len(ch.Put), putChunk}, {len(layouts), fixed(layouts)}, {len(del), fixed(del)}, {len(dropped), fixed(dropped)}}
	for _, phase := range phases {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(applyParallelism)
		for start := 0; start < phase.n; start += batchWriteSize {
			g.Go(func() error {
				reqs, err := phase.chunk(start, min(start+batchWriteSize, phase.n))
				if err != nil {
					return err
				}
				if err := ddb.BatchWriteRequests(gctx, s.db, s.table, s.retry, reqs); err != nil {
					return err
				}
				done(len(reqs))
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}

	return s.endSweep(ctx, ch, stored, next, done)
}

// batchWriteSize is the most items a BatchWriteItem call takes.
const batchWriteSize = 25
