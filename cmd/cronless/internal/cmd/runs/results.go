package runs

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
)

// storeReads is how many reads runs show makes at once of a store that it
// reads a target at a time (a listed result, a listed target's attempts).
const storeReads = 8

// runResults is what runs show reads of a run's results: which targets have
// one, how many are ok, failed and changed, and the first few whole.
type runResults struct {
	// ids are the targets with a result, in target ID order.
	ids                 []string
	ok, failed, changed int
	// listed are the first results by target ID, whole (fields too), at
	// most the limit they were read with.
	listed []job.Result
}

// add counts the result of target id.
func (rr *runResults) add(id string, status job.Status, changed bool) {
	rr.ids = append(rr.ids, id)
	if status == job.StatusOK {
		rr.ok++
	} else {
		rr.failed++
	}
	if changed {
		rr.changed++
	}
}

// has reports whether target id has a result.
func (rr *runResults) has(id string) bool {
	_, ok := slices.BinarySearch(rr.ids, id)
	return ok
}

// resultsOf is runResults of every result of rs (ordered by target ID),
// all of them listed.
func resultsOf(rs []job.Result) runResults {
	rr := runResults{ids: make([]string, 0, len(rs)), listed: rs}
	for _, r := range rs {
		rr.add(r.TargetID, r.Status, r.Changed)
	}
	slices.Sort(rr.ids) // (sorted already from a store: then in linear time)
	return rr
}

// readRunResults reads the results of run runID with the first limit of
// them whole. Without a limit (0) that is every result, in one read
// (RunResults). With one, the run's entries (store.RunEntry: no fields)
// are read and counted as they come, keeping only their target IDs, and
// the first limit results are read alone, storeReads at once: a run of a
// million results is never in memory with its fields.
func readRunResults(ctx context.Context, st store.Store, runID string, limit int) (runResults, error) {
	if limit == 0 {
		rs, err := st.RunResults(ctx, runID)
		if err != nil {
			return runResults{}, fmt.Errorf("results of run %s: %w", runID, err)
		}
		return resultsOf(rs), nil
	}
	var rr runResults
	err := st.RunEntries(ctx, runID, func(e store.RunEntry) error {
		rr.add(e.TargetID, e.Status, e.Changed)
		return nil
	})
	if err != nil {
		return runResults{}, fmt.Errorf("results of run %s: %w", runID, err)
	}
	slices.Sort(rr.ids)
	listed, err := eachOf(ctx, rr.ids[:min(limit, len(rr.ids))], func(ctx context.Context, id string) (job.Result, error) {
		r, err := st.Result(ctx, id, runID)
		if err != nil {
			return job.Result{}, fmt.Errorf("result of %s in run %s: %w", id, runID, err)
		}
		return r, nil
	})
	if err != nil {
		return runResults{}, err
	}
	// (A result that expired since its entry was read is not listed.)
	rr.listed = slices.DeleteFunc(listed, func(r job.Result) bool { return r.TargetID == "" })
	return rr, nil
}

// eachOf reads each of ids with read, storeReads at once, and returns what
// it read in the order of ids. A read that finds nothing (store.ErrNotFound:
// a result expired, or attempts never recorded) yields read's zero value
// for that id, which callers tell apart.
func eachOf[T any](ctx context.Context, ids []string, read func(ctx context.Context, id string) (T, error)) ([]T, error) {
	got := make([]T, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(storeReads)
	for i, id := range ids {
		g.Go(func() error {
			v, err := read(gctx, id)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			got[i] = v
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return got, nil
}
