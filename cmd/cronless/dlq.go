package main

import "github.com/spf13/cobra"

// dlqCommand is the dead-letter queue commands (issue 5; being written).
func (a *app) dlqCommand() *cobra.Command {
	return &cobra.Command{Use: "dlq", Short: "List, show, replay and purge dead-lettered messages"}
}
