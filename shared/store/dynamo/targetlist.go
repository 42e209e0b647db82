package dynamo

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
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

var _ store.TargetList = (*Store)(nil)

// applyParallelism is how many BatchWriteItem calls ApplyTargets makes at
// once: 8 × 25 items.
const applyParallelism = 8

func targetListPK(schedule string, shard int) string {
	return prefixTargetList + schedule + "#" + strconv.Itoa(shard)
}

// storedItem is the item of a stored target.
func storedItem(st targets.Stored) (item, error) {
	it := ddb.Key(targetListPK(st.Schedule, st.Shard), targetPK(st.ID))
	it.SetS(attrURL, st.URL)
	if st.Rank != 0 {
		it.SetN(attrRank, int64(st.Rank))
	}
	if st.Timeout != 0 {
		it.SetN(attrTimeout, int64(st.Timeout))
	}
	it.SetS(attrUserAgent, st.UserAgent)
	if st.Robots != nil {
		it[attrRobots] = ddb.Bool(*st.Robots)
	}
	it.SetS(attrExtract, st.Extract)
	if len(st.Rules) > 0 {
		text, err := jsonText(st.Rules)
		if err != nil {
			return nil, fmt.Errorf("target %q: extract rules: %w", st.ID, err)
		}
		it.SetS(attrRules, text)
	}
	return it, nil
}

// decodeStored reads a stored target's item.
func decodeStored(it item) (targets.Stored, error) {
	fail := func(err error) (targets.Stored, error) {
		return targets.Stored{}, fmt.Errorf("stored target %s: %w", it.KeyString(), err)
	}
	pk := strings.TrimPrefix(it.Str(AttrPK), prefixTargetList)
	i := strings.LastIndexByte(pk, '#')
	if i < 0 {
		return fail(fmt.Errorf("partition key is not %s<schedule>#<shard>", prefixTargetList))
	}
	shard, err := strconv.Atoi(pk[i+1:])
	if err != nil {
		return fail(fmt.Errorf("shard: %w", err))
	}
	st := targets.Stored{Shard: shard, Entry: targets.Entry{
		ID:        strings.TrimPrefix(it.Str(AttrSK), prefixTarget),
		URL:       it.Str(attrURL),
		Schedule:  pk[:i],
		UserAgent: it.Str(attrUserAgent),
		Extract:   it.Str(attrExtract),
	}}
	rank, err := it.Num(attrRank)
	if err != nil {
		return fail(err)
	}
	st.Rank = int(rank)
	timeout, err := it.Num(attrTimeout)
	if err != nil {
		return fail(err)
	}
	st.Timeout = time.Duration(timeout)
	if v, ok := it[attrRobots].(*types.AttributeValueMemberBOOL); ok {
		st.Robots = &v.Value
	}
	if text := it.Str(attrRules); text != "" {
		if err := json.Unmarshal([]byte(text), &st.Rules); err != nil {
			return fail(fmt.Errorf("extract rules: %w", err))
		}
	}
	return st, nil
}

// layoutShard is a shard as a layout item holds it: short names, since a
// layout is read by every shard of every tick.
type layoutShard struct {
	Index int    `json:"i"`
	Group int    `json:"g"`
	From  string `json:"f,omitempty"`
	To    string `json:"t,omitempty"`
	Count int    `json:"n"`
}

// layoutItem is the item of a schedule's layout.
func layoutItem(l targets.Layout) (item, error) {
	shards := make([]layoutShard, len(l.Shards))
	for i, s := range l.Shards {
		shards[i] = layoutShard{Index: s.Index, Group: s.Group, From: s.From, To: s.To, Count: s.Count}
	}
	text, err := jsonText(shards)
	if err != nil {
		return nil, fmt.Errorf("layout of schedule %q: %w", l.Schedule, err)
	}
	it := ddb.Key(pkLayouts, l.Schedule)
	it[attrLayout] = ddb.S(text)
	return it, nil
}

// decodeLayout reads a layout item.
func decodeLayout(it item) (targets.Layout, error) {
	var shards []layoutShard
	if err := json.Unmarshal([]byte(it.Str(attrLayout)), &shards); err != nil {
		return targets.Layout{}, fmt.Errorf("stored layout %s: %w", it.KeyString(), err)
	}
	l := targets.Layout{Schedule: it.Str(AttrSK), Shards: make([]targets.Shard, len(shards))}
	for i, s := range shards {
		l.Shards[i] = targets.Shard{Schedule: l.Schedule, Index: s.Index, Group: s.Group, From: s.From, To: s.To, Count: s.Count}
	}
	return l, nil
}

// checkSchedule checks a schedule name as a key part: targets.yaml's names
// never hold "#", which ends it in a stored target's partition key.
func checkSchedule(schedule string) error {
	if schedule == "" || strings.Contains(schedule, "#") {
		return fmt.Errorf("schedule %q is empty or holds a \"#\"; use the schedule's name in targets.yaml", schedule)
	}
	return nil
}

// TargetLayouts returns the layout of every schedule with stored targets:
// a strongly consistent Query of TLAYOUT (one item per schedule).
func (s *Store) TargetLayouts(ctx context.Context) (map[string]targets.Layout, error) {
	ls, err := s.layouts(ctx)
	if err != nil {
		return nil, fmt.Errorf("dynamo: target layouts: %w", err)
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

// ApplyTargets writes ch with BatchWriteItem (25 items a call, applyParallelism
// calls at once): the targets to put, then the changed layouts, then the
// targets to delete and the layouts of dropped schedules, each phase after
// the one before has been written whole, so a planner reading meanwhile
// finds every target of a new layout stored. Every write is a put or a
// delete of a whole item, so applying ch again, whole or after an
// interruption, ends in the same list. progress, when not nil, is called
// (never concurrently) with the items written so far.
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
	del := make([]types.WriteRequest, 0, len(delAt)+len(ch.Dropped))
	for i, st := range ch.Delete {
		if j, ok := delAt[storedKey(st)]; ok && j == i {
			del = append(del, ddb.Delete(ddb.Key(targetListPK(st.Schedule, st.Shard), targetPK(st.ID))))
		}
	}
	for _, sched := range ch.Dropped {
		if _, kept := ch.Layouts[sched]; kept {
			return fmt.Errorf("schedule %q is both dropped and laid out", sched)
		}
		del = append(del, ddb.Delete(ddb.Key(pkLayouts, sched)))
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
	}{{len(ch.Put), putChunk}, {len(layouts), fixed(layouts)}, {len(del), fixed(del)}}
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
	return nil
}

// batchWriteSize is the most items a BatchWriteItem call takes.
const batchWriteSize = 25

// storedKey names a stored target's item by its key.
func storedKey(st targets.Stored) string {
	return targetListPK(st.Schedule, st.Shard) + " " + targetPK(st.ID)
}

// checkStored checks what a stored target's key needs.
func checkStored(st targets.Stored) error {
	switch {
	case st.ID == "":
		return fmt.Errorf("a target of schedule %q has no ID", st.Schedule)
	case st.Shard < 0:
		return fmt.Errorf("target %q: shard %d is negative", st.ID, st.Shard)
	}
	if err := checkSchedule(st.Schedule); err != nil {
		return fmt.Errorf("target %q: %w", st.ID, err)
	}
	return nil
}

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

// prefixTargetEnd sorts after every T#<target ID> ("$" follows "#"): the
// open upper end of a range of them.
const prefixTargetEnd = "T$"
