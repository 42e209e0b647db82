package cmdutil

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/iostreams"
)

// QueryOptions is what the commands that read the backend (results, runs)
// take: the Factory's streams, backend and clock, the stage, and the
// group's --output.
type QueryOptions struct {
	IO      *iostreams.IOStreams
	Backend func(context.Context) (*Backend, error)
	Now     func() time.Time
	Stage   string
	Output  string

	// ctx is the command's context (cobra's), for the run function.
	ctx context.Context
}

func NewQueryOptions(f *Factory) QueryOptions {
	return QueryOptions{IO: f.IOStreams, Backend: func(ctx context.Context) (*Backend, error) { return f.Backend(ctx) }, Now: f.Now}
}

// Set fills in what is known once cobra runs the command: the stage, the
// group's --output (a persistent flag) and the context.
func (o *QueryOptions) Set(f *Factory, cmd *cobra.Command) {
	o.Stage, o.ctx = f.Stage, cmd.Context()
	o.Output, _ = cmd.Flags().GetString("output")
}

// Open resolves the output format, then opens the backend. Close b when
// done (it is nil on error).
func (o *QueryOptions) Open() (format string, b *Backend, err error) {
	if format, err = OutputFormat(o.IO, o.Output); err != nil {
		return "", nil, err
	}
	if b, err = o.Backend(o.ctx); err != nil {
		return "", nil, err
	}
	return format, b, nil
}

// Context is the command's context.
func (o *QueryOptions) Context() context.Context { return o.ctx }
