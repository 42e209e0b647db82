package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/iostreams"
)

// queryOptions is what the commands that read the backend (results, runs)
// take: the Factory's streams, backend and clock, the stage, and the
// group's --output.
type queryOptions struct {
	IO      *iostreams.IOStreams
	Backend func(context.Context) (*backend, error)
	Now     func() time.Time
	Stage   string
	Output  string

	// ctx is the command's context (cobra's), for the run function.
	ctx context.Context
}

func newQueryOptions(f *Factory) queryOptions {
	return queryOptions{IO: f.IOStreams, Backend: f.Backend, Now: f.Now}
}

// set fills in what is known once cobra runs the command: the stage, the
// group's --output (a persistent flag) and the context.
func (o *queryOptions) set(f *Factory, cmd *cobra.Command) {
	o.Stage, o.ctx = f.Stage, cmd.Context()
	o.Output, _ = cmd.Flags().GetString("output")
}

// open resolves the output format, then opens the backend. Close b when
// done (it is nil on error).
func (o *queryOptions) open() (format string, b *backend, err error) {
	if format, err = outputFormat(o.IO, o.Output); err != nil {
		return "", nil, err
	}
	if b, err = o.Backend(o.ctx); err != nil {
		return "", nil, err
	}
	return format, b, nil
}
