package results

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/shared/job"
)

// latest is `results latest`.
var latest = query{
	use:   "latest",
	short: "The latest result of every target (or of one)",
	example: `  cronless results latest
  cronless results latest --target example --output json`,
	args: cobra.NoArgs,
	flags: func(cmd *cobra.Command, opts *ResultsOptions) {
		cmd.Flags().StringVar(&opts.Target, "target", "", "only this target")
	},
	ask: func(opts *ResultsOptions, o *cmdutil.Backend) ([]job.Result, string, error) {
		res, err := o.Store.Latest(opts.Context(), opts.Target)
		if err != nil {
			return nil, "", fmt.Errorf("latest results: %w", err)
		}
		if opts.Target != "" {
			return res, fmt.Sprintf("no results for target %q in %s: `cronless results latest` lists the targets that have some", opts.Target, o.Where), nil
		}
		return res, fmt.Sprintf("no results in %s yet: run `cronless run --once` (or `cronless demo`) first", o.Where), nil
	},
}
