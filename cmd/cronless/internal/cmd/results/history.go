package results

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
)

// ResultsHistoryOptions are the options of `results history`.
type ResultsHistoryOptions struct {
	cmdutil.QueryOptions
	TargetID     string
	Since, Until string
	Limit        int
}

// NewCmdResultsHistory is `results history`; runF, when set, runs instead of resultsHistoryRun (tests).
func NewCmdResultsHistory(f *cmdutil.Factory, runF func(*ResultsHistoryOptions) error) *cobra.Command {
	opts := &ResultsHistoryOptions{QueryOptions: cmdutil.NewQueryOptions(f)}
	cmd := &cobra.Command{
		Use:   "history TARGET",
		Short: "A target's results, newest first",
		Long: `A target's results scheduled in [--since, --until), newest first, at most --limit of them.

--since and --until take ` + whenUsage + `.`,
		Example: `  cronless results history example --since 24h
  cronless results history example --since 2026-11-01 --until 2026-11-08 --limit 0 -o csv`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Set(f, cmd)
			opts.TargetID = args[0]
			return cmdutil.RunOr(opts, runF, resultsHistoryRun)
		},
	}
	cmd.Flags().StringVar(&opts.Since, "since", "", "only results scheduled at or after this time")
	cmd.Flags().StringVar(&opts.Until, "until", "", "only results scheduled before this time")
	cmd.Flags().IntVar(&opts.Limit, "limit", 50, "at most this many results (0: all)")
	return cmd
}

func resultsHistoryRun(opts *ResultsHistoryOptions) error {
	now := opts.Now()
	from, err := parseWhen("since", opts.Since, now)
	if err != nil {
		return err
	}
	to, err := parseWhen("until", opts.Until, now)
	if err != nil {
		return err
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return cmdutil.Usagef("--since %s is not before --until %s", opts.Since, opts.Until)
	}
	if err := cmdutil.IntFlag("limit", opts.Limit, 0, 1_000_000); err != nil {
		return err
	}
	format, o, err := opts.Open()
	if err != nil {
		return err
	}
	defer o.Close()
	res, err := o.Store.History(opts.Context(), opts.TargetID, from, to, opts.Limit)
	if err != nil {
		return fmt.Errorf("history of %s: %w", opts.TargetID, err)
	}
	return printQuery(&opts.QueryOptions, format, res, fmt.Sprintf("no results for target %q%s in %s: `cronless results latest` lists the targets that have some",
		opts.TargetID, between(from, to), o.Where))
}
