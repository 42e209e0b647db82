package results

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/shared/job"
)

// history is `results history`.
var history = query{
	use:   "history TARGET",
	short: "A target's results, newest first",
	long: `A target's results scheduled in [--since, --until), newest first, at most --limit of them.

--since and --until take ` + cmdutil.WhenUsage + `.`,
	example: `  cronless results history example --since 24h
  cronless results history example --since 2026-11-01 --until 2026-11-08 --limit 0 -o csv`,
	args: cobra.ExactArgs(1),
	arg:  func(opts *ResultsOptions) *string { return &opts.Target },
	flags: func(cmd *cobra.Command, opts *ResultsOptions) {
		cmd.Flags().StringVar(&opts.Since, "since", "", "only results scheduled at or after this time")
		cmd.Flags().StringVar(&opts.Until, "until", "", "only results scheduled before this time")
		cmd.Flags().IntVar(&opts.Limit, "limit", 50, "at most this many results (0: all)")
	},
	check: checkHistory,
	ask: func(opts *ResultsOptions, o *cmdutil.Backend) ([]job.Result, string, error) {
		res, err := o.Store.History(opts.Context(), opts.Target, opts.from, opts.to, opts.Limit)
		if err != nil {
			return nil, "", fmt.Errorf("history of %s: %w", opts.Target, err)
		}
		return res, fmt.Sprintf("no results for target %q%s in %s: `cronless results latest` lists the targets that have some",
			opts.Target, between(opts.from, opts.to), o.Where), nil
	},
}

func checkHistory(opts *ResultsOptions) (err error) {
	now := opts.Now()
	if opts.from, err = cmdutil.ParseWhen("since", opts.Since, now); err != nil {
		return err
	}
	if opts.to, err = cmdutil.ParseWhen("until", opts.Until, now); err != nil {
		return err
	}
	if !opts.from.IsZero() && !opts.to.IsZero() && !opts.from.Before(opts.to) {
		return cmdutil.Usagef("--since %s is not before --until %s", opts.Since, opts.Until)
	}
	return cmdutil.IntFlag("limit", opts.Limit, 0, 1_000_000)
}
