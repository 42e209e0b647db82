package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) resultsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "results",
		Short: "Query the stored results",
		Args:  cobra.NoArgs,
	}
	var output, target string
	latest := &cobra.Command{
		Use:   "latest",
		Short: "The latest result of every target (or of one)",
		Example: `  cronless results latest
  cronless results latest --target example --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := a.outputFormat(output)
			if err != nil {
				return err
			}
			o, err := a.openOps(cmd.Context())
			if err != nil {
				return err
			}
			defer o.Close()
			res, err := o.store.Latest(cmd.Context(), target)
			if err != nil {
				return fmt.Errorf("latest results: %w", err)
			}
			if len(res) == 0 && format == "table" {
				fmt.Fprintf(a.stderr, "no results in %s yet: run `cronless run --once` (or `cronless demo`) first\n", o.where)
				return nil
			}
			return printResults(a.stdout, format, res)
		},
	}
	latest.Flags().StringVar(&target, "target", "", "only this target")
	latest.Flags().StringVarP(&output, "output", "o", "", "table, json (lines) or csv (default: table on a terminal, json otherwise)")
	cmd.AddCommand(latest)
	return cmd
}
