package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
)

// ResultsLatestOptions are the options of `results latest`.
type ResultsLatestOptions struct {
	queryOptions
	Target string
}

// NewCmdResultsLatest is `results latest`; runF, when set, runs instead of resultsLatestRun (tests).
func NewCmdResultsLatest(f *Factory, runF func(*ResultsLatestOptions) error) *cobra.Command {
	opts := &ResultsLatestOptions{queryOptions: newQueryOptions(f)}
	cmd := &cobra.Command{
		Use:   "latest",
		Short: "The latest result of every target (or of one)",
		Example: `  cronless results latest
  cronless results latest --target example --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.set(f, cmd)
			return cmdutil.RunOr(opts, runF, resultsLatestRun)
		},
	}
	cmd.Flags().StringVar(&opts.Target, "target", "", "only this target")
	return cmd
}

func resultsLatestRun(opts *ResultsLatestOptions) error {
	format, o, err := opts.open()
	if err != nil {
		return err
	}
	defer o.Close()
	res, err := o.Store.Latest(opts.ctx, opts.Target)
	if err != nil {
		return fmt.Errorf("latest results: %w", err)
	}
	empty := fmt.Sprintf("no results in %s yet: run `cronless run --once` (or `cronless demo`) first", o.Where)
	if opts.Target != "" {
		empty = fmt.Sprintf("no results for target %q in %s: `cronless results latest` lists the targets that have some", opts.Target, o.Where)
	}
	return opts.printQuery(format, res, empty)
}
