package results

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/shared/job"
)

// run is `results run`.
var run = query{
	use:     "run RUN_ID",
	short:   "One run's results, by target",
	example: `  cronless results run hourly-20261127T090000Z`,
	args:    cobra.ExactArgs(1),
	arg:     func(opts *ResultsOptions) *string { return &opts.RunID },
	ask: func(opts *ResultsOptions, o *cmdutil.Backend) ([]job.Result, string, error) {
		if _, err := cmdutil.FindRun(opts.Context(), o, opts.RunID); err != nil {
			return nil, "", err
		}
		res, err := o.Store.RunResults(opts.Context(), opts.RunID)
		if err != nil {
			return nil, "", fmt.Errorf("results of run %s: %w", opts.RunID, err)
		}
		return res, fmt.Sprintf("run %s has no results yet: `cronless runs show %s` says where its jobs are", opts.RunID, opts.RunID), nil
	},
}
