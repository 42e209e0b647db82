package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/shared/demosite"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/targets"
)

func (a *Factory) demoCommand() *cobra.Command {
	var (
		dir   string
		ticks int
	)
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
			if err := intFlag("ticks", ticks, 1, 10); err != nil {
				return err
			}
			ctx := cmd.Context()
			site := &demosite.Site{}
			base, stop, err := site.Serve()
			if err != nil {
				return err
			}
			defer stop()

			if dir == "" {
				if dir, err = os.MkdirTemp("", "cronless-demo-"); err != nil {
					return fmt.Errorf("demo: %w", err)
				}
			} else if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			targetsPath := filepath.Join(dir, "targets.yaml")
			dbPath := filepath.Join(dir, "local.db")
			if err := os.WriteFile(targetsPath, []byte(demosite.Targets(base)), 0o644); err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			// Short timeouts and few receives, for the demo only, so the
			// failing page is retried and dead-lettered in seconds.
			f := pipelineFlags{
				targetsFile: targetsPath, allowPrivate: true, visibility: 5 * time.Second, maxReceives: 3, batchSize: 10,
				concurrency: 2, functionTimout: 5 * time.Second, retryBase: 0, pollWait: 100 * time.Millisecond,
			}
			p, b, err := a.openPipeline(ctx, &f, dbPath)
			if err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			defer b.Close()
			tf := p.Targets

			fmt.Fprintf(a.IOStreams.Out, "Demo site on %s; %d targets in %s\n", base, len(tf.Targets), targetsPath)
			// Ticks a minute apart, the last one now, as a rate(1 minute)
			// schedule would have fired them.
			first := time.Now().Add(-time.Duration(ticks-1) * time.Minute)
			for i := range ticks {
				fmt.Fprintf(a.IOStreams.Out, "\nTick %d of schedule %q: planner → targets queue → workers → results queue → store (%s)\n\n", i+1, "demo", dbPath)
				start := time.Now()
				reports, err := a.runOnce(ctx, p, nil, first.Add(time.Duration(i)*time.Minute))
				if err != nil {
					return err
				}
				if err := printRunReports(a.IOStreams.Out, reports); err != nil {
					return err
				}
				fmt.Fprintf(a.IOStreams.Out, "\nResults (took %s):\n", time.Since(start).Round(time.Millisecond))
				res, err := b.store.RunResults(ctx, reports[0].ID)
				if err != nil {
					return fmt.Errorf("demo results: %w", err)
				}
				if err := printResults(a.IOStreams.Out, "table", res); err != nil {
					return err
				}
				if err := a.printDeadLettered(cmd, b.store, reports[0].ID, tf.TargetsFor("demo"), res); err != nil {
					return err
				}
			}
			fmt.Fprintf(a.IOStreams.Out, `
Try next:
  cronless results latest --db %[1]s            # the latest result per target
  cronless results latest --db %[1]s -o json    # the same, whole, as JSON lines
  cronless demo --ticks 2                        # two runs: see the news page change
  cronless validate --targets targets.yaml       # check your own targets file
  cronless run --targets targets.yaml --once     # crawl your targets once, on this machine
The demo's files stay in %[2]s (delete it when done).
`, dbPath, dir)
			return nil
		},
	}
	cmd.Flags().IntVar(&ticks, "ticks", 1, "how many ticks to run, a minute apart in scheduled time (the news page changes on each)")
	cmd.Flags().StringVar(&dir, "dir", "", "where to write the demo's targets file and database (default: a new temporary directory)")
	return cmd
}

// printDeadLettered lists the run's targets that have no result (their jobs
// sit in the dead-letter queue) with the last error recorded for each.
func (a *Factory) printDeadLettered(cmd *cobra.Command, st store.Store, runID string, want []targets.Target, got []job.Result) error {
	have := map[string]bool{}
	for _, r := range got {
		have[r.TargetID] = true
	}
	t := newTable("TARGET", "ATTEMPTS", "LAST ERROR")
	for _, tg := range want {
		if have[tg.ID] {
			continue
		}
		attempts, err := st.Attempts(cmd.Context(), runID, tg.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("attempts of %s: %w", tg.ID, err)
		}
		last := "(none recorded)"
		if n := len(attempts); n > 0 {
			last = clip(attempts[n-1].Error.Kind+": "+attempts[n-1].Error.Message, 100)
		}
		t.add(tg.ID, len(attempts), last)
	}
	if len(t.rows) == 0 {
		return nil
	}
	fmt.Fprintln(a.IOStreams.Out, "\nDead-lettered (retried, then moved to the targets DLQ):")
	return t.write(a.IOStreams.Out)
}
