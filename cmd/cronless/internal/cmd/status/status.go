// Package status is `cronless status`: is it healthy, in one look.
package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	dlqcmd "github.com/cronless/cronless/cmd/cronless/internal/cmd/dlq"
	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/status"
	"github.com/cronless/cronless/shared/targets"
)

// ExitAttention is status's exit code when something needs attention.
const ExitAttention = 3

// ErrAttention is returned when something needs attention: the CLI exits
// ExitAttention on it.
var ErrAttention = errors.New("something needs attention")

// Bounds of what status reads.
const (
	runsRead = 1000 // the most recent runs read to find each schedule's last
)

// StatusOptions are the options of `status`.
type StatusOptions struct {
	cmdutil.QueryOptions
	TargetsFile string
	Stale       time.Duration
}

// NewCmdStatus is `status`; runF, when set, runs instead of statusRun (tests).
func NewCmdStatus(f *cmdutil.Factory, runF func(*StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{QueryOptions: cmdutil.NewQueryOptions(f)}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Is it healthy? Last runs, next ticks, queues, DLQs and alarms in one look",
		Long: fmt.Sprintf(`One screen on the local backend (default) or a deployed stage (--stage):

  - each schedule of the targets file: its last run (when, planned, ok, failed,
    dead-lettered, how long it took, or how long it has been draining) and its
    next tick;
  - each queue (ticks locally; targets and results) and each DLQ (targets DLQ,
    results DLQ; the planner failures queue on a stage): visible, in flight,
    delayed, and the age of its oldest message. On a stage the age is CloudWatch's
    AWS/SQS ApproximateAgeOfOldestMessage of the last 15 minutes, "-" when it has
    no datapoint (an idle queue sends none);
  - on a stage, the alarms (cronless-<stage>-*) now in ALARM;
  - what needs attention, each with the command to run next.

Dead letters are counted by run by looking at the targets DLQ without consuming
it, as `+"`cronless runs list`"+` does.

Exit status: 0 when healthy; %d when something needs attention (dead letters,
failed targets in a last run, a run draining or a queue's oldest message waiting
longer than --stale, an alarm in ALARM), so it serves as a health check; 1 when
status itself failed; 2 on a usage error.`, ExitAttention),
		Example: `  cronless status --targets targets.yaml
  cronless status --stage prod -o json
  cronless status --stage prod >/dev/null || echo "cronless needs attention"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Set(f, cmd)
			return cmdutil.RunOr(opts, runF, statusRun)
		},
	}
	cmd.Flags().StringVar(&opts.TargetsFile, "targets", "targets.yaml", "the targets file")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "table or json (default: table on a terminal, else json)")
	cmd.Flags().DurationVar(&opts.Stale, "stale", status.DefaultStale, "how long a run may drain, or a queue's oldest message wait, before it needs attention")
	return cmd
}

func statusRun(opts *StatusOptions) error {
	format, err := cmdutil.OutputFormat(opts.IO, opts.Output)
	if err != nil {
		return err
	}
	if format == "csv" {
		return cmdutil.Usagef("--output csv: status prints table or json")
	}
	if err := cmdutil.DurationFlag("stale", opts.Stale, time.Second, 7*24*time.Hour); err != nil {
		return err
	}
	tf, err := cmdutil.LoadTargets(opts.TargetsFile)
	if err != nil {
		return err
	}
	ctx := opts.Context()
	o, err := opts.Backend(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	in, err := gather(ctx, opts, o, tf)
	if err != nil {
		return err
	}
	r := status.Assess(in)
	if format == "json" {
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		err = enc.Encode(r)
	} else {
		err = printReport(opts.IO.Out, r)
	}
	if err != nil {
		return err
	}
	if !r.Healthy {
		return fmt.Errorf("%d %s: %w", len(r.Problems), map[bool]string{true: "problem", false: "problems"}[len(r.Problems) == 1], ErrAttention)
	}
	return nil
}

// gather reads what Assess judges from the backend.
func gather(ctx context.Context, opts *StatusOptions, o *cmdutil.Backend, tf *targets.File) (status.Input, error) {
	now := opts.Now()
	in := status.Input{Where: o.Where, Now: now, Stage: opts.Stage, Targets: tf, Stale: opts.Stale}
	var err error
	if in.Runs, err = o.Store.Runs(ctx, runsRead); err != nil {
		return in, fmt.Errorf("list runs: %w", err)
	}
	if in.DeadLetters, err = deadLetters(ctx, opts, o.TargetsDLQ); err != nil {
		return in, err
	}
	type named struct {
		role string
		q    queue.Queue
		dlq  bool
	}
	qs := []named{{status.RoleTargets, o.Targets, false}, {status.RoleResults, o.Results, false},
		{status.RoleTargetsDLQ, o.TargetsDLQ, true}, {status.RoleResultsDLQ, o.ResultsDLQ, true}}
	if o.Ticks != nil {
		qs = append([]named{{status.RoleTicks, o.Ticks, false}}, qs...)
	}
	if o.PlannerFailures != nil {
		pf, err := o.PlannerFailures(ctx)
		if err != nil {
			return in, fmt.Errorf("the planner failures queue: %w", err)
		}
		qs = append(qs, named{status.RolePlannerFailures, pf, true})
	}
	for _, n := range qs {
		d, err := n.q.Depth(ctx)
		if err != nil {
			return in, err
		}
		q := status.Queue{Role: n.role, Name: n.q.Name(), DLQ: n.dlq, Visible: d.Visible, InFlight: d.InFlight, Delayed: d.Delayed}
		if aq, ok := n.q.(interface {
			OldestAge(context.Context) (time.Duration, bool, error)
		}); ok { // the local queues (localq)
			if q.OldestAge, q.AgeKnown, err = aq.OldestAge(ctx); err != nil {
				return in, err
			}
		}
		in.Queues = append(in.Queues, q)
	}
	if o.AWS == nil {
		return in, nil
	}
	cw := status.NewCloudWatch(*o.AWS)
	names := make([]string, len(in.Queues))
	for i, q := range in.Queues {
		names[i] = q.Name
	}
	ages, err := status.OldestAges(ctx, cw, names, now)
	if err != nil {
		return in, err
	}
	for i, q := range in.Queues {
		if age, ok := ages[q.Name]; ok && q.Total() > 0 {
			in.Queues[i].OldestAge, in.Queues[i].AgeKnown = age, true
		}
	}
	// serverless.yml names every alarm of the stage cronless-<stage>-<what>.
	if in.Alarms, err = status.Alarms(ctx, cw, "cronless-"+opts.Stage+"-"); err != nil {
		return in, err
	}
	return in, nil
}

// deadLetters counts the targets DLQ's messages by run, looking at them
// without consuming them (dlq.List), as `runs list` does.
func deadLetters(ctx context.Context, opts *StatusOptions, q queue.Queue) (map[string]int, error) {
	letters, err := dlqcmd.Peek(ctx, opts.IO, q, opts.Stage != "", "they are not counted by run")
	if err != nil {
		return nil, err
	}
	dead := map[string]int{}
	for _, l := range letters {
		dead[l.RunID]++
	}
	return dead, nil
}

func printReport(w io.Writer, r status.Report) error {
	fmt.Fprintf(w, "cronless status: %s at %s\n\n", r.Where, cmdutil.TableTime(r.At))
	t := cmdutil.NewTable("SCHEDULE", "LAST RUN", "SCHEDULED", "PLANNED", "OK", "FAILED", "DEAD-LETTERED", "IN FLIGHT", "TOOK", "NEXT TICK")
	for _, s := range r.Schedules {
		if s.LastRun == nil {
			t.Add(s.Name, "-", "-", "-", "-", "-", "-", "-", "-", cmdutil.TableTime(s.NextTick))
			continue
		}
		lr := s.LastRun
		took := "-"
		switch {
		case lr.Draining && lr.DrainingSeconds != nil:
			took = "draining " + status.Round(seconds(*lr.DrainingSeconds)).String()
		case lr.TookSeconds != nil:
			took = status.Round(seconds(*lr.TookSeconds)).String()
		}
		t.Add(s.Name, lr.ID, cmdutil.TableTime(lr.ScheduledAt), lr.Planned, lr.OK, lr.Failed, lr.DeadLettered, lr.InFlight, took, cmdutil.TableTime(s.NextTick))
	}
	if err := t.Write(w); err != nil {
		return err
	}
	fmt.Fprintln(w)
	t = cmdutil.NewTable("QUEUE", "NAME", "VISIBLE", "IN FLIGHT", "DELAYED", "OLDEST")
	for _, q := range r.Queues {
		age := "-"
		if q.OldestAgeSeconds != nil {
			age = status.Round(seconds(*q.OldestAgeSeconds)).String()
		}
		t.Add(q.Role, q.Name, q.Visible, q.InFlight, q.Delayed, age)
	}
	if err := t.Write(w); err != nil {
		return err
	}
	if r.Alarms != nil {
		fmt.Fprintln(w)
		if len(r.Alarms) == 0 {
			fmt.Fprintln(w, "No alarm in ALARM.")
		} else {
			t = cmdutil.NewTable("ALARM", "SINCE", "REASON")
			for _, a := range r.Alarms {
				t.Add(a.Name, cmdutil.TableTime(a.Since), cmdutil.Clip(cmdutil.OrDashS(a.Reason), 100))
			}
			if err := t.Write(w); err != nil {
				return err
			}
		}
	}
	fmt.Fprintln(w)
	if r.Healthy {
		fmt.Fprintln(w, "Healthy: nothing needs attention.")
		return nil
	}
	fmt.Fprintln(w, "Needs attention:")
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  - %s\n", p.What)
		if p.Next != "" {
			fmt.Fprintf(w, "    next: %s\n", p.Next)
		}
	}
	return nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
