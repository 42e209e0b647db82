package dynamo

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo/ddb"
)

// readParallelism is how many queries a read runs at once (a run's
// shards, the targets of Latest).
const readParallelism = 16

// Run returns one run with its targets, or an error wrapping
// store.ErrNotFound. A run that only results have created so far has
// Planned 0.
//
// The run item and its targets item are read by one strongly consistent
// Query of the run's partition (RUN#<runID>); the targets are returned
// when they are as many as the planned count (see PutRun). Its counters and
// result times are derived from its results' GSI1 entries (count).
func (s *Store) Run(ctx context.Context, runID string) (store.Run, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ddb.S(runPK(runID))},
		ConsistentRead:            aws.Bool(true),
	}
	items, err := query(ctx, s, in, 0, func(it item) (item, error) { return it, nil })
	if err != nil {
		return store.Run{}, fmt.Errorf("dynamo: run %q: %w", runID, err)
	}
	var summary, targets item
	for _, it := range items {
		switch it.Str(AttrSK) {
		case skRun:
			summary = it
		case skTargets:
			targets = it
		}
	}
	if summary == nil || summary.Str(attrRunID) == "" {
		// (An item of plan parts alone is not a run until PutRun or a
		// result makes it one.)
		return store.Run{}, fmt.Errorf("dynamo: run %q: %w", runID, store.ErrNotFound)
	}
	run, err := decodeRun(summary)
	if err == nil {
		run.Targets, err = s.runTargets(ctx, run, summary, targets)
	}
	if err == nil {
		err = s.count(ctx, &run)
	}
	if err != nil {
		return store.Run{}, fmt.Errorf("dynamo: run %q: %w", runID, err)
	}
	return run, nil
}

// runTargets returns a run's targets: its own (the targets item), then
// its parts' in shard order, or none when any of them are not as many as
// their planned count: a list with some missing would say that targets
// were not planned. Own targets of another count are another plan's,
// stored by a PutRun that found the run planned (without targets, or by an
// older cronless).
func (s *Store) runTargets(ctx context.Context, run store.Run, summary, targets item) ([]string, error) {
	var own []string
	if targets != nil {
		var err error
		if own, err = decodeTargets(targets); err != nil {
			return nil, err
		}
	}
	shards, err := partShards(summary)
	if err != nil {
		return nil, fmt.Errorf("stored run %s: %w", summary.KeyString(), err)
	}
	ownPlanned := run.Planned
	var parts []part
	if len(shards) > 0 {
		if parts, err = s.readParts(ctx, run.ID, shards); err != nil {
			return nil, fmt.Errorf("plan parts: %w", err)
		}
	}
	for _, p := range parts {
		ownPlanned -= p.planned
	}
	if len(own) != ownPlanned {
		return nil, nil
	}
	for _, p := range parts {
		if !p.whole {
			return nil, nil
		}
		own = append(own, p.targets...)
	}
	return own, nil
}

// Runs returns up to limit runs, newest scheduled first (all when limit <=
// 0), each with its counters (see count) and without its targets: the
// Query of GSI1 RUNS reads run items only. Their planned counts and shards
// are read from the run items themselves (BatchGetItem, 1 read unit a
// run): GSI1 does not project the shards, and its planned count may lag a
// part just added.
func (s *Store) Runs(ctx context.Context, limit int) ([]store.Run, error) {
	in := gsi1(gsiRuns)
	in.TableName = aws.String(s.table)
	in.ScanIndexForward = aws.Bool(false)
	if limit > 0 {
		in.Limit = aws.Int32(int32(min(limit, 1000)))
	}
	runs, err := query(ctx, s, in, limit, decodeRun)
	if err != nil {
		return nil, fmt.Errorf("dynamo: runs: %w", err)
	}
	if err := s.planned(ctx, runs); err != nil {
		return nil, fmt.Errorf("dynamo: runs: %w", err)
	}
	var g errgroup.Group
	g.SetLimit(max(1, readParallelism/RunShards))
	for i := range runs {
		g.Go(func() error {
			if err := s.count(ctx, &runs[i]); err != nil {
				return fmt.Errorf("run %q: %w", runs[i].ID, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("dynamo: runs: %w", err)
	}
	return runs, nil
}

// planned fills in the planned counts and shards of runs from their run
// items.
func (s *Store) planned(ctx context.Context, runs []store.Run) error {
	keys := make([]item, len(runs))
	for i, r := range runs {
		keys[i] = runKey(r.ID)
	}
	its, err := s.batchGet(ctx, keys, "#pk, #sk, #pl, #sh, #ps",
		map[string]string{"#pk": AttrPK, "#sk": AttrSK, "#pl": attrPlanned, "#sh": attrShards, "#ps": attrPartShards})
	if err != nil {
		return err
	}
	byPK := make(map[string]item, len(its))
	for _, it := range its {
		byPK[it.Str(AttrPK)] = it
	}
	for i := range runs {
		it, ok := byPK[runPK(runs[i].ID)]
		if !ok {
			continue
		}
		n, err := it.Num(attrPlanned)
		if err != nil {
			return fmt.Errorf("run %q: %w", runs[i].ID, err)
		}
		runs[i].Planned = int(n)
		if n, err = it.Num(attrShards); err != nil {
			return fmt.Errorf("run %q: %w", runs[i].ID, err)
		}
		runs[i].Shards = int(n)
		shards, err := partShards(it)
		if err != nil {
			return fmt.Errorf("run %q: %w", runs[i].ID, err)
		}
		runs[i].PlannedShards = len(shards)
	}
	return nil
}

// count fills in a run's counters and result times from its results'
// entries in GSI1 (status and stored_at; some 300 bytes each, so about 0.5
// read units per 25 results), so a duplicate or a crashed write can never
// count twice or not at all.
func (s *Store) count(ctx context.Context, run *store.Run) error {
	var mu sync.Mutex
	run.Succeeded, run.Failed = 0, 0
	run.FirstResultAt, run.LastResultAt = time.Time{}, time.Time{}
	return s.eachOfRun(ctx, run.ID, "", nil, func(it item) error {
		at, err := it.Time(attrStoredAt)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if it.Str(attrStatus) == string(job.StatusOK) {
			run.Succeeded++
		} else {
			run.Failed++
		}
		if !at.IsZero() {
			if run.FirstResultAt.IsZero() || at.Before(run.FirstResultAt) {
				run.FirstResultAt = at
			}
			if at.After(run.LastResultAt) {
				run.LastResultAt = at
			}
		}
		return nil
	})
}

// eachOfRun calls fn (concurrently) with the GSI1 entry of every result of
// a run, by a Query of each of its RunShards partitions, filtered on attr =
// v when attr is not empty (the filtered-out entries are read and paid for
// too).
func (s *Store) eachOfRun(ctx context.Context, runID, attr string, v types.AttributeValue, fn func(item) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(readParallelism)
	for sh := range RunShards {
		g.Go(func() error {
			in := gsi1(runShardPK(runID, sh))
			in.TableName = aws.String(s.table)
			if attr != "" {
				filtered(in, attr, v)
			}
			return s.each(ctx, in, func(it item) (bool, error) { return true, fn(it) })
		})
	}
	return g.Wait()
}

// runResults returns the results of a run whose GSI1 entries have attr = v
// (all when attr is empty), read whole from the table, ordered by target ID.
func (s *Store) runResults(ctx context.Context, runID, attr string, v types.AttributeValue) ([]job.Result, error) {
	var (
		mu   sync.Mutex
		keys []item
	)
	err := s.eachOfRun(ctx, runID, attr, v, func(it item) error {
		mu.Lock()
		defer mu.Unlock()
		keys = append(keys, it.Key())
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.readResults(ctx, keys)
}

// readResults reads result items by key (BatchGetItem), decodes them with
// their fields, and orders them by target ID, then run (time) order.
func (s *Store) readResults(ctx context.Context, keys []item) ([]job.Result, error) {
	its, err := s.batchGet(ctx, keys, "", nil)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(its, func(a, b item) int {
		return cmp.Or(strings.Compare(a.Str(AttrPK), b.Str(AttrPK)), strings.Compare(a.Str(AttrSK), b.Str(AttrSK)))
	})
	return s.decodeResolved(ctx, its)
}

// decodeResolved decodes result items and fills in the fields of those that
// refer to another result's.
func (s *Store) decodeResolved(ctx context.Context, its []item) ([]job.Result, error) {
	rs := make([]job.Result, len(its))
	for i, it := range its {
		r, err := decodeResult(it)
		if err != nil {
			return nil, err
		}
		rs[i] = r
	}
	if err := s.resolve(ctx, its, rs); err != nil {
		return nil, err
	}
	return rs, nil
}

// Result returns one result, or an error wrapping store.ErrNotFound. Its
// key holds its scheduled time, which the run item gives; a result whose
// run item says another time (none should) is found through GSI1.
func (s *Store) Result(ctx context.Context, targetID, runID string) (job.Result, error) {
	r, err := s.result(ctx, targetID, runID)
	if err != nil {
		return job.Result{}, fmt.Errorf("dynamo: result %s/%s: %w", targetID, runID, err)
	}
	return r, nil
}

func (s *Store) result(ctx context.Context, targetID, runID string) (job.Result, error) {
	run, found, err := s.getItem(ctx, runKey(runID))
	if err != nil {
		return job.Result{}, err
	}
	if found {
		at, err := run.Time(attrScheduledAt)
		if err != nil {
			return job.Result{}, err
		}
		it, found, err := s.getItem(ctx, ddb.Key(targetPK(targetID), resultSK(at, runID)))
		if err != nil {
			return job.Result{}, err
		}
		if found {
			rs, err := s.decodeResolved(ctx, []item{it})
			if err != nil {
				return job.Result{}, err
			}
			return rs[0], nil
		}
	}
	in := gsi1(runShardPK(runID, shard(targetID, RunShards)))
	in.TableName = aws.String(s.table)
	in.KeyConditionExpression = aws.String("#gpk = :gpk AND #gsk = :gsk")
	in.ExpressionAttributeNames["#gsk"] = AttrGSI1SK
	in.ExpressionAttributeValues[":gsk"] = ddb.S(targetPK(targetID))
	keys, err := query(ctx, s, in, 1, func(it item) (item, error) { return it.Key(), nil })
	if err != nil {
		return job.Result{}, err
	}
	if len(keys) == 0 {
		return job.Result{}, store.ErrNotFound
	}
	rs, err := s.readResults(ctx, keys)
	if err != nil {
		return job.Result{}, err
	}
	if len(rs) == 0 {
		return job.Result{}, store.ErrNotFound
	}
	return rs[0], nil
}

// Latest returns the latest result of every target, or of targetID when it
// is not empty (none for an unknown target), ordered by target ID: for each
// target of the target list (TARGETS#<shard>), a strongly consistent Query
// of its newest result.
func (s *Store) Latest(ctx context.Context, targetID string) ([]job.Result, error) {
	if targetID != "" {
		rs, err := s.latestOf(ctx, targetID)
		if err != nil {
			return nil, fmt.Errorf("dynamo: latest %q: %w", targetID, err)
		}
		return rs, nil
	}
	ids, err := s.targets(ctx)
	if err != nil {
		return nil, fmt.Errorf("dynamo: latest of every target: %w", err)
	}
	out := make([][]job.Result, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(readParallelism)
	for i, id := range ids {
		g.Go(func() (err error) {
			out[i], err = s.latestOf(gctx, id)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("dynamo: latest of every target: %w", err)
	}
	return slices.Concat(out...), nil
}

// latestOf returns the newest result of a target (none or one).
func (s *Store) latestOf(ctx context.Context, targetID string) ([]job.Result, error) {
	in := targetResults(s.table, targetID)
	in.ScanIndexForward = aws.Bool(false)
	in.Limit = aws.Int32(1)
	its, err := query(ctx, s, in, 1, func(it item) (item, error) { return it, nil })
	if err != nil {
		return nil, err
	}
	return s.decodeResolved(ctx, its)
}

// targetResults is a strongly consistent Query of a target's results, in
// time order.
func targetResults(table, targetID string) *dynamodb.QueryInput {
	return &dynamodb.QueryInput{
		TableName:                aws.String(table),
		KeyConditionExpression:   aws.String("#pk = :pk AND begins_with(#sk, :r)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": ddb.S(targetPK(targetID)), ":r": ddb.S(prefixResult),
		},
		ConsistentRead: aws.Bool(true),
	}
}

// targets returns the IDs of every target with a result, sorted: a Query
// of each TargetShards partition of the target list.
func (s *Store) targets(ctx context.Context) ([]string, error) {
	out := make([][]string, TargetShards)
	g, ctx := errgroup.WithContext(ctx)
	for sh := range TargetShards {
		g.Go(func() (err error) {
			in := &dynamodb.QueryInput{
				TableName:                 aws.String(s.table),
				KeyConditionExpression:    aws.String("#pk = :pk"),
				ExpressionAttributeNames:  map[string]string{"#pk": AttrPK},
				ExpressionAttributeValues: map[string]types.AttributeValue{":pk": ddb.S(fmt.Sprintf("%s%d", prefixTargets, sh))},
			}
			out[sh], err = query(ctx, s, in, 0, func(it item) (string, error) { return it.Str(attrTargetID), nil })
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("target list: %w", err)
	}
	ids := slices.Concat(out...)
	slices.Sort(ids)
	return ids, nil
}

// RunResults returns one run's results ordered by target ID (none for an
// unknown run): its GSI1 entries, then the items (BatchGetItem).
func (s *Store) RunResults(ctx context.Context, runID string) ([]job.Result, error) {
	rs, err := s.runResults(ctx, runID, "", nil)
	if err != nil {
		return nil, fmt.Errorf("dynamo: results of run %q: %w", runID, err)
	}
	return rs, nil
}

// gsi1 queries GSI1 for one partition, in GSI1SK order.
func gsi1(pk string) *dynamodb.QueryInput {
	return &dynamodb.QueryInput{
		IndexName:                 aws.String(IndexGSI1),
		KeyConditionExpression:    aws.String("#gpk = :gpk"),
		ExpressionAttributeNames:  map[string]string{"#gpk": AttrGSI1PK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":gpk": ddb.S(pk)},
	}
}

// filtered adds a filter on one attribute to a query.
func filtered(in *dynamodb.QueryInput, attr string, v types.AttributeValue) *dynamodb.QueryInput {
	in.FilterExpression = aws.String("#f = :f")
	in.ExpressionAttributeNames["#f"] = attr
	in.ExpressionAttributeValues[":f"] = v
	return in
}
