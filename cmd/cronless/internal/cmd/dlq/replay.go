package dlq

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	deadletter "github.com/cronless/cronless/shared/dlq"
	"github.com/cronless/cronless/shared/queue"
)

// DLQReplayOptions are the options of `dlq replay`.
type DLQReplayOptions struct {
	actOptions
	Rate        float64
	All, Native bool
}

// NewCmdDLQReplay is `dlq replay`; runF, when set, runs instead of dlqReplayRun (tests).
func NewCmdDLQReplay(f *cmdutil.Factory, runF func(*DLQReplayOptions) error) *cobra.Command {
	opts := &DLQReplayOptions{actOptions: actOptions{dlqOptions: newDLQOptions(f)}}
	cmd := newCmdScan(f, &cobra.Command{
		Use:   "replay",
		Short: "Move dead-lettered messages back to the queue they came from",
		Long: `Move the messages that match the filters back to their source queue (the targets
DLQ's to the targets queue, the results DLQ's to the results queue), to be processed
again. --queue planner re-delivers the ticks and shard events of the planner failures
queue to the planner instead: on a stage as asynchronous invocations of the planner
function (InvocationType Event), locally on the ticks queue; a malformed one (neither a
tick nor a shard event) is not replayed and stays in the queue. Say what to move with --target, --run, --error-kind or --older-than, or
--all for everything.

Each message is sent first and deleted from the DLQ only after the send succeeded,
so an interruption at any moment (Ctrl-C, kill -9, a network error) loses nothing:
at worst a message is in both queues and is processed twice, which the pipeline
absorbs (results are keyed by target and run). Messages keep their body and
attributes, less the error_* attributes a handler adds when it dead-letters a
malformed message (a replayed malformed message is dead-lettered again, with a
fresh reason). The other messages stay in the DLQ, untouched.

--dry-run prints exactly what would move and changes nothing. A summary ends the
output: moved, skipped (did not match) and failed (still in the DLQ). The exit code
is 1 when any failed.

--native (a deployed stage only) hands the whole DLQ to SQS instead: a message move
task (StartMessageMoveTask) moves every message back to its source queue at
--rate, and cronless shows its progress until it is done. Ctrl-C stops watching,
not the task; ` + "`cronless dlq cancel`" + ` cancels it.`,
		Example: `  cronless dlq replay --target example --dry-run
  cronless dlq replay --target example
  cronless dlq replay --error-kind http_5xx --older-than 1h --rate 5 --stage prod
  cronless dlq replay --queue planner --run hourly-20261127T090000Z --stage prod
  cronless dlq replay --all --native --rate 50 --stage prod`,
	}, opts, &opts.dlqOptions, "move at most this many messages", runF, dlqReplayRun)
	cmd.Flags().Float64Var(&opts.Rate, "rate", 0, "send at most this many messages a second (0: no cap)")
	opts.registerDryRun(cmd, "print what would move and change nothing")
	cmd.Flags().BoolVar(&opts.All, "all", false, "replay every message of the queue")
	cmd.Flags().BoolVar(&opts.Native, "native", false, "with --all, on a stage: let SQS move the messages (StartMessageMoveTask)")
	return cmd
}

func dlqReplayRun(opts *DLQReplayOptions) error {
	format, flt, err := opts.parse(opts.IO)
	if err != nil {
		return err
	}
	if opts.Rate < 0 || math.IsNaN(opts.Rate) || math.IsInf(opts.Rate, 0) {
		return cmdutil.Usagef("--rate %v: must be 0 (no cap) or more messages a second", opts.Rate)
	}
	if opts.Native {
		if err := checkMoveQueue(opts.queue); err != nil {
			return err
		}
		if !opts.All || !flt.IsZero() || opts.limit != 0 {
			return cmdutil.Usagef("--native moves the whole queue with an SQS message move task, which cannot filter: pass --all and no --target, --run, --error-kind, --older-than or --limit (or drop --native)")
		}
		if opts.Stage == "" {
			return cmdutil.Usagef("--native needs a deployed stage (--stage): it uses SQS message move tasks, which the local backend does not have; locally, use `cronless dlq replay --all`")
		}
		if opts.Rate != float64(int(opts.Rate)) || opts.Rate > queue.MaxMovePerSecond {
			return cmdutil.Usagef("--rate %v: a move task takes a whole number of messages a second, up to %d", opts.Rate, queue.MaxMovePerSecond)
		}
		return replayNative(opts, int(opts.Rate))
	}
	if opts.All && !flt.IsZero() {
		return cmdutil.Usagef("--all moves every message: drop it, or the filters")
	}
	if !opts.All && flt.IsZero() && !opts.DryRun {
		return cmdutil.Usagef("say what to replay: --target, --run, --error-kind or --older-than, or --all for every message (try --dry-run first)")
	}
	o, pairs, sopts, err := opts.openDLQs(flt)
	if err != nil {
		return err
	}
	defer o.Close()
	p := pairs[0]
	if p.name == plannerQueue {
		return replayPlanner(opts, o, format, p.dlq, sopts)
	}
	return opts.act(format, p.dlq, replayAction, p.dlq.Name()+" → "+p.source.Name()+" on "+o.Where, "", sopts,
		func(sopts deadletter.Options, report deadletter.Report) (deadletter.Summary, error) {
			return deadletter.Replay(opts.ctx, p.dlq, p.source, deadletter.ReplayOptions{Options: sopts, Rate: opts.Rate, DryRun: opts.DryRun, Report: report})
		})
}

// replayPlanner re-delivers the planner failures that match to the
// planner: on a stage as asynchronous invocations of the planner function,
// locally on the ticks queue.
func replayPlanner(opts *DLQReplayOptions, o *cmdutil.Backend, format string, q queue.Queue, sopts deadletter.Options) error {
	if o.Planner == nil {
		return fmt.Errorf("%s has no ticks queue to re-deliver to: a `cronless run` of this version creates it", o.Where)
	}
	dest, err := o.Planner(opts.ctx)
	if err != nil {
		return fmt.Errorf("the planner: %w", err)
	}
	note := "; the planner plans them again (a failure comes back here)"
	return opts.act(format, q, replayAction, q.Name()+" → "+dest.Name()+" on "+o.Where, note, sopts,
		func(sopts deadletter.Options, report deadletter.Report) (deadletter.Summary, error) {
			return deadletter.ReplayPlanner(opts.ctx, q, dest, deadletter.ReplayOptions{Options: sopts, Rate: opts.Rate, DryRun: opts.DryRun, Report: report})
		})
}

// replayNative moves a stage's whole DLQ back with an SQS message move task
// and watches it.
func replayNative(opts *DLQReplayOptions, rate int) error {
	ctx := opts.ctx
	o, m, p, err := opts.openMover()
	if err != nil {
		return err
	}
	defer o.Close()
	if opts.DryRun {
		d, err := p.dlq.Depth(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.Out, "dry run: would start a message move task moving every message of %s (about %d) back to %s on %s; nothing changed\n",
			p.dlq.Name(), d.Total(), p.source.Name(), o.Where)
		return nil
	}
	handle, err := deadletter.StartMove(ctx, m, rate)
	if err != nil {
		return fmt.Errorf("start a move task from %s: %w", p.dlq.Name(), movesUnsupported(err))
	}
	fmt.Fprintf(opts.IO.ErrOut, "cronless: move task %s started: %s → its source queue; Ctrl-C stops watching, not the task\n", handle, p.dlq.Name())
	t, err := watchMove(ctx, opts.IO, m, handle, "moving "+p.dlq.Name(), dlqMoveInterval)
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("stopped watching; move task %s keeps running on AWS (%d moved so far). Cancel it with: cronless dlq cancel %s --stage %s --queue %s",
			handle, t.Moved, handle, opts.Stage, orTargets(opts.queue))
	}
	if err != nil {
		return fmt.Errorf("watch move task %s: %w", handle, err)
	}
	switch t.Status {
	case queue.MoveCompleted:
		fmt.Fprintf(opts.IO.Out, "moved %d messages from %s back to their source queue on %s\n", t.Moved, p.dlq.Name(), o.Where)
		return nil
	case queue.MoveCancelled:
		return fmt.Errorf("move task %s was cancelled after moving %d messages", handle, t.Moved)
	}
	return fmt.Errorf("move task %s ended %s after moving %d messages: %s", handle, t.Status, t.Moved, t.FailureReason)
}
