package dynamo

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo/ddb"
	"github.com/cronless/cronless/shared/targets"
)

// The stored target list (docs/aws.md, "Table"): a target is an item of its
// shard's partition, TL#<schedule>#<shard index>, keyed T#<target ID>, so a
// shard is one Query by key and the shards of a tick, planned at once, read
// as many partition keys. Its schedule and shard are its PK's and its ID its
// SK's; the item holds only the entry's own settings and its rank, some 100
// bytes. A schedule's layout (its shards' bounds) is one item of the
// partition TLAYOUT, read once per tick (a shard's event carries its shard).
// Items and their codecs: targetitems.go; ApplyTargets: targetapply.go;
// RecentRuns and ShardPrevious: shardprevious.go.

var _ store.TargetList = (*Store)(nil)

// TargetLayouts returns the layout of every schedule with stored targets:
// a strongly consistent Query of TLAYOUT (one item per schedule).
func (s *Store) TargetLayouts(ctx context.Context) (map[string]targets.Layout, error) {
	out, err := s.layoutsBySchedule(ctx)
	if err != nil {
		return nil, fmt.Errorf("dynamo: target layouts: %w", err)
	}
	return out, nil
}

// layoutsBySchedule returns the stored layouts in a map by schedule.
func (s *Store) layoutsBySchedule(ctx context.Context) (map[string]targets.Layout, error) {
	ls, err := s.layouts(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]targets.Layout, len(ls))
	for _, l := range ls {
		out[l.Schedule] = l
	}
	return out, nil
}

// layouts returns the stored layouts by schedule name.
func (s *Store) layouts(ctx context.Context) ([]targets.Layout, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ddb.S(pkLayouts)},
		ConsistentRead:            aws.Bool(true),
	}
	return query(ctx, s, in, 0, decodeLayout)
}

// ShardTargets returns the stored targets of one shard in ID order: a
// Query of its partition, eventually consistent (the planner's read, every
// tick: half the read units; a target imported a moment before the tick
// may be planned at the next). Only the targets the shard holds by its
// bounds are returned: an import that was interrupted, or is under way,
// may have left a moved target under its old shard's key as well.
func (s *Store) ShardTargets(ctx context.Context, sh targets.Shard) ([]targets.Stored, error) {
	out, err := s.shardTargets(ctx, sh, false)
	if err != nil {
		return nil, fmt.Errorf("dynamo: targets of shard %d of schedule %q: %w", sh.Index, sh.Schedule, err)
	}
	return out, nil
}

func (s *Store) shardTargets(ctx context.Context, sh targets.Shard, consistent bool) ([]targets.Stored, error) {
	if err := checkSchedule(sh.Schedule); err != nil {
		return nil, err
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ddb.S(targetListPK(sh.Schedule, sh.Index))},
		ConsistentRead:            aws.Bool(consistent),
	}
	out := []targets.Stored{}
	err := s.each(ctx, in, func(it item) (bool, error) {
		st, err := decodeStored(it)
		if err == nil && sh.Holds(st.ID) {
			out = append(out, st)
		}
		return true, err
	})
	return out, err
}

// ShardTail returns the last n stored targets of one shard in ID order: a
// query of the shard's partition backwards (ScanIndexForward false: the
// sort key in descending order, DynamoDB API Reference, Query), a page of
// n items (more only when some are not the shard's).
func (s *Store) ShardTail(ctx context.Context, sh targets.Shard, n int) ([]targets.Stored, error) {
	out := []targets.Stored{}
	if n <= 0 {
		return out, nil
	}
	if err := checkSchedule(sh.Schedule); err != nil {
		return nil, fmt.Errorf("dynamo: last %d targets of shard %d: %w", n, sh.Index, err)
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ddb.S(targetListPK(sh.Schedule, sh.Index))},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(int32(min(n, 1000))),
	}
	err := s.each(ctx, in, func(it item) (bool, error) {
		st, err := decodeStored(it)
		if err == nil && sh.Holds(st.ID) {
			out = append(out, st)
		}
		return len(out) < n, err
	})
	if err != nil {
		return nil, fmt.Errorf("dynamo: last %d targets of shard %d of schedule %q: %w", n, sh.Index, sh.Schedule, err)
	}
	slices.Reverse(out)
	return out, nil
}

// StoredTarget returns one stored target, or an error wrapping
// store.ErrNotFound: the layouts say which shard holds its ID (in each
// schedule), and a GetItem reads it there.
func (s *Store) StoredTarget(ctx context.Context, id string) (targets.Stored, error) {
	st, err := s.storedTarget(ctx, id)
	if err != nil {
		return targets.Stored{}, fmt.Errorf("dynamo: stored target %q: %w", id, err)
	}
	return st, nil
}

func (s *Store) storedTarget(ctx context.Context, id string) (targets.Stored, error) {
	ls, err := s.layouts(ctx)
	if err != nil {
		return targets.Stored{}, err
	}
	for _, l := range ls {
		i := l.ShardOf(id)
		if i < 0 {
			continue
		}
		it, found, err := s.getItem(ctx, ddb.Key(targetListPK(l.Schedule, i), targetPK(id)))
		if err != nil {
			return targets.Stored{}, err
		}
		if found {
			return decodeStored(it)
		}
	}
	return targets.Stored{}, store.ErrNotFound
}

// EachTarget calls fn with every stored target, schedule by schedule (by
// name), shard by shard (by index), in ID order in a shard: a strongly
// consistent Query of each shard's partition, so that an import computes
// its change from the list as it is.
func (s *Store) EachTarget(ctx context.Context, fn func(targets.Stored) error) error {
	ls, err := s.layouts(ctx)
	if err != nil {
		return fmt.Errorf("dynamo: stored targets: %w", err)
	}
	for _, l := range ls {
		shards := slices.Clone(l.Shards)
		slices.SortFunc(shards, func(a, b targets.Shard) int { return cmp.Compare(a.Index, b.Index) })
		for _, sh := range shards {
			sts, err := s.shardTargets(ctx, sh, true)
			if err != nil {
				return fmt.Errorf("dynamo: stored targets: shard %d of schedule %q: %w", sh.Index, sh.Schedule, err)
			}
			for _, st := range sts {
				if err := fn(st); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
