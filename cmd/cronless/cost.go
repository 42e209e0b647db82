package main

import "github.com/spf13/cobra"

// costCommand estimates the monthly AWS bill (issue 5; being written).
func (a *app) costCommand() *cobra.Command {
	return &cobra.Command{Use: "cost", Short: "Estimate the monthly AWS bill of a setup"}
}
