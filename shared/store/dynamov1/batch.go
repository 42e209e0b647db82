package dynamov1

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo/ddb"
)

// Import writes a history of runs and results in bulk (BatchWriteItem) into
// a table that holds none of their targets' results yet: to seed tests and
// benchmarks, or to move a local store's history to AWS. It computes what
// PutResult would (each target's Changed flags in time order, its latest
// result, a run item for every run, with the planned count of those in
// runs, and their targets items) and writes the items without conditions,
// so it is not for the live path: it overwrites, and concurrent PutResults
// of the same targets could be lost. A result given twice is stored once (the first wins). Run
// counters need nothing: they are derived from the results.
func (s *Store) Import(ctx context.Context, runs []store.Run, results []job.Result) error {
	if err := s.importItems(ctx, runs, results); err != nil {
		return fmt.Errorf("dynamo: import %d runs, %d results: %w", len(runs), len(results), err)
	}
	return nil
}

func (s *Store) importItems(ctx context.Context, runs []store.Run, results []job.Result) error {
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
	byTarget := map[string][]job.Result{}
	for _, r := range results {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("result %s/%s: %w", r.TargetID, r.RunID, err)
		}
		k := [2]string{r.TargetID, r.RunID}
		if seen[k] {
			continue
		}
		seen[k] = true
		byTarget[r.TargetID] = append(byTarget[r.TargetID], r)
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
	expires := s.expiresAt(now)
	for _, t := range targets {
		rs := byTarget[t]
		slices.SortFunc(rs, func(a, b job.Result) int {
			return cmp.Or(a.ScheduledAt.Compare(b.ScheduledAt), strings.Compare(a.RunID, b.RunID))
		})
		var prev *job.Result
		var last item
		for i := range rs {
			r := &rs[i]
			changed, prevKey := false, ""
			if r.Status == job.StatusOK {
				if r.NotModified && len(r.Fields) == 0 { // as PutResult does
					if prev != nil && prev.RulesHash == r.RulesHash {
						r.Fields, r.Truncated = prev.Fields, prev.Truncated
						r.ContentHash = cmp.Or(r.ContentHash, prev.ContentHash)
					} else {
						r.RulesHash = ""
					}
				}
				if prev != nil {
					changed = prev.ContentHash != r.ContentHash && !r.NotModified
					prevKey = orderKey(prev.ScheduledAt, prev.RunID)
				}
				prev = r
			}
			it, err := resultItem(*r, changed, prevKey, now, expires)
			if err != nil {
				return fmt.Errorf("result %s/%s: %w", r.TargetID, r.RunID, err)
			}
			items = append(items, it)
			last = it
		}
		items = append(items, latestItem(last))
	}
	return ddb.BatchWrite(ctx, s.db, s.table, s.retry, items)
}
