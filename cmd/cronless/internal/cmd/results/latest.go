package results

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
)

// ResultsLatestOptions are the options of `results latest`.
type ResultsLatestOptions struct {
	cmdutil.QueryOptions
	Target string
}

// NewCmdResultsLatest is `results latest`; runF, when set, runs instead of resultsLatestRun (tests).
func NewCmdResultsLatest(f *cmdutil.Factory, runF func(*ResultsLatestOptions) error) *cobra.Command {
	opts := &ResultsLatestOptions{QueryOptions: cmdutil.NewQueryOptions(f)}
	cmd := &cobra.Command{
		Use:   "latest",
		Short: "The latest result of every target (or of one)",
		Example: `  cronless results latest
  cronless results latest --target example --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Set(f, cmd)
			return cmdutil.RunOr(opts, runF, resultsLatestRun)
		},
	}
	cmd.Flags().StringVar(&opts.Target, "target", "", "only this target")
	return cmd
}

func resultsLatestRun(opts *ResultsLatestOptions) error {
	format, o, err := opts.Open()
	if err != nil {
		return err
	}
	defer o.Close()
	res, err := o.Store.Latest(opts.Context(), opts.Target)
	if err != nil {
		return fmt.Errorf("latest results: %w", err)
	}
	empty := fmt.Sprintf("no results in %s yet: run `cronless run --once` (or `cronless demo`) first", o.Where)
	if opts.Target != "" {
		empty = fmt.Sprintf("no results for target %q in %s: `cronless results latest` lists the targets that have some", opts.Target, o.Where)
	}
	return printQuery(&opts.QueryOptions, format, res, empty)
}
