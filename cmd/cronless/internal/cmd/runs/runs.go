package runs

import (
	"fmt"

	"github.com/spf13/cobra"

	dlqcmd "github.com/cronless/cronless/cmd/cronless/internal/cmd/dlq"
	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/shared/dlq"
)

// NewCmdRuns is the runs command group.
func NewCmdRuns(f *cmdutil.Factory) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List runs and show one",
		Long: `List the runs (schedule ticks) of the local backend (default) or of a deployed stage
(--stage), with what became of their jobs, or show one run target by target.

For each run: its schedule and scheduled time (UTC), the jobs planned, the results
stored (ok and failed), the jobs still in flight, the jobs dead-lettered (messages
of this run in the targets DLQ), and when the first and last results were stored.

Dead-lettered jobs are counted by looking at the targets DLQ without consuming it,
as ` + "`cronless dlq list`" + ` does: its messages are received, kept hidden while cronless
pages through the queue, and made visible again at the end. In flight is planned
minus ok, failed and dead-lettered; a job replayed from the DLQ whose message also
stays there counts as dead-lettered until that message is gone.`,
		Args: cobra.ArbitraryArgs,
		RunE: cmdutil.GroupRunE,
	}
	cmd.PersistentFlags().StringVarP(&output, "output", "o", "", cmdutil.OutputUsage)
	cmd.AddCommand(NewCmdRunsList(f, nil), NewCmdRunsShow(f, nil))
	return cmd
}

// RunsListOptions are the options of `runs list`.
type RunsListOptions struct {
	cmdutil.QueryOptions
	Limit int
}

// NewCmdRunsList is `runs list`; runF, when set, runs instead of runsListRun (tests).
func NewCmdRunsList(f *cmdutil.Factory, runF func(*RunsListOptions) error) *cobra.Command {
	opts := &RunsListOptions{QueryOptions: cmdutil.NewQueryOptions(f)}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "The most recent runs, newest first",
		Example: `  cronless runs list
  cronless runs list --limit 100 -o csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Set(f, cmd)
			return cmdutil.RunOr(opts, runF, runsListRun)
		},
	}
	cmd.Flags().IntVar(&opts.Limit, "limit", 20, "at most this many runs (0: all)")
	return cmd
}

func runsListRun(opts *RunsListOptions) error {
	format, err := cmdutil.OutputFormat(opts.IO, opts.Output)
	if err != nil {
		return err
	}
	if err := cmdutil.IntFlag("limit", opts.Limit, 0, 1_000_000); err != nil {
		return err
	}
	ctx := opts.Context()
	o, err := opts.Backend(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	runs, err := o.Store.Runs(ctx, opts.Limit)
	if err != nil {
		return fmt.Errorf("list runs: %w", err)
	}
	if len(runs) == 0 {
		if format == "table" {
			fmt.Fprintf(opts.IO.ErrOut, "no runs in %s yet: run `cronless run --once` (or `cronless demo`) first\n", o.Where)
		}
		return nil
	}
	letters, err := deadLetters(&opts.QueryOptions, o)
	if err != nil {
		return err
	}
	dead := map[string]int{}
	for _, l := range letters {
		dead[l.RunID]++
	}
	views := make([]View, len(runs))
	for i, r := range runs {
		views[i] = newRunView(r, dead[r.ID])
	}
	return printRuns(opts.IO.Out, format, views)
}

// RunsShowOptions are the options of `runs show`.
type RunsShowOptions struct {
	cmdutil.QueryOptions
	RunID string
	// Limit is how many results, and how many targets without a result,
	// are listed (0: all).
	Limit int
}

// NewCmdRunsShow is `runs show`; runF, when set, runs instead of runsShowRun (tests).
func NewCmdRunsShow(f *cmdutil.Factory, runF func(*RunsShowOptions) error) *cobra.Command {
	opts := &RunsShowOptions{QueryOptions: cmdutil.NewQueryOptions(f)}
	cmd := &cobra.Command{
		Use:   "show RUN_ID",
		Short: "One run: its counts, its results, and the targets without a result",
		Long: `One run: its counts, its results, and the targets without a result, each with
whether its job is in the targets DLQ and the last error recorded for it.

The targets without a result are the run's planned targets (the planner records
them with the run) that have no result in it. For a run whose targets were not
recorded (planned by an older cronless, or, on a stage, too many to record), they
are guessed: the targets whose job is in the targets DLQ and, when that does not
account for every job missing, the targets of the run's schedule (known from
their latest result) that have no result in this run.

A run of many targets has many results once it is done, and many without a
result while it is in flight, so the summary counts both (results by status, and
how many changed; targets without one, and how many are in the DLQ), and at most
--limit of each are listed, in every format. Results come by target ID, with
their fields; the targets without a result come with those whose job is in the
DLQ first, then those with failed attempts, then the rest, each by target ID. A
line (JSON: results_more and without_result_more; CSV: a note on stderr) says
how many more there are; --limit 0 lists them all, reading every result with
its fields (` + "`cronless results run`" + ` does too).
On a stage, which targets have failed attempts is known only for those listed
(DynamoDB keeps attempts by target, and finding a run's would take a read per
target): past the limit, the targets not in the DLQ come in ID order.`,
		Example: `  cronless runs show hourly-20261127T090000Z
  cronless runs show hourly-20261127T090000Z --limit 0 -o csv > missing.csv
  cronless runs show hourly-20261127T090000Z -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Set(f, cmd)
			opts.RunID = args[0]
			return cmdutil.RunOr(opts, runF, runsShowRun)
		},
	}
	cmd.Flags().IntVar(&opts.Limit, "limit", DefaultMissingLimit, "list at most this many results and this many targets without a result (0: all)")
	return cmd
}

func runsShowRun(opts *RunsShowOptions) error {
	if err := cmdutil.IntFlag("limit", opts.Limit, 0, 1_000_000_000); err != nil {
		return err
	}
	format, o, err := opts.Open()
	if err != nil {
		return err
	}
	defer o.Close()
	ctx := opts.Context()
	run, err := cmdutil.FindRun(ctx, o, opts.RunID)
	if err != nil {
		return err
	}
	rr, err := readRunResults(ctx, o.Store, run.ID, opts.Limit)
	if err != nil {
		return err
	}
	letters, err := deadLetters(&opts.QueryOptions, o)
	if err != nil {
		return err
	}
	d, err := newRunDetail(ctx, o.Store, run, rr, letters, opts.Limit)
	if err != nil {
		return err
	}
	if err := printRunDetail(opts.IO.Out, format, d); err != nil {
		return err
	}
	if d.ResultsMore > 0 && format != "table" {
		fmt.Fprintf(opts.IO.ErrOut, "%d more results are not listed: %s\n", d.ResultsMore, moreResultsHint(run.ID))
	}
	if d.MissingMore > 0 && format != "table" {
		fmt.Fprintf(opts.IO.ErrOut, "%d more targets without a result are not listed: %s\n", d.MissingMore, moreHint(run.ID))
	}
	return nil
}

// deadLetters lists the messages of the targets DLQ without consuming them
// (dlq.List: kept hidden while it pages through the queue, visible again at
// the end), with their run and target and, for a message a handler
// dead-lettered itself, the error it carries. Messages that stayed in
// flight elsewhere (another scan of the DLQ) are not counted: a warning
// says how many.
func deadLetters(opts *cmdutil.QueryOptions, o *cmdutil.Backend) ([]dlq.Letter, error) {
	return dlqcmd.Peek(opts.Context(), opts.IO, o.TargetsDLQ, opts.Stage != "", "they are not counted as dead-lettered")
}
