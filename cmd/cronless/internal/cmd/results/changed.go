package results

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
)

// ResultsChangedOptions are the options of `results changed`.
type ResultsChangedOptions struct {
	cmdutil.QueryOptions
	Since string
}

// NewCmdResultsChanged is `results changed`; runF, when set, runs instead of resultsChangedRun (tests).
func NewCmdResultsChanged(f *cmdutil.Factory, runF func(*ResultsChangedOptions) error) *cobra.Command {
	opts := &ResultsChangedOptions{QueryOptions: cmdutil.NewQueryOptions(f)}
	cmd := &cobra.Command{
		Use:   "changed",
		Short: "Results whose content changed from the target's previous ok result",
		Long: `Results whose content hash differs from the target's previous ok result, scheduled at
or after --since (default 24h ago), newest first.

--since takes ` + whenUsage + `.`,
		Example: `  cronless results changed
  cronless results changed --since 7d -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Set(f, cmd)
			return cmdutil.RunOr(opts, runF, resultsChangedRun)
		},
	}
	cmd.Flags().StringVar(&opts.Since, "since", "24h", "only results scheduled at or after this time")
	return cmd
}

func resultsChangedRun(opts *ResultsChangedOptions) error {
	from, err := parseWhen("since", opts.Since, opts.Now())
	if err != nil {
		return err
	}
	format, o, err := opts.Open()
	if err != nil {
		return err
	}
	defer o.Close()
	res, err := o.Store.Changed(opts.Context(), from)
	if err != nil {
		return fmt.Errorf("changed results: %w", err)
	}
	return printQuery(&opts.QueryOptions, format, res, fmt.Sprintf("no changed results%s in %s", between(from, time.Time{}), o.Where))
}
