package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
)

// ResultsRunOptions are the options of `results run`.
type ResultsRunOptions struct {
	queryOptions
	RunID string
}

// NewCmdResultsRun is `results run`; runF, when set, runs instead of resultsRunRun (tests).
func NewCmdResultsRun(f *Factory, runF func(*ResultsRunOptions) error) *cobra.Command {
	opts := &ResultsRunOptions{queryOptions: newQueryOptions(f)}
	cmd := &cobra.Command{
		Use:     "run RUN_ID",
		Short:   "One run's results, by target",
		Example: `  cronless results run hourly-20261127T090000Z`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.set(f, cmd)
			opts.RunID = args[0]
			return cmdutil.RunOr(opts, runF, resultsRunRun)
		},
	}
	return cmd
}

func resultsRunRun(opts *ResultsRunOptions) error {
	format, o, err := opts.open()
	if err != nil {
		return err
	}
	defer o.Close()
	if _, err := findRun(opts.ctx, o, opts.RunID); err != nil {
		return err
	}
	res, err := o.Store.RunResults(opts.ctx, opts.RunID)
	if err != nil {
		return fmt.Errorf("results of run %s: %w", opts.RunID, err)
	}
	return opts.printQuery(format, res, fmt.Sprintf("run %s has no results yet: `cronless runs show %s` says where its jobs are", opts.RunID, opts.RunID))
}
