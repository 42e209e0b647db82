package dlq

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	deadletter "github.com/cronless/cronless/shared/dlq"
	"github.com/cronless/cronless/shared/queue/sqsq"
)

// openMover opens the backend and the move-task API of the stage's DLQ
// that --queue names. Close o when done (it is nil on error).
func (opts *dlqOptions) openMover() (o *cmdutil.Backend, m deadletter.Mover, p dlqPair, err error) {
	if o, err = opts.Backend(opts.ctx); err != nil {
		return nil, nil, dlqPair{}, err
	}
	pairs, err := dlqPairs(opts.ctx, o, opts.queue)
	if err != nil {
		o.Close()
		return nil, nil, dlqPair{}, err
	}
	sq := o.SQS[pairs[0].dlq]
	if sq == nil {
		o.Close()
		return nil, nil, dlqPair{}, cmdutil.Usagef("message move tasks need a deployed stage (--stage)")
	}
	return o, sq, pairs[0], nil
}

// checkMoveQueue checks the --queue of a message move task: targets or
// results, whose DLQs are SQS redrive DLQs.
func checkMoveQueue(name string) error {
	if name == plannerQueue {
		return cmdutil.Usagef("the planner failures queue has no message move tasks: its messages go back to the planner, not to a queue; use `cronless dlq replay --queue planner` without --native")
	}
	return checkQueueFlag(name, false)
}

// movesUnsupported explains a server without message move tasks.
func movesUnsupported(err error) error {
	if errors.Is(err, sqsq.ErrMovesUnsupported) {
		return fmt.Errorf("message move tasks are not supported by this server (%w); use `cronless dlq replay --all` without --native", err)
	}
	return err
}

func orTargets(q string) string {
	if q == "" {
		return "targets"
	}
	return q
}

// DLQCancelOptions are the options of `dlq cancel`.
type DLQCancelOptions struct {
	dlqOptions
	Handle string // empty: the DLQ's running task
}

// NewCmdDLQCancel is `dlq cancel`; runF, when set, runs instead of dlqCancelRun (tests).
func NewCmdDLQCancel(f *cmdutil.Factory, runF func(*DLQCancelOptions) error) *cobra.Command {
	opts := &DLQCancelOptions{dlqOptions: newDLQOptions(f)}
	cmd := &cobra.Command{
		Use:   "cancel [TASK_HANDLE]",
		Short: "Cancel the running message move task of a stage's DLQ (dlq replay --native)",
		Long: `Cancel a message move task started by ` + "`cronless dlq replay --all --native`" + `: the one
with TASK_HANDLE, or the DLQ's running task. Messages already moved stay moved; the
rest stay in the DLQ. A deployed stage only.`,
		Example: `  cronless dlq cancel --stage prod
  cronless dlq cancel --stage prod --queue results`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.set(f, cmd)
			if len(args) == 1 {
				opts.Handle = args[0]
			}
			return cmdutil.RunOr(opts, runF, dlqCancelRun)
		},
	}
	cmd.Flags().StringVar(&opts.queue, "queue", "targets", "the dead-letter queue: targets or results (the planner failures queue has no move tasks)")
	return cmd
}

func dlqCancelRun(opts *DLQCancelOptions) error {
	if err := checkMoveQueue(opts.queue); err != nil {
		return err
	}
	if opts.Stage == "" {
		return cmdutil.Usagef("dlq cancel needs a deployed stage (--stage): message move tasks exist only on SQS")
	}
	o, m, p, err := opts.openMover()
	if err != nil {
		return err
	}
	defer o.Close()
	handle, moved, err := deadletter.CancelMove(opts.ctx, m, opts.Handle)
	if errors.Is(err, deadletter.ErrNoRunningMove) {
		return fmt.Errorf("%s on %s has no running move task", p.dlq.Name(), o.Where)
	}
	if err != nil {
		return fmt.Errorf("cancel the move task of %s: %w", p.dlq.Name(), movesUnsupported(err))
	}
	fmt.Fprintf(opts.IO.Out, "cancelled move task %s of %s after %d messages moved; the rest stay in the DLQ\n", handle, p.dlq.Name(), moved)
	return nil
}
