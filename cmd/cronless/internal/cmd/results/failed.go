package results

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/shared/job"
)

// failed is `results failed`.
var failed = query{
	use:   "failed",
	short: "Failed results: each target's most recent failure, or one run's",
	long: `Without --run: the most recent failed result of every target that has one, whether
or not a later run succeeded. With --run: that run's failed results.

Failed results are permanent failures (4xx, robots.txt, blocked address, missing
required field). Jobs that failed with retryable errors until they were
dead-lettered have no result: see cronless runs show RUN_ID and cronless dlq list.`,
	example: `  cronless results failed
  cronless results failed --run hourly-20261127T090000Z -o csv`,
	args: cobra.NoArgs,
	flags: func(cmd *cobra.Command, opts *ResultsOptions) {
		cmd.Flags().StringVar(&opts.RunID, "run", "", "only this run's failed results")
	},
	ask: func(opts *ResultsOptions, o *cmdutil.Backend) ([]job.Result, string, error) {
		if opts.RunID != "" {
			if _, err := cmdutil.FindRun(opts.Context(), o, opts.RunID); err != nil {
				return nil, "", err
			}
		}
		res, err := o.Store.Failed(opts.Context(), opts.RunID)
		if err != nil {
			return nil, "", fmt.Errorf("failed results: %w", err)
		}
		if opts.RunID != "" {
			return res, fmt.Sprintf("run %s has no failed results", opts.RunID), nil
		}
		return res, fmt.Sprintf("no failed results in %s", o.Where), nil
	},
}
