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
and its next three times.`,
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
	return t.Write(opts.IO.Out)
}
