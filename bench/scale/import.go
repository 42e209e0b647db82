package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/sqlite"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/localstore"
	"github.com/cronless/cronless/shared/targets"
)

// importList is the child: it imports the list into the local store as
// `cronless targets import` does, and prints its time and peak RSS.
func importList(ctx context.Context, c config) error {
	t0 := time.Now()
	tf, err := targets.Load(c.TargetsFile)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(c.List)
	if err != nil {
		return err
	}
	entries, err := targets.ParseList(c.List, data, tf)
	if err != nil {
		return err
	}
	parsed := time.Since(t0)
	db, err := sqlite.Open(c.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := localstore.New(ctx, db)
	if err != nil {
		return err
	}
	ch := targets.PlanList(nil, nil, entries, targets.WithShardSize(c.ShardSize))
	if err := st.ApplyTargets(ctx, ch, nil); err != nil {
		return err
	}
	fmt.Printf("imported %d targets in %.1f s (parse %.1f s), peak RSS %d MiB\n",
		len(entries), time.Since(t0).Seconds(), parsed.Seconds(), peakRSSMiB())
	if c.Previous > 0 {
		t1 := time.Now()
		if err := storePrevious(ctx, st, entries, c.Previous); err != nil {
			return err
		}
		fmt.Printf("stored %d earlier ticks' results of every target in %.1f s\n", c.Previous, time.Since(t1).Seconds())
	}
	return nil
}

// storePrevious stores n earlier ticks (an hour apart before tickAt) with
// an ok result of every entry, carrying an ETag: validators the next tick's
// shards read and send.
func storePrevious(ctx context.Context, st *localstore.Store, entries []targets.Entry, n int) error {
	rules := job.RulesHash(nil)
	for k := n; k >= 1; k-- {
		at := tickAt.Add(-time.Duration(k) * time.Hour)
		runID := job.RunID(schedule, at)
		if _, err := st.PutRun(ctx, store.Run{ID: runID, Schedule: schedule, ScheduledAt: at, Planned: len(entries), CreatedAt: at}); err != nil {
			return err
		}
		batch := make([]job.Result, 0, 1000)
		for i, e := range entries {
			batch = append(batch, job.Result{V: job.Version, RunID: runID, Schedule: schedule, TargetID: e.ID, URL: e.URL,
				ScheduledAt: at, Status: job.StatusOK, HTTPStatus: 200, ContentHash: fmt.Sprintf("sha256:%064x", i),
				ETag: fmt.Sprintf(`"%d-%d"`, i, k), RulesHash: rules, FetchedAt: at.Add(time.Second), Attempt: 1})
			if len(batch) == cap(batch) || i == len(entries)-1 {
				if _, err := st.PutResults(ctx, batch); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
	}
	return nil
}
