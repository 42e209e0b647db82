// Package local holds the commands that run the pipeline on this machine,
// on the embedded backend: run, invoke and demo.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/cmd/cronless/internal/iostreams"
	"github.com/cronless/cronless/cmd/cronless/internal/localbackend"
	"github.com/cronless/cronless/shared/cost"
	"github.com/cronless/cronless/shared/crawl"
	"github.com/cronless/cronless/shared/local"
	"github.com/cronless/cronless/shared/logs"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/targets"
	"github.com/cronless/cronless/shared/worker"
)

// localOptions is what the commands that run the local pipeline (run,
// invoke, demo) take: the Factory's streams and clock, the --db, the logger
// and the pipeline's settings.
type localOptions struct {
	IO       *iostreams.IOStreams
	Now      func() time.Time
	DB       string
	Log      *zap.Logger
	Pipeline pipelineFlags

	// ctx is the command's context (cobra's), for the run function.
	ctx context.Context
}

func newLocalOptions(f *cmdutil.Factory) localOptions {
	return localOptions{IO: f.IOStreams, Now: f.Now}
}

// set fills in what is known once cobra runs the command (the logger is
// made from --log-level before).
func (o *localOptions) set(f *cmdutil.Factory, cmd *cobra.Command) {
	o.DB, o.Log, o.ctx = f.DB, f.Logger, cmd.Context()
}

// pipelineFlags are the settings of the local pipeline, shared by run and demo.
type pipelineFlags struct {
	targetsFile    string
	schedules      []string
	once           bool
	allowPrivate   bool
	visibility     time.Duration
	maxReceives    int
	batchSize      int
	batchWindow    time.Duration
	concurrency    int
	functionTimout time.Duration
	retryBase      time.Duration
	pollWait       time.Duration
	// The crawl's politeness; zero values are crawl's defaults.
	hostConcurrency int
	hostDelay       time.Duration
	// memoryMB is the worker function's memory the parse budget derives
	// from, as on Lambda (0: no budget).
	memoryMB int
}

func (f *pipelineFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.DurationVar(&f.visibility, "visibility-timeout", 30*time.Second, "queue visibility timeout (≥ --function-timeout, as Lambda requires)")
	fs.IntVar(&f.maxReceives, "max-receives", 3, "receives before a message is dead-lettered (maxReceiveCount)")
	fs.IntVar(&f.batchSize, "batch-size", 10, "records per invocation, 1 to 10")
	fs.DurationVar(&f.batchWindow, "batch-window", 0, "how long to gather a batch before invoking with fewer records")
	fs.IntVar(&f.concurrency, "concurrency", 4, "invocations at once per function (maximum concurrency)")
	fs.DurationVar(&f.functionTimout, "function-timeout", 30*time.Second, "each invocation's time limit")
	fs.DurationVar(&f.retryBase, "retry-delay", time.Second, "delay before the first retry of a failed crawl, doubled on each retry (a server's Retry-After wins)")
	fs.BoolVar(&f.allowPrivate, "allow-private", false, "allow crawling private and loopback addresses (off by default: SSRF protection)")
	fs.IntVar(&f.hostConcurrency, "host-concurrency", crawl.DefaultHostConcurrency, "requests at once to one host, robots.txt and redirects included (HOST_CONCURRENCY on AWS)")
	fs.DurationVar(&f.hostDelay, "host-delay", 0, "least time between the starts of two requests to one host (HOST_DELAY on AWS)")
	fs.IntVar(&f.memoryMB, "memory", crawl.DefaultFunctionMemoryMB, "the worker's memory in MB (workerMemory on AWS): the pages parsed at once are bounded by a budget derived from it, as on Lambda; 0: no bound")
}

func (f *pipelineFlags) check() error {
	if err := cmdutil.DurationFlag("visibility-timeout", f.visibility, time.Second, queue.MaxVisibility); err != nil {
		return err
	}
	if err := cmdutil.SecondsFlag("function-timeout", f.functionTimout, cost.LambdaTimeoutSeconds); err != nil {
		return err
	}
	if f.functionTimout > f.visibility {
		return cmdutil.Usagef("--function-timeout %s is longer than --visibility-timeout %s: a message would come back while still being handled; raise --visibility-timeout", f.functionTimout, f.visibility)
	}
	if err := cmdutil.DurationFlag("retry-delay", f.retryBase, 0, queue.MaxVisibility); err != nil {
		return err
	}
	if err := cmdutil.SecondsFlag("batch-window", f.batchWindow, cost.BatchWindowSeconds); err != nil {
		return err
	}
	if err := cmdutil.RangeFlag("max-receives", f.maxReceives, cost.MaxReceiveCount); err != nil {
		return err
	}
	if err := cmdutil.IntFlag("batch-size", f.batchSize, 1, queue.MaxBatch); err != nil {
		return err
	}
	if f.hostConcurrency != 0 { // 0: a caller's pipelineFlags without it (the default)
		if err := cmdutil.IntFlag("host-concurrency", f.hostConcurrency, 1, crawl.MaxHostConcurrency); err != nil {
			return err
		}
	}
	if err := cmdutil.DurationFlag("host-delay", f.hostDelay, 0, crawl.MaxHostDelay); err != nil {
		return err
	}
	if f.memoryMB != 0 && (f.memoryMB < minFunctionMB || f.memoryMB > crawl.MaxFunctionMemoryMB) {
		return cmdutil.Usagef("--memory %d: must be a Lambda function's memory in MB, between %d and %d (or 0 for no bound); the deployed worker has %d",
			f.memoryMB, minFunctionMB, crawl.MaxFunctionMemoryMB, crawl.DefaultFunctionMemoryMB)
	}
	// Lambda's mapping takes at least 2; the local one runs with 1 too.
	return cmdutil.IntFlag("concurrency", f.concurrency, 1, cost.EventSourceMaxConcurrency.Hi)
}

// minFunctionMB is Lambda's least function memory.
const minFunctionMB = 128

// openPipeline checks the flags, loads the targets file and assembles the
// local pipeline over the backend at dbPath. Close the backend when done.
func openPipeline(ctx context.Context, f *pipelineFlags, dbPath string, log *zap.Logger) (*local.Pipeline, *localbackend.Backend, error) {
	if err := f.check(); err != nil {
		return nil, nil, err
	}
	tf, err := cmdutil.LoadTargets(f.targetsFile)
	if err != nil {
		return nil, nil, err
	}
	for _, name := range f.schedules {
		if _, ok := tf.Schedules[name]; !ok {
			return nil, nil, cmdutil.Usagef("--schedule %q is not in %s (defined: %s)", name, f.targetsFile, strings.Join(tf.ScheduleNames, ", "))
		}
	}
	b, err := localbackend.Open(ctx, dbPath, &localbackend.Settings{Visibility: f.visibility, MaxReceives: f.maxReceives})
	if err != nil {
		return nil, nil, err
	}
	// The functions' records are kept beside the database whatever the
	// console's level, for `cronless logs`.
	if log == nil {
		log = zap.NewNop()
	}
	lf := logs.NewFile(logs.Dir(dbPath), logs.FileOptions{})
	b.LogFile = lf
	return pipeline(tf, b, f, logs.Tee(log, lf, zapcore.InfoLevel)), b, nil
}

// pipeline assembles the local pipeline over the backend.
func pipeline(tf *targets.File, b *localbackend.Backend, f *pipelineFlags, log *zap.Logger) *local.Pipeline {
	m := local.MappingConfig{BatchSize: f.batchSize, BatchWindow: f.batchWindow, MaxConcurrency: f.concurrency, Timeout: f.functionTimout}
	return &local.Pipeline{
		Targets: tf, Ticks: b.Ticks, PlannerFailures: b.PlannerFailures, TargetsQueue: b.Targets, TargetsDLQ: b.TargetsDLQ, Results: b.Results, ResultsDLQ: b.ResultsDLQ,
		Store: b.Store, TargetList: b.Store, Log: log, Region: localbackend.Region,
		Fetcher: crawl.New(crawl.Options{
			AllowPrivate: f.allowPrivate, UserAgent: tf.Defaults.UserAgent, Timeout: tf.Defaults.Timeout,
			HostConcurrency: f.hostConcurrency, HostDelay: f.hostDelay,
			MemoryBudget: crawl.MemoryBudget(f.memoryMB),
		}),
		PlannerMapping: m,
		WorkerMapping:  m,
		ResultsMapping: m,
		PollWait:       f.pollWait,
		RetryDelay:     worker.Backoff(f.retryBase, f.visibility),
	}
}

// RunOptions are the options of `run`.
type RunOptions struct {
	localOptions
}

// NewCmdRun is `run`; runF, when set, runs instead of runRun (tests).
func NewCmdRun(f *cmdutil.Factory, runF func(*RunOptions) error) *cobra.Command {
	opts := &RunOptions{localOptions: newLocalOptions(f)}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the pipeline on this machine (the local backend)",
		Long: `Run the whole pipeline on this machine: schedules fire as EventBridge Scheduler
would fire them, and the worker and results handlers are invoked as Lambda's SQS
event source mapping would invoke them, on the local backend (--db).

With --once, each selected schedule fires once, now, and the command returns when
that run has drained: every job has a result or sits in the dead-letter queue.
Without it, schedules keep firing until you press Ctrl-C; messages in flight then
simply become visible again, and the next run picks them up. Ticks are queued
before they are planned, so a run interrupted while it was being planned (even
by kill -9) is planned again, as the same run, by the next start.`,
		Example: `  cronless run --targets targets.yaml --once
  cronless run --targets targets.yaml --schedule hourly`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.set(f, cmd)
			return cmdutil.RunOr(opts, runF, runRun)
		},
	}
	cmd.Flags().StringVar(&opts.Pipeline.targetsFile, "targets", "targets.yaml", "the targets file")
	cmd.Flags().StringSliceVar(&opts.Pipeline.schedules, "schedule", nil, "run only this schedule (repeatable; default: all)")
	cmd.Flags().BoolVar(&opts.Pipeline.once, "once", false, "fire each selected schedule once, now, and return when the run has drained")
	opts.Pipeline.register(cmd)
	return cmd
}

func runRun(opts *RunOptions) error {
	ctx := opts.ctx
	p, b, err := openPipeline(ctx, &opts.Pipeline, opts.DB, opts.Log)
	if err != nil {
		return err
	}
	defer b.Close()
	if !opts.Pipeline.once {
		fmt.Fprintf(opts.IO.ErrOut, "cronless: running schedules %v on %s; Ctrl-C stops\n", orAll(opts.Pipeline.schedules), opts.DB)
		if err := p.Run(ctx, opts.Pipeline.schedules); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.ErrOut, "cronless: stopped; messages still queued in %s are picked up by the next run\n", opts.DB)
		return nil
	}
	reports, err := runOnce(ctx, opts.IO, opts.DB, p, opts.Pipeline.schedules, opts.Now())
	if err != nil {
		return err
	}
	return printRunReports(opts.IO.Out, reports)
}

func orAll(names []string) any {
	if len(names) == 0 {
		return "(all)"
	}
	return names
}

// runOnce runs the pipeline once, with a progress bar on a terminal.
func runOnce(ctx context.Context, ios *iostreams.IOStreams, db string, p *local.Pipeline, schedules []string, at time.Time) ([]local.RunReport, error) {
	var bar *progressbar.ProgressBar
	var progress func(local.Progress)
	if ios.IsStderrTTY() {
		waitNoted, ticksOnly := false, 0
		progress = func(pr local.Progress) {
			if bar == nil && pr.Planned > 0 {
				bar = progressbar.NewOptions(pr.Planned, progressbar.OptionSetWriter(ios.ErrOut),
					progressbar.OptionSetDescription("crawling"), progressbar.OptionShowCount(),
					progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))
			}
			if bar != nil && !waitNoted {
				bar.Describe(fmt.Sprintf("crawling (in queue %d, dead-lettered %d)", pr.TargetsQueue.Total(), pr.DeadLetters))
				_ = bar.Set(pr.Done)
			}
			onlyTicks := pr.Planned > 0 && pr.TargetsQueue.Total() == 0 && pr.Results.Total() == 0 && pr.Ticks.Total() > 0
			if onlyTicks {
				ticksOnly++
			} else {
				ticksOnly = 0
			}
			if !waitNoted && ticksOnly >= 5 {
				// Only ticks an interrupted earlier start left are
				// pending: they come back after the visibility timeout.
				// Seen for a quarter of a second (5 snapshots): between
				// recording its run and sending its jobs, this start's own
				// tick looks the same for a moment.
				waitNoted = true
				if bar != nil {
					_ = bar.Finish()
				}
				fmt.Fprintf(ios.ErrOut, "cronless: waiting for %d tick(s) an interrupted run left in %s; they come back within --visibility-timeout\n",
					pr.Ticks.Total(), db)
			}
		}
	}
	reports, err := p.RunOnce(ctx, schedules, at, progress)
	if bar != nil {
		_ = bar.Finish()
	}
	if errors.Is(err, context.Canceled) {
		return nil, fmt.Errorf("interrupted before the run drained; what is in flight is kept in %s: run again to finish it", db)
	}
	return reports, err
}

func printRunReports(w io.Writer, reports []local.RunReport) error {
	t := cmdutil.NewTable("RUN", "PLANNED", "OK", "FAILED", "DEAD-LETTERED", "TOOK")
	for _, r := range reports {
		took := "-"
		if !r.LastResultAt.IsZero() {
			took = r.LastResultAt.Sub(r.CreatedAt).Round(time.Millisecond).String()
		}
		t.Add(r.ID, r.Planned, r.Succeeded, r.Failed, r.DeadLettered, took)
	}
	return t.Write(w)
}
