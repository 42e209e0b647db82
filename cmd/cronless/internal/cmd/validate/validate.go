package validate

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/cmd/cronless/internal/iostreams"
	"github.com/cronless/cronless/shared/targets"
)

// ValidateOptions are the options of `validate`.
type ValidateOptions struct {
	IO          *iostreams.IOStreams
	Now         func() time.Time
	TargetsFile string
}

// NewCmdValidate is `validate`; runF, when set, runs instead of validateRun (tests).
func NewCmdValidate(f *cmdutil.Factory, runF func(*ValidateOptions) error) *cobra.Command {
	opts := &ValidateOptions{IO: f.IOStreams, Now: f.Now}
	return cmdutil.NewCmdTargets(&cobra.Command{
		Use:   "validate",
		Short: "Check a targets file and show when each schedule fires next",
		Long: `Check a targets file: every problem is reported with its line and column and
what to change. When the file is valid, each schedule is shown with its targets
and its next three times, and with how long one tick takes to start every job
when each host's jobs start at its rate (host_rate, hosts:).

Warnings, on stderr, do not make the file invalid (the exit status stays 0):
a tick that needs longer to start than the time to the next tick (ticks would
overlap), and a hosts: entry no target's URL is on.`,
		Example: "  cronless validate --targets targets.yaml",
	}, opts, &opts.TargetsFile, runF, validateRun)
}

func validateRun(opts *ValidateOptions, tf *targets.File) error {
	t := cmdutil.NewTable("SCHEDULE", "EXPRESSION", "TIMEZONE", "TARGETS", "NEXT")
	now := opts.Now()
	for _, name := range tf.ScheduleNames {
		sc := tf.Schedules[name]
		next, after := "", now
		for i := range 3 {
			at := sc.Expr.Next(after, sc.Location)
			if at.IsZero() {
				break
			}
			if i > 0 {
				next += ", "
			}
			next += at.In(sc.Location).Format("2006-01-02 15:04 MST")
			after = at
		}
		t.Add(name, sc.Expression, sc.Location, len(tf.TargetsFor(name)), next)
	}
	fmt.Fprintf(opts.IO.Out, "%s: valid, %d targets, %d schedules\n\n", opts.TargetsFile, len(tf.Targets), len(tf.Schedules))
	if err := t.Write(opts.IO.Out); err != nil {
		return err
	}
	fmt.Fprintln(opts.IO.Out)
	for _, name := range tf.ScheduleNames {
		sp := tf.TickSpread(name, now)
		fmt.Fprintln(opts.IO.Out, sp)
		if w := sp.Warning(); w != "" {
			fmt.Fprintf(opts.IO.ErrOut, "cronless: warning: %s\n", w)
		}
	}
	for _, p := range tf.UnusedHosts() {
		fmt.Fprintf(opts.IO.ErrOut, "cronless: warning: %s\n", p)
	}
	return nil
}
