package main

import (
	"errors"

	"github.com/spf13/cobra"

	statuscmd "github.com/cronless/cronless/cmd/cronless/internal/cmd/status"
)

// exitAttention is the exit code of `cronless status` when something needs
// attention (a health check's failure, apart from status failing: 1).
const exitAttention = statuscmd.ExitAttention

// newCmdStatus is `cronless status`.
func newCmdStatus(a *Factory) *cobra.Command { return statuscmd.NewCmdStatus(a, nil) }

// exitCode is the exit code of a command that failed with err, neither a
// usage error nor a targets file's: exitAttention for status's verdict,
// else exitError.
func exitCode(err error) int {
	if errors.Is(err, statuscmd.ErrAttention) {
		return exitAttention
	}
	return exitError
}
