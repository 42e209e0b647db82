package cmdutil

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/shared/store"
)

// OutputUsage is the help of every --output flag.
const OutputUsage = "table, json (lines) or csv (default: table on a terminal, json otherwise)"

// GroupRunE is the RunE of a command that only groups subcommands: without
// arguments it prints the help; an unknown subcommand is a usage error.
func GroupRunE(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return Usagef("unknown command %q for %q (see %s --help)", args[0], cmd.CommandPath(), cmd.CommandPath())
	}
	return cmd.Help()
}

// FindRun returns a run, or an error saying that the backend has no such run.
func FindRun(ctx context.Context, o *Backend, runID string) (store.Run, error) {
	run, err := o.Store.Run(ctx, runID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Run{}, fmt.Errorf("run %s not found in %s: `cronless runs list` lists the runs", runID, o.Where)
	}
	if err != nil {
		return store.Run{}, fmt.Errorf("run %s: %w", runID, err)
	}
	return run, nil
}

// IntFlag checks an int flag's value is within [lo, hi].
func IntFlag(name string, n, lo, hi int) error {
	if n < lo || n > hi {
		return Usagef("--%s %d: must be between %d and %d", name, n, lo, hi)
	}
	return nil
}
