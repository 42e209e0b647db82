package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/planner"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/queue/localq"
	"github.com/cronless/cronless/shared/sqlite"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/localstore"
	"github.com/cronless/cronless/shared/targets"
)

// planTick plans the tick and then its shards, at most parallel at once,
// taking the shard events from shards (the ticks queue locally) as the
// planner's invocations would.
func planTick(ctx context.Context, p *planner.Planner, shards queue.Queue, parallel int, r *report) error {
	t0 := time.Now()
	resp, err := p.Handle(ctx, planner.Tick{Schedule: schedule, ScheduledTime: tickAt.Format(time.RFC3339)})
	if err != nil {
		return fmt.Errorf("plan the tick: %w", err)
	}
	r.Tick, r.Shards, r.Tails = time.Since(t0), resp.Shards, resp.Tails
	var mu sync.Mutex
	var done atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for range parallel {
		g.Go(func() error {
			for done.Load() < int64(resp.Shards) {
				msgs, err := shards.Receive(gctx, queue.ReceiveOptions{Max: 1, Wait: 100 * time.Millisecond})
				if err != nil {
					return err
				}
				for _, m := range msgs {
					s0 := time.Now()
					if _, err := p.HandleEvent(gctx, json.RawMessage(m.Body)); err != nil {
						return fmt.Errorf("plan a shard: %w", err)
					}
					d := time.Since(s0)
					if err := shards.Delete(gctx, []string{m.ReceiptHandle}); err != nil {
						return err
					}
					mu.Lock()
					r.ShardTimes = append(r.ShardTimes, d)
					mu.Unlock()
					done.Add(1)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	r.Wall = time.Since(t0)
	return nil
}

func runLocal(ctx context.Context, c config) error {
	dir, cleanup, err := workDir(c)
	if err != nil {
		return err
	}
	defer cleanup()
	tfPath, listPath, err := writeInputs(dir, c, "")
	if err != nil {
		return err
	}
	dbPath := filepath.Join(dir, "local.db")
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.CommandContext(ctx, exe, "-phase", "import", "-db", dbPath, "-list", listPath, "-targets-file", tfPath,
		"-shard-size", strconv.Itoa(c.ShardSize), "-previous", strconv.Itoa(c.Previous))
	child.Stdout, child.Stderr = os.Stdout, os.Stderr
	if err := child.Run(); err != nil {
		return fmt.Errorf("import: %w", err)
	}

	db, err := sqlite.Open(dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := localstore.New(ctx, db)
	if err != nil {
		return err
	}
	qb, err := localq.New(db)
	if err != nil {
		return err
	}
	// The local backend's queues, as cmd/cronless names them, so that the
	// CLI reads the database afterwards (-dir; cronless runs show).
	for _, name := range []string{"cronless-targets-dlq", "cronless-results-dlq", "cronless-results"} {
		if _, err := qb.CreateQueue(ctx, name, localq.Config{}); err != nil {
			return err
		}
	}
	jobsQ, err := qb.CreateQueue(ctx, "cronless-targets", localq.Config{})
	if err != nil {
		return err
	}
	ticksQ, err := qb.CreateQueue(ctx, "cronless-ticks", localq.Config{VisibilityTimeout: time.Minute})
	if err != nil {
		return err
	}
	tf, err := targets.Load(tfPath)
	if err != nil {
		return err
	}
	jobs := newCountingSender(jobsQ, c.Targets)
	list := &measuringList{TargetList: st}
	p := planner.New(tf, jobs, st, planner.WithTargetList(list, ticksQ))
	r := report{Targets: c.Targets, Hosts: c.Hosts}
	runtime.GC()
	if err := planTick(ctx, p, ticksQ, c.Parallel, &r); err != nil {
		return err
	}
	if err := finish(ctx, st, jobsQ, jobs, &r); err != nil {
		return err
	}
	r.LargestItem, r.LargestItemWhat = list.largest, "a plan part's target IDs, before gzip"
	r.print()
	return r.check()
}

// finish reads the run back, tallies the jobs sent, and checks that the
// targets queue holds as many as were sent.
func finish(ctx context.Context, st store.Store, q queue.Queue, jobs *countingSender, r *report) error {
	run, err := st.Run(ctx, job.RunID(schedule, tickAt))
	if err != nil {
		return fmt.Errorf("read the run: %w", err)
	}
	r.RecordedPlanned, r.PlannedShards = run.Planned, run.PlannedShards
	r.SendCalls, r.SendFailures, r.LargestBody, r.WithValidators = jobs.calls.Load(), jobs.failures.Load(), jobs.largest, jobs.previous
	r.Enqueued, r.Duplicates = jobs.sent()
	d, err := q.Depth(ctx)
	if err != nil {
		return err
	}
	if d.Total() != r.Enqueued {
		return fmt.Errorf("the targets queue holds %d, the sender counted %d", d.Total(), r.Enqueued)
	}
	return nil
}
