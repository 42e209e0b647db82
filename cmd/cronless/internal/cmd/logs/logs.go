// Package logs holds `cronless logs`: the three functions' log records,
// merged in time order, from the local backend or a stage.
package logs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/spf13/cobra"
	"go.uber.org/zap/zapcore"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/cmd/cronless/internal/iostreams"
	"github.com/cronless/cronless/shared/logs"
	"github.com/cronless/cronless/shared/logs/cwlogs"
)

// How often --follow reads again: the local file is cheap; a stage's
// FilterLogEvents has a small quota shared with everyone.
const (
	localPoll = 500 * time.Millisecond
	stagePoll = 5 * time.Second
)

// stageSince is how far back a stage is read without --since: its groups
// keep weeks of records.
const stageSince = time.Hour

// Options are the options of `logs`.
type Options struct {
	IO  *iostreams.IOStreams
	Now func() time.Time
	DB  string
	// Stage, when set, is read from CloudWatch Logs with the client
	// CloudWatch makes.
	Stage      string
	CloudWatch func(context.Context) (cloudwatchlogs.FilterLogEventsAPIClient, error)

	RunID, TargetID, Function, Level, Since, Output string
	Follow                                          bool
	// PollEvery is how often --follow reads again (0: 500 ms locally, 5 s on a stage).
	PollEvery time.Duration

	ctx context.Context
}

// NewCmdLogs is `logs`; runF, when set, runs instead of logsRun (tests).
func NewCmdLogs(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Show the planner's, workers' and results function's log records, merged in time order",
		Long: `Show the log records of the three functions (planner, worker, results), merged
in time order: a table on a terminal, JSON lines (the records as the functions
wrote them) when piped or with -o json.

Locally they are the records the pipeline (run, invoke, demo) kept beside the
database, in <db>.logs/, info and up whatever --log-level, the newest ~50 MiB.
With --stage they are read from the stage's CloudWatch log groups
(/aws/lambda/cronless-<stage>-<function>) with FilterLogEvents, paced under
the API's quota; without --since, the last hour.

--target with --run shows a target's story in that run: its own records and
the run's records that name no target (the planner's "run planned").`,
		Example: `  cronless logs --run hourly-20261207T090000Z --target example
  cronless logs --function worker --level warn --since 1h
  cronless logs --stage prod --run hourly-20261207T090000Z --follow`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.DB, opts.Stage, opts.ctx = f.DB, f.Stage, cmd.Context()
			if opts.CloudWatch == nil {
				opts.CloudWatch = func(ctx context.Context) (cloudwatchlogs.FilterLogEventsAPIClient, error) {
					cfg, err := cmdutil.StageConfig(ctx, f)
					if err != nil {
						return nil, err
					}
					return cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) {
						o.Retryer = retry.NewAdaptiveMode() // backs off when throttled
					}), nil
				}
			}
			return cmdutil.RunOr(opts, runF, logsRun)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&opts.RunID, "run", "", "only this run's records")
	fs.StringVar(&opts.TargetID, "target", "", "only this target's records (with --run, and the run's own)")
	fs.StringVar(&opts.Function, "function", "", "only this function's records: planner, worker or results")
	fs.StringVar(&opts.Level, "level", "debug", "the least level shown: debug, info, warn or error")
	fs.StringVar(&opts.Since, "since", "", "only records since this long ago (1h, 2d) or this time (RFC 3339); on a stage the default is 1h")
	fs.BoolVarP(&opts.Follow, "follow", "f", false, "keep printing new records until Ctrl-C")
	fs.StringVarP(&opts.Output, "output", "o", "", "table or json (lines) (default: table on a terminal, json otherwise)")
	return cmd
}

// filter checks the flags and makes the filter they say.
func (o *Options) filter() (logs.Filter, error) {
	f := logs.Filter{RunID: o.RunID, TargetID: o.TargetID, Function: o.Function}
	if f.Function != "" && !slices.Contains(logs.Functions, f.Function) {
		return f, cmdutil.Usagef("--function %q: use planner, worker or results", f.Function)
	}
	lvl, err := zapcore.ParseLevel(o.Level)
	if err != nil || !slices.Contains([]zapcore.Level{zapcore.DebugLevel, zapcore.InfoLevel, zapcore.WarnLevel, zapcore.ErrorLevel}, lvl) {
		return f, cmdutil.Usagef("--level %q: use debug, info, warn or error", o.Level)
	}
	f.MinLevel = lvl
	switch {
	case o.Since == "":
		if o.Stage != "" {
			f.Since = o.Now().Add(-stageSince)
		}
	default:
		if t, err := time.Parse(time.RFC3339Nano, o.Since); err == nil {
			f.Since = t
		} else if d, err := cmdutil.ParseDays(o.Since); err == nil {
			f.Since = o.Now().Add(-d)
		} else {
			return f, cmdutil.Usagef("--since %q: use a duration (30m, 1h, 2d) or an RFC 3339 time (2026-12-07T09:00:00Z)", o.Since)
		}
	}
	return f, nil
}

func logsRun(o *Options) error {
	f, err := o.filter()
	if err != nil {
		return err
	}
	format, err := cmdutil.OutputFormat(o.IO, o.Output)
	if err != nil || format == "csv" {
		return cmdutil.Usagef("--output %q: use table or json", o.Output)
	}
	p := &printer{w: o.IO.Out, json: format == "json"}
	every := o.PollEvery
	if o.Stage != "" {
		if every <= 0 {
			every = stagePoll
		}
		return o.stage(f, every, p)
	}
	if every <= 0 {
		every = localPoll
	}
	return o.local(f, every, p)
}

func (o *Options) local(f logs.Filter, every time.Duration, p *printer) error {
	t := &logs.Tail{Dir: logs.Dir(o.DB)}
	for {
		rs, err := t.Poll(f)
		if errors.Is(err, logs.ErrNoLogs) {
			return fmt.Errorf("no log records beside %s yet (%s): the local pipeline keeps them when it runs (`cronless run`, `invoke`, `demo`); point --db at another backend, or use --stage", o.DB, t.Dir)
		}
		if err != nil {
			return err
		}
		if err := p.print(rs); err != nil {
			return err
		}
		if !o.Follow {
			return nil
		}
		select {
		case <-o.ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}

func (o *Options) stage(f logs.Filter, every time.Duration, p *printer) error {
	client, err := o.CloudWatch(o.ctx)
	if err != nil {
		return err
	}
	r := &cwlogs.Reader{Client: client, Stage: o.Stage}
	if !o.Follow {
		rs, err := r.Read(o.ctx, f, f.Since)
		if err != nil {
			return err
		}
		return p.print(rs)
	}
	return r.Follow(o.ctx, f, f.Since, every, p.print)
}

// printer prints records as a table or JSON lines; a follow's later
// batches continue the table without its header.
type printer struct {
	w       io.Writer
	json    bool
	started bool
}

func (p *printer) print(rs []logs.Record) error {
	if p.json {
		enc := json.NewEncoder(p.w)
		for _, r := range rs {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	if len(rs) == 0 {
		return nil
	}
	t := cmdutil.NewTable("TIME", "FUNCTION", "LEVEL", "RUN", "TARGET", "MESSAGE", "FIELDS")
	for _, r := range rs {
		fields := r.CompactFields()
		if r.MessageID != "" {
			fields = strings.TrimSpace("message_id=" + r.MessageID + " " + fields)
		}
		t.Add(r.Time.UTC().Format("2006-01-02T15:04:05.000Z"), r.Function, r.Level, cmdutil.OrDashS(r.RunID), cmdutil.OrDashS(r.TargetID), r.Msg, cmdutil.Clip(fields, 120))
	}
	if p.started {
		return t.WriteRows(p.w)
	}
	p.started = true
	return t.Write(p.w)
}
