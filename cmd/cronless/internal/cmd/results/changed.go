package results

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/shared/job"
)

// changed is `results changed`.
var changed = query{
	use:   "changed",
	short: "Results whose content changed from the target's previous ok result",
	long: `Results whose content hash differs from the target's previous ok result, scheduled at
or after --since (default 24h ago), newest first.

--since takes ` + cmdutil.WhenUsage + `.`,
	example: `  cronless results changed
  cronless results changed --since 7d -o json`,
	args: cobra.NoArgs,
	flags: func(cmd *cobra.Command, opts *ResultsOptions) {
		cmd.Flags().StringVar(&opts.Since, "since", "24h", "only results scheduled at or after this time")
	},
	check: func(opts *ResultsOptions) (err error) {
		opts.from, err = cmdutil.ParseWhen("since", opts.Since, opts.Now())
		return err
	},
	ask: func(opts *ResultsOptions, o *cmdutil.Backend) ([]job.Result, string, error) {
		res, err := o.Store.Changed(opts.Context(), opts.from)
		if err != nil {
			return nil, "", fmt.Errorf("changed results: %w", err)
		}
		return res, fmt.Sprintf("no changed results%s in %s", between(opts.from, time.Time{}), o.Where), nil
	},
}
