package results

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
)

// ResultsFailedOptions are the options of `results failed`.
type ResultsFailedOptions struct {
	cmdutil.QueryOptions
	RunID string
}

// NewCmdResultsFailed is `results failed`; runF, when set, runs instead of resultsFailedRun (tests).
func NewCmdResultsFailed(f *cmdutil.Factory, runF func(*ResultsFailedOptions) error) *cobra.Command {
	opts := &ResultsFailedOptions{QueryOptions: cmdutil.NewQueryOptions(f)}
	cmd := &cobra.Command{
		Use:   "failed",
		Short: "Failed results: each target's most recent failure, or one run's",
		Long: `Without --run: the most recent failed result of every target that has one, whether
or not a later run succeeded. With --run: that run's failed results.

Failed results are permanent failures (4xx, robots.txt, blocked address, missing
required field). Jobs that failed with retryable errors until they were
dead-lettered have no result: see cronless runs show RUN_ID and cronless dlq list.`,
		Example: `  cronless results failed
  cronless results failed --run hourly-20261127T090000Z -o csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Set(f, cmd)
			return cmdutil.RunOr(opts, runF, resultsFailedRun)
		},
	}
	cmd.Flags().StringVar(&opts.RunID, "run", "", "only this run's failed results")
	return cmd
}

func resultsFailedRun(opts *ResultsFailedOptions) error {
	format, o, err := opts.Open()
	if err != nil {
		return err
	}
	defer o.Close()
	if opts.RunID != "" {
		if _, err := cmdutil.FindRun(opts.Context(), o, opts.RunID); err != nil {
			return err
		}
	}
	res, err := o.Store.Failed(opts.Context(), opts.RunID)
	if err != nil {
		return fmt.Errorf("failed results: %w", err)
	}
	if opts.RunID != "" {
		return printQuery(&opts.QueryOptions, format, res, fmt.Sprintf("run %s has no failed results", opts.RunID))
	}
	return printQuery(&opts.QueryOptions, format, res, fmt.Sprintf("no failed results in %s", o.Where))
}
