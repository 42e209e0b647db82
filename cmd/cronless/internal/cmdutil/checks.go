package cmdutil

import (
	"errors"
	"time"

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
