// Command pipeline is the local-pipeline contender of the side-by-side
// benchmark (bench/suite): the whole of cronless on one machine, as
// `cronless run --once` runs it. A targets file lists the URLs (one target
// each, the same rules as the worker contender); the planner core plans one
// tick onto the targets queue (localq), the emulated event source mapping
// invokes the worker core with batches of 10, the worker sends results to
// the results queue, and the results core stores them (localstore), all in
// one temporary SQLite file. The measured window runs from the tick to the
// moment both queues are drained (local.Pipeline.RunOnce); the stored
// results are then read back and written as JSON lines.
//
// Concurrency: the Fetcher's per-host limit is c, so at most c requests run
// at once, as for bare colly. The worker mapping runs 2 × ceil(c/10)
// invocations at once, each crawling its batch of 10 with
// worker.WithConcurrency(10): while some batches wait for their commits
// (the receive, the results sent, the delete) the others keep the c
// requests busy. The results mapping runs ceil(c/10) invocations.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cronless/cronless/bench/contend"
	"github.com/cronless/cronless/shared/crawl"
	"github.com/cronless/cronless/shared/local"
	"github.com/cronless/cronless/shared/queue/localq"
	"github.com/cronless/cronless/shared/sqlite"
	"github.com/cronless/cronless/shared/store/localstore"
	"github.com/cronless/cronless/shared/targets"
)

func main() { contend.Main("pipeline", run) }

// TargetsYAML is the targets file of urls: one schedule, a target per URL.
// The fixture's host is set explicitly to concurrency pages at once per
// worker and an unlimited rate (a host of your own): the bench measures the
// pipeline's throughput, not the polite defaults of 2 at once and 1 a
// second.
func TargetsYAML(urls []string, concurrency int) string {
	var b strings.Builder
	b.WriteString("schedules:\n  bench: { expression: \"rate(1 hour)\" }\n")
	fmt.Fprintf(&b, "defaults: { host_rate: unlimited, host_concurrency: %d }\ntargets:\n", concurrency)
	for i, u := range urls {
		fmt.Fprintf(&b, "  - { id: t%d, url: %q, schedule: bench, extract: { h1: { css: h1 }, links: { css: \"a[href]\", attr: href, all: true } } }\n", i, u)
	}
	return b.String()
}

func run(ctx context.Context, cfg contend.Config, w *contend.Writer, errs *contend.Errors, extra map[string]float64) error {
	// The suite takes the pipeline's time and CPU from drain_seconds and
	// drain_cpu_seconds: from the tick to drained, without the set-up
	// before it and the read-back after it.
	tf, err := targets.Parse("targets.yaml", []byte(TargetsYAML(cfg.URLs, cfg.Concurrency)))
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "cronless-bench-pipeline-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	db, err := sqlite.Open(filepath.Join(dir, "local.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	qb, err := localq.New(db)
	if err != nil {
		return err
	}
	mk := func(name string, c localq.Config) (*localq.Queue, error) { return qb.CreateQueue(ctx, name, c) }
	jobsDLQ, err := mk("targets-dlq", localq.Config{})
	if err != nil {
		return err
	}
	resultsDLQ, err := mk("results-dlq", localq.Config{})
	if err != nil {
		return err
	}
	ticks, err := mk("ticks", localq.Config{VisibilityTimeout: 60 * time.Second})
	if err != nil {
		return err
	}
	jobs, err := mk("targets", localq.Config{VisibilityTimeout: 60 * time.Second, MaxReceiveCount: 3, DeadLetterQueue: "targets-dlq"})
	if err != nil {
		return err
	}
	results, err := mk("results", localq.Config{VisibilityTimeout: 60 * time.Second, MaxReceiveCount: 3, DeadLetterQueue: "results-dlq"})
	if err != nil {
		return err
	}
	st, err := localstore.New(ctx, db)
	if err != nil {
		return err
	}
	p := &local.Pipeline{
		Targets: tf, Ticks: ticks, TargetsQueue: jobs, TargetsDLQ: jobsDLQ, Results: results, ResultsDLQ: resultsDLQ, Store: st,
		Fetcher:           crawl.New(crawl.Options{AllowPrivate: true, HostConcurrency: cfg.Concurrency}),
		WorkerMapping:     local.MappingConfig{BatchSize: 10, MaxConcurrency: 2 * ((cfg.Concurrency + 9) / 10), Timeout: 60 * time.Second},
		ResultsMapping:    local.MappingConfig{BatchSize: 10, MaxConcurrency: (cfg.Concurrency + 9) / 10, Timeout: 60 * time.Second},
		PollWait:          100 * time.Millisecond,
		WorkerConcurrency: 10,
	}
	cpu0, t0 := contend.CPUTime(), time.Now()
	reports, err := p.RunOnce(ctx, nil, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), nil)
	if err != nil {
		return err
	}
	extra["drain_seconds"] = time.Since(t0).Seconds()
	extra["drain_cpu_seconds"] = (contend.CPUTime() - cpu0).Seconds()
	for _, r := range reports {
		extra["succeeded"] += float64(r.Succeeded)
		extra["failed"] += float64(r.Failed)
		extra["dead_lettered"] += float64(r.DeadLettered)
		res, err := st.RunResults(ctx, r.ID)
		if err != nil {
			return err
		}
		for _, x := range res {
			if x.Status != "ok" {
				errs.Add(fmt.Errorf("%s: %s", x.URL, x.Status))
				continue
			}
			b, err := json.Marshal(x)
			if err != nil {
				return err
			}
			if err := w.WriteLine(b); err != nil {
				return err
			}
		}
	}
	return nil
}
