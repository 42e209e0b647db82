package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/shared/demosite"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/targets"
)

// DemoOptions are the options of `demo`.
type DemoOptions struct {
	localOptions // its own database, in Dir, and pipeline settings
	Dir          string
	Ticks        int
}

// NewCmdDemo is `demo`; runF, when set, runs instead of demoRun (tests).
func NewCmdDemo(f *cmdutil.Factory, runF func(*DemoOptions) error) *cobra.Command {
	opts := &DemoOptions{localOptions: newLocalOptions(f)}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "See cronless work end to end in seconds, with nothing to set up",
		Long: `Serve a small demo site on 127.0.0.1, write a targets file for it, and run one
schedule tick through the whole pipeline (planner, targets queue, workers, results
queue, results store) on a new temporary database. Then print what was found and
the commands to try next.

The demo site has pages that extract cleanly, a page that changes on every run, a
404 (a permanent failure: recorded, not retried), a page that always answers 500
(retried, then dead-lettered with its last error) and a page robots.txt disallows.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.set(f, cmd)
			return cmdutil.RunOr(opts, runF, demoRun)
		},
	}
	cmd.Flags().IntVar(&opts.Ticks, "ticks", 1, "how many ticks to run, a minute apart in scheduled time (the news page changes on each)")
	cmd.Flags().StringVar(&opts.Dir, "dir", "", "where to write the demo's targets file and database (default: a new temporary directory)")
	return cmd
}

func demoRun(opts *DemoOptions) error {
	if err := cmdutil.IntFlag("ticks", opts.Ticks, 1, 10); err != nil {
		return err
	}
	ctx := opts.ctx
	site := &demosite.Site{}
	base, stop, err := site.Serve()
	if err != nil {
		return err
	}
	defer stop()

	if opts.Dir == "" {
		if opts.Dir, err = os.MkdirTemp("", "cronless-demo-"); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	} else if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	targetsPath := filepath.Join(opts.Dir, "targets.yaml")
	dbPath := filepath.Join(opts.Dir, "local.db")
	if err := os.WriteFile(targetsPath, []byte(demosite.Targets(base)), 0o644); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	// Short timeouts and few receives, for the demo only, so the
	// failing page is retried and dead-lettered in seconds.
	f := pipelineFlags{
		targetsFile: targetsPath, allowPrivate: true, visibility: 5 * time.Second, maxReceives: 3, batchSize: 10,
		concurrency: 2, functionTimout: 5 * time.Second, retryBase: 0, pollWait: 100 * time.Millisecond,
	}
	p, b, err := openPipeline(ctx, &f, dbPath, opts.Log)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer b.Close()
	tf := p.Targets

	fmt.Fprintf(opts.IO.Out, "Demo site on %s; %d targets in %s\n", base, len(tf.Targets), targetsPath)
	// Ticks a minute apart, the last one now, as a rate(1 minute)
	// schedule would have fired them.
	first := time.Now().Add(-time.Duration(opts.Ticks-1) * time.Minute)
	for i := range opts.Ticks {
		fmt.Fprintf(opts.IO.Out, "\nTick %d of schedule %q: planner → targets queue → workers → results queue → store (%s)\n\n", i+1, "demo", dbPath)
		start := time.Now()
		reports, err := runOnce(ctx, opts.IO, dbPath, p, nil, first.Add(time.Duration(i)*time.Minute))
		if err != nil {
			return err
		}
		if err := printRunReports(opts.IO.Out, reports); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.Out, "\nResults (took %s):\n", time.Since(start).Round(time.Millisecond))
		res, err := b.Store.RunResults(ctx, reports[0].ID)
		if err != nil {
			return fmt.Errorf("demo results: %w", err)
		}
		if err := cmdutil.PrintResults(opts.IO.Out, "table", res); err != nil {
			return err
		}
		if err := printDeadLettered(ctx, opts.IO.Out, b.Store, reports[0].ID, tf.TargetsFor("demo"), res); err != nil {
			return err
		}
	}
	fmt.Fprintf(opts.IO.Out, `
Try next:
  cronless results latest --db %[1]s            # the latest result per target
  cronless results latest --db %[1]s -o json    # the same, whole, as JSON lines
  cronless demo --ticks 2                        # two runs: see the news page change
  cronless validate --targets targets.yaml       # check your own targets file
  cronless run --targets targets.yaml --once     # crawl your targets once, on this machine
The demo's files stay in %[2]s (delete it when done).
`, dbPath, opts.Dir)
	return nil
}

// printDeadLettered lists the run's targets that have no result (their jobs
// sit in the dead-letter queue) with the last error recorded for each.
func printDeadLettered(ctx context.Context, w io.Writer, st store.Store, runID string, want []targets.Target, got []job.Result) error {
	have := map[string]bool{}
	for _, r := range got {
		have[r.TargetID] = true
	}
	t := cmdutil.NewTable("TARGET", "ATTEMPTS", "LAST ERROR")
	for _, tg := range want {
		if have[tg.ID] {
			continue
		}
		attempts, err := st.Attempts(ctx, runID, tg.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("attempts of %s: %w", tg.ID, err)
		}
		last := "(none recorded)"
		if n := len(attempts); n > 0 {
			last = cmdutil.Clip(attempts[n-1].Error.Kind+": "+attempts[n-1].Error.Message, 100)
		}
		t.Add(tg.ID, len(attempts), last)
	}
	if len(t.Rows) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nDead-lettered (retried, then moved to the targets DLQ):")
	return t.Write(w)
}
