package results

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
)

// ResultsRunOptions are the options of `results run`.
type ResultsRunOptions struct {
	cmdutil.QueryOptions
	RunID string
}

// NewCmdResultsRun is `results run`; runF, when set, runs instead of resultsRunRun (tests).
func NewCmdResultsRun(f *cmdutil.Factory, runF func(*ResultsRunOptions) error) *cobra.Command {
	opts := &ResultsRunOptions{QueryOptions: cmdutil.NewQueryOptions(f)}
	cmd := &cobra.Command{
		Use:     "run RUN_ID",
		Short:   "One run's results, by target",
		Example: `  cronless results run hourly-20261127T090000Z`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Set(f, cmd)
			opts.RunID = args[0]
			return cmdutil.RunOr(opts, runF, resultsRunRun)
		},
	}
	return cmd
}

func resultsRunRun(opts *ResultsRunOptions) error {
	format, o, err := opts.Open()
	if err != nil {
		return err
	}
	defer o.Close()
	if _, err := cmdutil.FindRun(opts.Context(), o, opts.RunID); err != nil {
		return err
	}
	res, err := o.Store.RunResults(opts.Context(), opts.RunID)
	if err != nil {
		return fmt.Errorf("results of run %s: %w", opts.RunID, err)
	}
	return printQuery(&opts.QueryOptions, format, res, fmt.Sprintf("run %s has no results yet: `cronless runs show %s` says where its jobs are", opts.RunID, opts.RunID))
}
