package dlq

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	deadletter "github.com/cronless/cronless/shared/dlq"
	"github.com/cronless/cronless/shared/queue"
)

// An action is what replay and purge do to the messages that match: its
// name (replay), what it is doing (replaying), and what it does to a
// message (move) and did (moved).
type action struct{ name, doing, verb, done string }

var (
	replayAction = action{"replay", "replaying", "move", "moved"}
	purgeAction  = action{"purge", "purging", "purge", "purged"}
)

// actOptions are the options replay and purge share: the dlq options and
// --dry-run.
type actOptions struct {
	dlqOptions
	DryRun bool
}

// registerDryRun registers --dry-run; help says what it prints.
func (o *actOptions) registerDryRun(cmd *cobra.Command, help string) {
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, help)
}

// act does a to q's matching messages (do, with the scan options and the
// report of each message), with a progress bar; it prints what became of
// each message, then a summary line that ends with where (the queues and
// the backend) and, unless --dry-run, note, and returns an error that says
// what was not done.
func (opts *actOptions) act(format string, q queue.Queue, a action, where, note string, sopts deadletter.Options,
	do func(deadletter.Options, deadletter.Report) (deadletter.Summary, error)) error {
	done := Progress(opts.ctx, opts.IO, q, a.doing+" "+q.Name(), &sopts)
	out := newActionPrinter(opts.IO.Out, format, opts.Now, opts.queue == plannerQueue)
	sum, err := do(sopts, out.report)
	done()
	if perr := out.flush(); perr != nil && err == nil {
		err = perr
	}
	n := sum.Moved + sum.Purged // the one a counts; the other is 0
	if opts.DryRun {
		summary(opts.IO, format, fmt.Sprintf("dry run: would %s %d, skipped %d; nothing changed (%s)", a.verb, n, sum.Skipped, where))
	} else {
		summary(opts.IO, format, fmt.Sprintf("%s %d, skipped %d, failed %d (%s)%s", a.done, n, sum.Skipped, sum.Failed, where, note))
	}
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("interrupted: what was not %s is still in %s", a.done, q.Name())
	case err != nil:
		return fmt.Errorf("%s: %w", a.name, err)
	case sum.Failed > 0:
		return fmt.Errorf("%d messages were not %s; they are still in %s", sum.Failed, a.done, q.Name())
	}
	return nil
}
