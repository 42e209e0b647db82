package dlq

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	deadletter "github.com/cronless/cronless/shared/dlq"
)

// DLQListOptions are the options of `dlq list`.
type DLQListOptions struct {
	dlqOptions
}

// NewCmdDLQList is `dlq list`; runF, when set, runs instead of dlqListRun (tests).
func NewCmdDLQList(f *cmdutil.Factory, runF func(*DLQListOptions) error) *cobra.Command {
	opts := &DLQListOptions{dlqOptions: newDLQOptions(f)}
	return newCmdScan(f, &cobra.Command{
		Use:   "list",
		Short: "List dead-lettered messages with the last error of each",
		Long: `List the messages of a dead-letter queue: message ID, target, run, URL, receive
count (as before this listing), age, and the last error of the message's (run,
target) from the error history, or the reason a handler gave when it dead-lettered
a malformed message itself.

With --queue planner it lists the planner failures queue: for each tick or shard
event the planner failed on (or Scheduler could not deliver), what failed (the tick
of a schedule at its time, or shard k of a run), its run, the attempts made, its age
and why (the Lambda error of the invocation record, or Scheduler's ERROR_CODE and
ERROR_MESSAGE). A message of neither shape is listed as malformed, with the reason.

The messages stay in the queue, visible again when the listing ends.`,
		Example: `  cronless dlq list --queue planner --stage prod
  cronless dlq list
  cronless dlq list --stage prod --queue results -o json
  cronless dlq list --target example --older-than 24h`,
	}, opts, &opts.dlqOptions, "list at most this many messages", runF, dlqListRun)
}

func dlqListRun(opts *DLQListOptions) error {
	format, flt, err := opts.parse(opts.IO)
	if err != nil {
		return err
	}
	b, pairs, sopts, err := opts.openDLQs(flt)
	if err != nil {
		return err
	}
	defer b.Close()
	q := pairs[0].dlq
	done := Progress(opts.ctx, opts.IO, q, "reading "+q.Name(), &sopts)
	letters, err := deadletter.List(opts.ctx, q, sopts)
	done()
	incomplete := errors.Is(err, deadletter.ErrIncomplete)
	if err != nil && !incomplete {
		return fmt.Errorf("list %s: %w", q.Name(), err)
	}
	if err := printLetters(opts.IO.Out, format, letters, opts.Now(), "", opts.queue == plannerQueue); err != nil {
		return err
	}
	if incomplete {
		// What it saw is printed; say what it could not see.
		return fmt.Errorf("list %s: %w; run it again later to see them", q.Name(), err)
	}
	if format == "table" {
		noun := "messages"
		if len(letters) == 1 {
			noun = "message"
		}
		fmt.Fprintf(opts.IO.Out, "\n%d %s in %s on %s (receive counts as before this listing; the messages are visible again).\n",
			len(letters), noun, q.Name(), b.Where)
	}
	return nil
}
