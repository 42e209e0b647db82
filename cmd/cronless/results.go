package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/shared/sqlite"
	"github.com/cronless/cronless/shared/store/localstore"
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
			st, closeStore, err := openStore(cmd.Context(), a.db)
			if err != nil {
				return err
			}
			defer closeStore()
			res, err := st.Latest(cmd.Context(), target)
			if err != nil {
				return fmt.Errorf("latest results: %w", err)
			}
			if len(res) == 0 && format == "table" {
				fmt.Fprintf(a.stderr, "no results in %s yet: run `cronless run --once` (or `cronless demo`) first\n", a.db)
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

// openStore opens only the results store of the local backend.
func openStore(ctx context.Context, path string) (*localstore.Store, func(), error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("no local backend at %s yet: run `cronless run --once` or `cronless demo` first, or point --db at one", path)
	}
	db, err := sqlite.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := localstore.New(ctx, db)
	if err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("local store %s: %w", path, err)
	}
	return st, func() { _ = db.Close() }, nil
}
