package dynamo

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo/ddb"
)

// BatchError and ErrUnprocessed are how Import reports the items it never
// wrote (ddb.BatchWrite's).
type BatchError = ddb.BatchError

var ErrUnprocessed = ddb.ErrUnprocessed

// Import writes a history of runs and results in bulk (BatchWriteItem) into
// a table that holds none of their targets' results yet: to seed tests and
// benchmarks, to move a local store's history to AWS, or to migrate a v1
// table (`cronless migrate`). It computes what PutResult would (each
// target's Changed flags in time order, where its fields are stored, the
// target list, a run item for every run, with the planned count of those in
// runs, and their targets items) and writes the items without conditions,
// so it is not for the live path: it overwrites, and concurrent PutResults
// of the same targets could be lost. A result given twice is stored once
// (the first wins). Run counters need nothing: they are derived from the
// results.
func (s *Store) Import(ctx context.Context, runs []store.Run, results []job.Result) error {
	stored := make([]store.StoredResult, len(results))
	for i, r := range results {
		stored[i].Result = r
	}
	return s.ImportStored(ctx, runs, stored)
}

// ImportStored is Import of results with the times they were stored (a
// zero time: now): each item keeps its stored time, so its run's result
// times stay as they were, and expires its retention after it. A result
// whose fields others name lives as long as the last of them.
func (s *Store) ImportStored(ctx context.Context, runs []store.Run, results []store.StoredResult) error {
	if err := s.importItems(ctx, runs, results); err != nil {
		return fmt.Errorf("dynamo: import %d runs, %d results: %w", len(runs), len(results), err)
	}
	return nil
}

func (s *Store) importItems(ctx context.Context, runs []store.Run, results []store.StoredResult) error {
	now := s.now()
	var items []item
	runItems := map[string]item{}
	var (
		runOrder    []string
		targetItems []item
	)
	for _, run := range runs {
		if err := store.CheckRun(run); err != nil {
			return fmt.Errorf("run %q: %w", run.ID, err)
		}
		if _, dup := runItems[run.ID]; dup {
			continue
		}
		createdAt := run.CreatedAt
		if createdAt.IsZero() {
			createdAt = now
		}
		runItems[run.ID] = runItem(run, createdAt, true)
		runOrder = append(runOrder, run.ID)
		if len(run.Targets) > 0 { // as putTargets stores them
			b, err := ddb.EncodeIDs(run.Targets)
			if err != nil {
				return fmt.Errorf("run %q: targets: %w", run.ID, err)
			}
			if b != nil {
				it := targetsKey(run.ID)
				it.SetS(attrRunID, run.ID)
				it[attrTargets] = &types.AttributeValueMemberB{Value: b}
				targetItems = append(targetItems, it)
			}
		}
	}

	seen := map[[2]string]bool{}
	byTarget := map[string][]store.StoredResult{}
	for _, sr := range results {
		r := sr.Result
		if err := r.Validate(); err != nil {
			return fmt.Errorf("result %s/%s: %w", r.TargetID, r.RunID, err)
		}
		k := [2]string{r.TargetID, r.RunID}
		if seen[k] {
			continue
		}
		seen[k] = true
		if sr.StoredAt.IsZero() {
			sr.StoredAt = now
		}
		byTarget[r.TargetID] = append(byTarget[r.TargetID], sr)
		if it, ok := runItems[r.RunID]; !ok {
			runItems[r.RunID] = runItem(store.Run{ID: r.RunID, Schedule: r.Schedule, ScheduledAt: r.ScheduledAt}, now, false)
			runOrder = append(runOrder, r.RunID)
		} else if it.Str(attrSchedule) == "" {
			it.SetS(attrSchedule, r.Schedule)
		}
	}
	for _, id := range runOrder {
		items = append(items, runItems[id])
	}
	items = append(items, targetItems...)

	targets := make([]string, 0, len(byTarget))
	for t := range byTarget {
		targets = append(targets, t)
	}
	slices.Sort(targets)
	newest := map[string]item{} // by target: its newest ok result imported
	for _, t := range targets {
		more, err := historyItems(byTarget[t], s.expiresAt, s.holderExpiresAt)
		if err != nil {
			return err
		}
		items = append(items, more...)
		for _, it := range more {
			if it.Str(attrStatus) == string(job.StatusOK) {
				newest[t] = it // more is in time order
			}
		}
	}
	if err := ddb.BatchWrite(ctx, s.db, s.table, s.retry, items); err != nil {
		return err
	}
	for _, t := range targets {
		if it, ok := newest[t]; ok {
			if err := s.relinkNext(ctx, t, it); err != nil {
				return fmt.Errorf("target %s: %w", t, err)
			}
		}
	}
	return nil
}

// relinkNext recomputes the Changed flag of the ok result after it (the
// newest ok result an import wrote of target), if there is one: a result
// stored before the import (a migration that ran after the stage's first
// results in the new table) is compared with the imported history.
func (s *Store) relinkNext(ctx context.Context, target string, it item) error {
	self := it.Str(AttrSK)
	_, next, err := s.surroundings(ctx, target, self, self)
	if err != nil {
		return fmt.Errorf("read the result after the imported ones: %w", err)
	}
	if n := next.ok; n.found && n.prev < self {
		if _, err := s.setChanged(ctx, target, n.sk, n.hash != it.Hash(attrContentHash) && !n.nm, self); err != nil {
			return fmt.Errorf("recompute the changed flag of the result after the imported ones: %w", err)
		}
	}
	return nil
}

// historyItems are the items of one target's results rs, as PutResult would
// have written them had they arrived in time order at their stored times
// (expiring at expiresAt of it, or holdersAt when it holds its fields), and
// its target item.
func historyItems(rs []store.StoredResult, expiresAt, holdersAt func(time.Time) int64) ([]item, error) {
	slices.SortFunc(rs, func(a, b store.StoredResult) int {
		return cmp.Or(a.Result.ScheduledAt.Compare(b.Result.ScheduledAt), strings.Compare(a.Result.RunID, b.Result.RunID))
	})
	items := make([]item, 0, len(rs)+1)
	var (
		prev    *job.Result // the previous ok result
		prevSK  string
		holder  fieldsLink           // where prev's fields are ("" holder: nowhere)
		holders = map[string]item{}  // the items that hold fields, by SK
		lasts   = map[string]int64{} // by holder SK: the last expiry of it and the results naming it (-1: never)
		naming  []item               // the items that name a holder
	)
	for i := range rs {
		r := &rs[i].Result
		sk := resultSK(r.ScheduledAt, r.RunID)
		expires := expiresAt(rs[i].StoredAt)
		changed, prevKey := false, ""
		var l fieldsLink
		if r.Status == job.StatusOK {
			fill := r.NotModified && len(r.Fields) == 0
			same := prev != nil && prev.RulesHash == r.RulesHash &&
				(prev.ContentHash == r.ContentHash || (fill && r.ContentHash == ""))
			switch {
			case same && fill && r.ContentHash == "":
				r.ContentHash = prev.ContentHash
			case fill && !same:
				r.RulesHash = ""
			}
			if same && (fill || !r.NotModified) {
				l = holder
			}
			if prev != nil {
				changed = prev.ContentHash != r.ContentHash && !r.NotModified
				prevKey = prevSK
			}
			prev, prevSK = r, sk
		}
		if r.Status == job.StatusOK && l.holder == "" && r.Fields != nil {
			expires = holdersAt(rs[i].StoredAt)
		}
		it, err := resultItem(*r, changed, prevKey, l, rs[i].StoredAt, expires)
		if err != nil {
			return nil, fmt.Errorf("result %s/%s: %w", r.TargetID, r.RunID, err)
		}
		items = append(items, it)
		if r.Status != job.StatusOK {
			continue
		}
		switch {
		case l.holder != "":
			naming = append(naming, it)
			lasts[l.holder] = later(lasts[l.holder], expires)
		case r.Fields != nil:
			holder = fieldsLink{holder: sk, expires: expires}
			holders[sk] = it
			lasts[sk] = later(-2, expires)
		default:
			holder = fieldsLink{}
		}
	}
	// A holder lives as long as the last result that names it.
	for sk, h := range holders {
		switch last := lasts[sk]; {
		case last < 0:
			delete(h, AttrExpiresAt)
		case last > 0:
			h.SetN(AttrExpiresAt, last)
		}
	}
	for _, it := range naming {
		delete(it, attrFieldsTTL)
		if last := lasts[it.Str(attrFieldsIn)]; last > 0 {
			it.SetN(attrFieldsTTL, last)
		}
	}
	t := ddb.Key(targetsPK(rs[0].Result.TargetID), targetPK(rs[0].Result.TargetID))
	t.SetS(attrTargetID, rs[0].Result.TargetID)
	return append(items, t), nil
}

// later is the later of two expiries, where -1 is never (and an expiry of 0
// is never too) and -2 none yet.
func later(a, b int64) int64 {
	if b == 0 {
		b = -1
	}
	switch {
	case a == -1 || b == -1:
		return -1
	default:
		return max(a, b)
	}
}
