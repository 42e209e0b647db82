package dlq

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/cmd/cronless/internal/iostreams"
	deadletter "github.com/cronless/cronless/shared/dlq"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/worker"
)

// dlqErrorKinds are the error kinds a dead letter can have; --error-kind
// takes one of them.
var dlqErrorKinds = worker.ErrorKinds()

// StageWait is each receive's long poll on SQS when paging through a DLQ:
// a short receive samples only some of SQS's servers, so an empty one does
// not prove the queue has nothing visible left. The local backend answers
// exactly without waiting.
const StageWait = time.Second

// dlqMoveInterval is how often `dlq replay --native` polls its move task.
const dlqMoveInterval = 2 * time.Second

// dlqOptions is what every dlq command takes: the Factory's streams,
// backend and clock, the stage (SQS has what the local backend lacks), and
// the flags the commands share.
type dlqOptions struct {
	IO      *iostreams.IOStreams
	Backend func(context.Context) (*cmdutil.Backend, error)
	Now     func() time.Time
	Stage   string
	dlqFlags

	// ctx is the command's context (cobra's), for the run function.
	ctx context.Context
}

// newDLQOptions returns the options of a dlq command from f; the stage and
// the context are known only when the command runs (set).
func newDLQOptions(f *cmdutil.Factory) dlqOptions {
	return dlqOptions{IO: f.IOStreams, Backend: f.Backend, Now: f.Now}
}

// set fills in what is known once cobra runs the command.
func (o *dlqOptions) set(f *cmdutil.Factory, cmd *cobra.Command) {
	o.Stage, o.ctx = f.Stage, cmd.Context()
}

// dlqFlags are the flags the dlq commands share.
type dlqFlags struct {
	queue      string
	output     string
	visibility time.Duration
	limit      int
	target     string
	run        string
	errorKind  string
	olderThan  string
}

func (f *dlqFlags) registerQueue(cmd *cobra.Command, def string) {
	help := "the dead-letter queue: targets (jobs the workers gave up on), results (results that could not be stored) or planner (ticks and shard events the planner failed on)"
	if def == "" {
		help += " (default: look in both)"
	}
	cmd.Flags().StringVar(&f.queue, "queue", def, help)
	cmd.Flags().DurationVar(&f.visibility, "visibility", deadletter.DefaultVisibility,
		"how long each message stays hidden while cronless pages through the queue (extended as it works; if cronless is killed, the messages come back after this long); also the longest wait for messages in flight that cronless does not hold")
}

func (f *dlqFlags) registerOutput(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "table, json (JSON lines) or csv (default: table on a terminal, else json)")
}

func (f *dlqFlags) registerFilters(cmd *cobra.Command, limitHelp string) {
	cmd.Flags().StringVar(&f.target, "target", "", "only messages of this target ID")
	cmd.Flags().StringVar(&f.run, "run", "", "only messages of this run ID")
	cmd.Flags().StringVar(&f.errorKind, "error-kind", "", "only messages whose last error has this kind ("+strings.Join(dlqErrorKinds, ", ")+")")
	cmd.Flags().StringVar(&f.olderThan, "older-than", "", "only messages first sent at least this long ago (a duration: 90m, 24h, 7d, 1d12h)")
	cmd.Flags().IntVar(&f.limit, "limit", 0, limitHelp+" (0: no limit)")
}

// newCmdScan finishes cmd as a dlq command that goes through one queue
// (list, replay, purge): it takes no arguments and the queue, output and
// filter flags (limitHelp says what --limit bounds), and its RunE fills in
// o, opts' dlqOptions, then runs run on opts, or runF instead when a test
// set one.
func newCmdScan[T any](f *cmdutil.Factory, cmd *cobra.Command, opts *T, o *dlqOptions, limitHelp string, runF, run func(*T) error) *cobra.Command {
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		o.set(f, cmd)
		return cmdutil.RunOr(opts, runF, run)
	}
	o.registerQueue(cmd, "targets")
	o.registerOutput(cmd)
	o.registerFilters(cmd, limitHelp)
	return cmd
}

// parse checks the output format, the filters and the --queue flag (one
// queue) that list, replay and purge share.
func (f *dlqFlags) parse(ios *iostreams.IOStreams) (format string, flt deadletter.Filter, err error) {
	if format, err = cmdutil.OutputFormat(ios, f.output); err != nil {
		return "", flt, err
	}
	if err := checkQueueFlag(f.queue, false); err != nil {
		return "", flt, err
	}
	if f.queue == plannerQueue && (f.target != "" || f.errorKind != "") {
		return "", flt, cmdutil.Usagef("--target and --error-kind select jobs; the planner failures queue holds ticks and shard events: select them with --run, --older-than or --limit")
	}
	flt, err = f.filter()
	return format, flt, err
}

// filter checks the filter flags.
func (f *dlqFlags) filter() (deadletter.Filter, error) {
	flt := deadletter.Filter{TargetID: f.target, RunID: f.run, ErrorKind: f.errorKind}
	if f.errorKind != "" && !slices.Contains(dlqErrorKinds, f.errorKind) {
		return flt, cmdutil.Usagef("--error-kind %q: use one of %s", f.errorKind, strings.Join(dlqErrorKinds, ", "))
	}
	if f.olderThan != "" {
		d, err := cmdutil.ParseDays(f.olderThan)
		if err != nil {
			return flt, cmdutil.Usagef("--older-than %q: use a duration such as 90m, 24h, 7d or 1d12h", f.olderThan)
		}
		flt.OlderThan = d
	}
	if f.limit < 0 {
		return flt, cmdutil.Usagef("--limit %d: must be 0 (no limit) or more", f.limit)
	}
	return flt, nil
}

// plannerQueue is --queue's name of the planner failures queue.
const plannerQueue = "planner"

// dlqPair is a dead-letter queue and the queue its messages came from.
type dlqPair struct {
	name string // targets, results or planner
	dlq  queue.Queue
	// source is where a replay sends the messages: nil for the planner
	// failures queue, whose messages go back to the planner (openPlanner).
	source deadletter.Sender
}

// dlqPairs returns the DLQs that --queue names ("" : targets and
// results).
func dlqPairs(ctx context.Context, o *cmdutil.Backend, name string) ([]dlqPair, error) {
	pairs := []dlqPair{{"targets", o.TargetsDLQ, o.Targets}, {"results", o.ResultsDLQ, o.Results}}
	switch name {
	case "":
		return pairs, nil
	case "targets":
		return pairs[:1], nil
	case "results":
		return pairs[1:], nil
	case plannerQueue:
		if o.PlannerFailures == nil {
			return nil, fmt.Errorf("%s has no planner failures queue yet: a `cronless run` of this version creates it", o.Where)
		}
		q, err := o.PlannerFailures(ctx)
		if err != nil {
			return nil, fmt.Errorf("the planner failures queue: %w", err)
		}
		return []dlqPair{{name: plannerQueue, dlq: q}}, nil
	}
	return nil, cmdutil.Usagef("--queue %q: use targets, results or planner", name)
}

// checkQueueFlag checks --queue before anything is opened.
func checkQueueFlag(name string, allowBoth bool) error {
	if name == "targets" || name == "results" || name == plannerQueue || name == "" && allowBoth {
		return nil
	}
	return cmdutil.Usagef("--queue %q: use targets, results or planner", name)
}

// openDLQs opens the backend, the dead-letter queues --queue selects and
// the scan options of the flags. Close o when done (it is nil on error).
func (o *dlqOptions) openDLQs(flt deadletter.Filter) (*cmdutil.Backend, []dlqPair, deadletter.Options, error) {
	b, err := o.Backend(o.ctx)
	if err != nil {
		return nil, nil, deadletter.Options{}, err
	}
	pairs, err := dlqPairs(o.ctx, b, o.queue)
	if err == nil {
		var opts deadletter.Options
		if opts, err = o.scanOptions(b, flt); err == nil {
			return b, pairs, opts, nil
		}
	}
	b.Close()
	return nil, nil, deadletter.Options{}, err
}

func (o *dlqOptions) scanOptions(b *cmdutil.Backend, flt deadletter.Filter) (deadletter.Options, error) {
	if o.visibility < deadletter.MinVisibility || o.visibility > deadletter.MaxVisibility {
		return deadletter.Options{}, cmdutil.Usagef("--visibility %s: must be between %s and %s", o.visibility, deadletter.MinVisibility, deadletter.MaxVisibility)
	}
	opts := deadletter.Options{Filter: flt, Limit: o.limit, Visibility: o.visibility, History: b.Store, Now: o.Now}
	if o.queue == plannerQueue {
		// Its messages are ticks and shard events, explained by themselves.
		opts.Planner, opts.History = true, nil
	}
	if o.Stage != "" {
		opts.Wait = StageWait
	}
	return opts, nil
}

// NewCmdDLQ is the dlq command group.
func NewCmdDLQ(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "List, show, replay and purge dead-lettered messages",
		Long: `Work with the dead-letter queues: the targets DLQ holds jobs the workers gave up on
(retried maxReceiveCount times, or malformed), the results DLQ results that could not
be stored. --queue planner selects the planner failures queue: the schedule ticks and
shard events the planner failed on (Lambda's invocation records) or that EventBridge
Scheduler could not deliver; replaying one re-delivers its event to the planner. Every
command works on the local backend (--db) or a deployed stage (--stage).

Listing does not consume: cronless receives the messages to read them, keeps them
hidden while it pages through the queue, and makes them visible again at the end,
also when it fails or is interrupted (if it is killed, they come back after
--visibility). Each receive raises SQS's receive count by one; the counts shown are
as they were before the listing.

Every command sees the whole queue: when messages are in flight that cronless does
not hold (a receive whose response was lost hid them), it waits for them to come
back, up to --visibility; messages still in flight then are held by someone else
(another listing, replay or purge), and the command says so and exits 1.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdDLQList(f, nil), NewCmdDLQShow(f, nil), NewCmdDLQReplay(f, nil), NewCmdDLQCancel(f, nil), NewCmdDLQPurge(f, nil))
	return cmd
}
