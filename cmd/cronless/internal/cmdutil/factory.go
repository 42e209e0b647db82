package cmdutil

import (
	"context"
	"io"
	"time"

	"go.uber.org/zap"

	"github.com/cronless/cronless/cmd/cronless/internal/iostreams"
)

// Factory holds what every command shares: the streams, the clock, the
// program runner, the global flags and, through them, the backend.
type Factory struct {
	IOStreams *iostreams.IOStreams
	// Now is the commands' clock: the ages they print and what they compare
	// with (dlq --older-than). A test sets it to print fixed ages.
	Now func() time.Time
	// Exec runs another program (osls, for rollback).
	Exec func(ctx context.Context, argv []string, stdout, stderr io.Writer) error
	// Backend opens the backend the global flags select (Close it).
	Backend func(context.Context) (*Backend, error)
	// StoreBackend opens only the store of the backend the global flags
	// select (Where, Store and TargetList; no queues), for the commands
	// that need nothing else (targets): locally the SQLite file whether or
	// not a pipeline ever made its queues, created when create is set
	// (else a missing file is ErrNoBackend); on a stage its table alone.
	StoreBackend func(ctx context.Context, create bool) (*Backend, error)

	// The global flags, set once cobra has parsed them.
	DB       string
	Stage    string // a deployed stage; empty: the local backend
	Region   string
	Profile  string
	LogLevel string
	Logger   *zap.Logger // made from --log-level before a command runs
}

// RunOr runs a command's work, run, on its options, or runF instead when
// a test set one: cli/cli's seam for testing flag parsing apart from work.
func RunOr[T any](opts *T, runF, run func(*T) error) error {
	if runF != nil {
		return runF(opts)
	}
	return run(opts)
}
