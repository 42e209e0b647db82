package dynamo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"golang.org/x/sync/errgroup"

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
// partition TLAYOUT, read once per tick and per shard.

// RecentRuns returns the IDs of schedule's n most recent runs scheduled
// before before, newest first: GSI1 RUNS newest first, filtered on the
// schedule. The Query reads pages of a few times n entries, not the
// default megabyte, so that a stage of many schedules and a long history
// pays for the runs it looks through, not for a page of them.
func (s *Store) RecentRuns(ctx context.Context, schedule string, before time.Time, n int) ([]string, error) {
	if n <= 0 {
		return []string{}, nil
	}
	in := filtered(gsi1(gsiRuns), attrSchedule, ddb.S(schedule))
	in.TableName = aws.String(s.table)
	in.KeyConditionExpression = aws.String("#gpk = :gpk AND #gsk < :before")
	in.ExpressionAttributeNames["#gsk"] = AttrGSI1SK
	in.ExpressionAttributeValues[":before"] = ddb.S(ddb.TimeString(before))
	in.ScanIndexForward = aws.Bool(false)
	in.Limit = aws.Int32(int32(min(max(4*n, 16), 1000)))
	ids, err := query(ctx, s, in, n, func(it item) (string, error) { return it.Str(attrRunID), nil })
	if err != nil {
		return nil, fmt.Errorf("dynamo: recent runs of schedule %q: %w", schedule, err)
	}
	return ids, nil
}

// ShardPrevious returns, for each of ids (the shard's targets) with a
// result in one of runIDs (newest first), the validators of its result in
// the newest of them, ordered by target ID.
//
// A run's results are in GSI1 under RUN#<run>#<group>, the group the
// targets' (targets.Group is the results' run shard), sorted by T#<target>:
// the shard's results of a run are one key range of one partition (of each
// of them for a small schedule's single shard), read eventually consistent.
// An older run is read only for the targets the newer ones have no result
// of, and only over their range.
func (s *Store) ShardPrevious(ctx context.Context, sh targets.Shard, runIDs []string, ids []string) ([]store.Validators, error) {
	vs, err := s.shardPrevious(ctx, sh, runIDs, ids)
	if err != nil {
		return nil, fmt.Errorf("dynamo: previous results of shard %d of schedule %q: %w", sh.Index, sh.Schedule, err)
	}
	return vs, nil
}

func (s *Store) shardPrevious(ctx context.Context, sh targets.Shard, runIDs []string, ids []string) ([]store.Validators, error) {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	groups := []int{sh.Group}
	if sh.Group == targets.AllGroups {
		groups = make([]int, RunShards)
		for g := range groups {
			groups[g] = g
		}
	}
	found := make(map[string]store.Validators, len(ids))
	var mu sync.Mutex
	for _, runID := range runIDs {
		if len(found) == len(want) {
			break
		}
		// The range of the targets still without validators: the shard's
		// bounds for the newest run.
		lo, hi, toExcl := sh.From, sh.To, sh.To != ""
		if len(found) > 0 {
			lo, hi, toExcl = "", "", false
			for id := range want {
				if _, ok := found[id]; ok {
					continue
				}
				if lo == "" || id < lo {
					lo = id
				}
				hi = max(hi, id)
			}
		}
		loKey, hiKey := prefixTarget+lo, prefixTarget+hi
		if hi == "" {
			hiKey = prefixTargetEnd
		}
		var fromRun []store.Validators
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(readParallelism)
		for _, group := range groups {
			g.Go(func() error {
				in := gsi1(runShardPK(runID, group))
				in.TableName = aws.String(s.table)
				in.KeyConditionExpression = aws.String("#gpk = :gpk AND #gsk BETWEEN :lo AND :hi")
				in.ExpressionAttributeNames["#gsk"] = AttrGSI1SK
				in.ExpressionAttributeValues[":lo"], in.ExpressionAttributeValues[":hi"] = ddb.S(loKey), ddb.S(hiKey)
				return s.each(gctx, in, func(it item) (bool, error) {
					if toExcl && it.Str(AttrGSI1SK) == hiKey {
						return false, nil // To is the next shard's
					}
					v, err := decodeValidators(it)
					if err != nil || !want[v.TargetID] {
						return true, err
					}
					mu.Lock()
					defer mu.Unlock()
					fromRun = append(fromRun, v)
					return true, nil
				})
			})
		}
		if err := g.Wait(); err != nil {
			return nil, fmt.Errorf("run %q: %w", runID, err)
		}
		for _, v := range fromRun {
			if _, newer := found[v.TargetID]; !newer {
				found[v.TargetID] = v
			}
		}
	}
	out := make([]store.Validators, 0, len(found))
	for _, v := range found {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b store.Validators) int { return strings.Compare(a.TargetID, b.TargetID) })
	return out, nil
}
