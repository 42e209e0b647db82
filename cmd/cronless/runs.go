package main

import "github.com/spf13/cobra"

// runsCommand is the runs commands (issue 5; being written).
func (a *app) runsCommand() *cobra.Command {
	return &cobra.Command{Use: "runs", Short: "List runs and show one"}
}
