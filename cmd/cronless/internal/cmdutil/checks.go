package cmdutil

import (
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/shared/cost"
	"github.com/cronless/cronless/shared/targets"
)

// LoadTargets loads and validates a targets file.
func LoadTargets(path string) (*targets.File, error) {
	tf, err := targets.Load(path)
	if err != nil {
		var te *targets.Error
		if errors.As(err, &te) {
			return nil, err
		}
		return nil, UsageError{Err: err}
	}
	return tf, nil
}

// NewCmdTargets finishes cmd as a command that reads a targets file
// (validate, schedules): it takes no arguments and --targets, the file's
// path, into path; when cobra runs it, it loads the file and runs run on
// opts and the file, or runF on opts instead when a test set one.
func NewCmdTargets[T any](cmd *cobra.Command, opts *T, path *string, runF func(*T) error, run func(*T, *targets.File) error) *cobra.Command {
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(*cobra.Command, []string) error {
		return RunOr(opts, runF, func(opts *T) error {
			tf, err := LoadTargets(*path)
			if err != nil {
				return err
			}
			return run(opts, tf)
		})
	}
	cmd.Flags().StringVar(path, "targets", "targets.yaml", "the targets file")
	return cmd
}

// DurationFlag checks a duration flag's value is within [lo, hi].
func DurationFlag(name string, d, lo, hi time.Duration) error {
	if d < lo || d > hi {
		return Usagef("--%s %s: must be between %s and %s", name, d, lo, hi)
	}
	return nil
}

// RangeFlag checks an int flag against the limit of the deployment setting
// it stands for, defined once in shared/cost.
func RangeFlag(name string, n int, r cost.Range) error { return IntFlag(name, n, r.Lo, r.Hi) }

// SecondsFlag checks a duration flag against a limit in whole seconds.
func SecondsFlag(name string, d time.Duration, r cost.Range) error {
	return DurationFlag(name, d, time.Duration(r.Lo)*time.Second, time.Duration(r.Hi)*time.Second)
}
