package local

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/shared/planner"
)

// InvokeOptions are the options of `invoke`.
type InvokeOptions struct {
	localOptions
	Handler   string // planner, worker or results
	EventFile string
}

// NewCmdInvoke is `invoke`; runF, when set, runs instead of invokeRun (tests).
func NewCmdInvoke(f *cmdutil.Factory, runF func(*InvokeOptions) error) *cobra.Command {
	opts := &InvokeOptions{localOptions: newLocalOptions(f)}
	cmd := &cobra.Command{
		Use:   "invoke planner|worker|results --event FILE",
		Short: "Run one handler with a sample event on the local backend and print its response",
		Long: `Run one handler core, the very code the Lambda function runs, with an event
from a file (see events/), on the local backend, and print the response JSON.

  planner   takes a Scheduler payload (events/schedule.json) and sends jobs to the
            local targets queue;
  worker    takes an SQS batch of jobs (events/worker-sqs.json), crawls them and
            sends results to the local results queue;
  results   takes an SQS batch of results (events/results-sqs.json) and stores them.`,
		Example: `  cronless invoke planner --event events/schedule.json --targets targets.yaml
  cronless invoke results --event events/results-sqs.json`,
		ValidArgs: []string{"planner", "worker", "results"},
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.set(f, cmd)
			opts.Handler = args[0]
			return cmdutil.RunOr(opts, runF, invokeRun)
		},
	}
	cmd.Flags().StringVar(&opts.EventFile, "event", "", "the event JSON file (see events/)")
	cmd.Flags().StringVar(&opts.Pipeline.targetsFile, "targets", "targets.yaml", "the targets file (the planner reads it)")
	opts.Pipeline.register(cmd)
	return cmd
}

func invokeRun(opts *InvokeOptions) error {
	if opts.EventFile == "" {
		return cmdutil.Usagef("--event is required: a JSON event file such as events/schedule.json")
	}
	data, err := os.ReadFile(opts.EventFile)
	if err != nil {
		return cmdutil.Usagef("--event: %v", err)
	}
	ctx := opts.ctx
	p, b, err := openPipeline(ctx, &opts.Pipeline, opts.DB, opts.Log)
	if err != nil {
		return err
	}
	defer b.Close()

	var resp any
	switch opts.Handler {
	case "planner":
		var tick planner.Tick
		if err := json.Unmarshal(data, &tick); err != nil {
			return cmdutil.Usagef("%s is not a planner event: %v", opts.EventFile, err)
		}
		resp, err = p.Planner().Handle(ctx, tick)
	case "worker", "results":
		var ev events.SQSEvent
		if err := json.Unmarshal(data, &ev); err != nil {
			return cmdutil.Usagef("%s is not an SQS event (see events/%s-sqs.json): %v", opts.EventFile, opts.Handler, err)
		}
		if len(ev.Records) == 0 {
			return cmdutil.Usagef("%s is not an SQS event with records (see events/%s-sqs.json)", opts.EventFile, opts.Handler)
		}
		if opts.Handler == "worker" {
			resp, err = p.Worker().Handle(ctx, ev)
		} else {
			resp, err = p.ResultsHandler().Handle(ctx, ev)
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", opts.Handler, err)
	}
	enc := json.NewEncoder(opts.IO.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(resp)
}
