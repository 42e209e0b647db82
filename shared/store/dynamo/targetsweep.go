package dynamo

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/cronless/cronless/shared/store/dynamo/ddb"
	"github.com/cronless/cronless/shared/targets"
)

// A stored target is read only where its schedule's layout places it: the
// partition of its shard, if the shard's bounds hold its ID. An apply that
// lays a schedule out anew, or drops it, is cut short after its puts or its
// layouts, and the items it had not deleted yet (the old copies of moved
// targets, removed targets) or not yet made visible (puts under a shard the
// stored layout bounds otherwise) are read by nothing: not by the next
// import's diff, which therefore never deletes them, and not by the
// planner, until a later layout bounds their shard as it was and they are
// planned again.
//
// So before it writes anything, ApplyTargets records, for each schedule
// whose layout it changes or drops, the shard indexes whose bounds change
// (an item of the partition TLPENDING, keyed by the schedule: the pending
// shards). Last, it sweeps them: it queries each of their partitions by key
// and deletes every item the layout now stored does not place there, then
// deletes the record. The next ApplyTargets, whatever its change (an empty
// one too), first sweeps the shards an interrupted one left recorded,
// against the layouts then stored, before a layout of its own can bound
// them otherwise.
//
// A record holds at most the indexes of two layouts (some 6 bytes each): a
// layout item fits 400 KB up to about 8,000 shards (80 million targets), and
// its record is then under 100 KB.

// beginSweep is what ApplyTargets does before it writes ch: it sweeps the
// shards an interrupted apply left recorded against the layouts stored,
// keeping what ch puts there (its layouts make them visible), and records
// the shards ch changes (next) in their place. It returns the layouts
// stored (when ch changes any, or a record was left) and next.
func (s *Store) beginSweep(ctx context.Context, ch targets.Change, done func(int)) (map[string]targets.Layout, pendingShards, error) {
	left, err := s.pending(ctx)
	if err != nil {
		return nil, nil, err
	}
	var stored map[string]targets.Layout
	if len(left) > 0 || len(ch.Layouts) > 0 || len(ch.Dropped) > 0 {
		if stored, err = s.layoutsBySchedule(ctx); err != nil {
			return nil, nil, err
		}
	}
	if len(left) > 0 {
		if err := s.sweep(ctx, left, stored, putsIn(ch.Put, left), done); err != nil {
			return nil, nil, err
		}
	}
	next := changedShards(stored, ch)
	if len(left) > 0 || len(next) > 0 {
		if err := s.recordPending(ctx, left, next); err != nil {
			return nil, nil, err
		}
	}
	return stored, next, nil
}

// endSweep is what ApplyTargets does once ch is written: it sweeps next
// against the layouts now stored (stored with ch's), then deletes their
// records.
func (s *Store) endSweep(ctx context.Context, ch targets.Change, stored map[string]targets.Layout, next pendingShards, done func(int)) error {
	if len(next) == 0 {
		return nil
	}
	now := maps.Clone(stored)
	maps.Copy(now, ch.Layouts)
	for _, sched := range ch.Dropped {
		delete(now, sched)
	}
	if err := s.sweep(ctx, inOld(next, stored), now, nil, done); err != nil {
		return err
	}
	return s.recordPending(ctx, next, nil)
}

// inOld keeps, of next, the shards the old layouts (stored) had. Only they
// can hold what ch did not put: a shard new to its schedule's layout holds
// ch's puts alone, since beginSweep swept whatever an interrupted apply had
// left there. So a first import, which re-reads nothing, costs no sweep.
func inOld(next pendingShards, stored map[string]targets.Layout) pendingShards {
	out := pendingShards{}
	for sched, idx := range next {
		old := map[int]bool{}
		for _, sh := range stored[sched].Shards {
			old[sh.Index] = true
		}
		var keep []int
		for _, i := range idx {
			if old[i] {
				keep = append(keep, i)
			}
		}
		if len(keep) > 0 {
			out[sched] = keep
		}
	}
	return out
}

// pendingShards are shard indexes of each schedule, by schedule.
type pendingShards map[string][]int

// pending reads the recorded pending shards: a strongly consistent Query
// of TLPENDING (one small item per schedule an apply left unswept).
func (s *Store) pending(ctx context.Context) (pendingShards, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ddb.S(pkPending)},
		ConsistentRead:            aws.Bool(true),
	}
	out := pendingShards{}
	err := s.each(ctx, in, func(it item) (bool, error) {
		var idx []int
		if err := json.Unmarshal([]byte(it.Str(attrPending)), &idx); err != nil {
			return false, fmt.Errorf("pending shards %s: %w", it.KeyString(), err)
		}
		out[it.Str(AttrSK)] = idx
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("pending shards: %w", err)
	}
	return out, nil
}

// changedShards are the shard indexes of each schedule whose bounds ch
// changes from old: of a schedule ch lays out, those that either layout
// lacks or that bound other IDs; of a dropped schedule, all of its old
// ones.
func changedShards(old map[string]targets.Layout, ch targets.Change) pendingShards {
	out := pendingShards{}
	bounds := func(l targets.Layout) map[int]targets.Shard {
		m := make(map[int]targets.Shard, len(l.Shards))
		for _, sh := range l.Shards {
			m[sh.Index] = targets.Shard{Group: sh.Group, From: sh.From, To: sh.To}
		}
		return m
	}
	for sched, l := range ch.Layouts {
		was, is := bounds(old[sched]), bounds(l)
		var idx []int
		for i, b := range was {
			if nb, ok := is[i]; !ok || nb != b {
				idx = append(idx, i)
			}
		}
		for i := range is {
			if _, ok := was[i]; !ok {
				idx = append(idx, i)
			}
		}
		if len(idx) > 0 {
			slices.Sort(idx)
			out[sched] = idx
		}
	}
	for _, sched := range ch.Dropped {
		if l, ok := old[sched]; ok && len(l.Shards) > 0 {
			out[sched] = slices.Sorted(maps.Keys(bounds(l)))
		}
	}
	return out
}

// recordPending makes the stored records next: a put of each of its
// schedules' (a whole item), a delete of each other one of was's.
func (s *Store) recordPending(ctx context.Context, was, next pendingShards) error {
	var reqs []types.WriteRequest
	for _, sched := range slices.Sorted(maps.Keys(next)) {
		text, err := jsonText(next[sched])
		if err != nil {
			return fmt.Errorf("pending shards of schedule %q: %w", sched, err)
		}
		it := ddb.Key(pkPending, sched)
		it[attrPending] = ddb.S(text)
		reqs = append(reqs, ddb.Put(it))
	}
	for _, sched := range slices.Sorted(maps.Keys(was)) {
		if _, ok := next[sched]; !ok {
			reqs = append(reqs, ddb.Delete(ddb.Key(pkPending, sched)))
		}
	}
	if err := ddb.BatchWriteRequests(ctx, s.db, s.table, s.retry, reqs); err != nil {
		return fmt.Errorf("record pending shards: %w", err)
	}
	return nil
}

// sweep deletes, from the partition of each shard of shards, every item
// that layouts does not place there and keep (when not nil) does not name:
// a Query of each partition by key (its keys only), applyParallelism at
// once, and a BatchWriteItem of each 25 items to delete. done is called
// with how many it deleted.
func (s *Store) sweep(ctx context.Context, shards pendingShards, layouts map[string]targets.Layout, keep func(schedule string, shard int, id string) bool, done func(int)) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(applyParallelism)
	for sched, idx := range shards {
		bounds := make(map[int]targets.Shard, len(layouts[sched].Shards))
		for _, sh := range layouts[sched].Shards {
			bounds[sh.Index] = sh
		}
		for _, i := range idx {
			sh, laid := bounds[i]
			g.Go(func() error {
				in := &dynamodb.QueryInput{
					TableName:                 aws.String(s.table),
					KeyConditionExpression:    aws.String("#pk = :pk"),
					ProjectionExpression:      aws.String("#pk, #sk"),
					ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#sk": AttrSK},
					ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ddb.S(targetListPK(sched, i))},
					ConsistentRead:            aws.Bool(true),
				}
				var stale []types.WriteRequest
				flush := func() error {
					if err := ddb.BatchWriteRequests(gctx, s.db, s.table, s.retry, stale); err != nil {
						return err
					}
					done(len(stale))
					stale = nil
					return nil
				}
				err := s.each(gctx, in, func(it item) (bool, error) {
					id := strings.TrimPrefix(it.Str(AttrSK), prefixTarget)
					if laid && sh.Holds(id) || keep != nil && keep(sched, i, id) {
						return true, nil
					}
					stale = append(stale, ddb.Delete(it.Key()))
					if len(stale) < batchWriteSize {
						return true, nil
					}
					return true, flush()
				})
				if err == nil && len(stale) > 0 {
					err = flush()
				}
				if err != nil {
					return fmt.Errorf("sweep shard %d of schedule %q: %w", i, sched, err)
				}
				return nil
			})
		}
	}
	return g.Wait()
}

// putsIn reports whether puts put a target under a key of one of shards'
// partitions: the items a sweep before the puts keeps.
func putsIn(puts []targets.Stored, shards pendingShards) func(schedule string, shard int, id string) bool {
	type part struct {
		schedule string
		shard    int
	}
	swept := map[part]bool{}
	for sched, idx := range shards {
		for _, i := range idx {
			swept[part{sched, i}] = true
		}
	}
	ids := map[part][]string{}
	for _, st := range puts {
		if p := (part{st.Schedule, st.Shard}); swept[p] {
			ids[p] = append(ids[p], st.ID)
		}
	}
	for _, v := range ids {
		slices.Sort(v)
	}
	return func(schedule string, shard int, id string) bool {
		_, found := slices.BinarySearch(ids[part{schedule, shard}], id)
		return found
	}
}
