package results

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/shared/job"
)

// NewCmdResults is the results command group.
func NewCmdResults(f *cmdutil.Factory) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "results",
		Short: "Query the stored results",
		Long: `Query the stored results of the local backend (default) or of a deployed stage (--stage).

Tables are for a person: extracted fields flat in one column, times in UTC. JSON
lines print each result whole; CSV gives every extracted field its own column
(fields.<name>). Without --output, a terminal gets a table and a pipe JSON lines.

--since and --until take ` + cmdutil.WhenUsage + `.`,
		Args: cobra.ArbitraryArgs,
		RunE: cmdutil.GroupRunE,
	}
	cmd.PersistentFlags().StringVarP(&output, "output", "o", "", cmdutil.OutputUsage)
	for _, q := range []query{latest, history, run, changed, failed} {
		cmd.AddCommand(newCmdQuery(f, q, nil))
	}
	return cmd
}

// ResultsOptions are the options of a results subcommand: the parameters of
// its query, which its argument and flags set (each has some of them).
type ResultsOptions struct {
	cmdutil.QueryOptions
	Target       string // history TARGET, latest --target
	RunID        string // run RUN_ID, failed --run
	Since, Until string
	Limit        int

	from, to time.Time // --since and --until, once check has parsed them
}

// A query is a results subcommand: its help and arguments, where its one
// argument goes (arg, when it takes one), its flags, what it checks before
// it opens the backend (check, when it has flags to check), and what it
// asks the store (ask: the results, and what to say when there are none).
type query struct {
	use, short, long, example string
	args                      cobra.PositionalArgs
	arg                       func(*ResultsOptions) *string
	flags                     func(*cobra.Command, *ResultsOptions)
	check                     func(*ResultsOptions) error
	ask                       func(*ResultsOptions, *cmdutil.Backend) (res []job.Result, empty string, err error)
}

// newCmdQuery is the results subcommand q; runF, when set, runs instead of
// q.run (tests).
func newCmdQuery(f *cmdutil.Factory, q query, runF func(*ResultsOptions) error) *cobra.Command {
	opts := &ResultsOptions{QueryOptions: cmdutil.NewQueryOptions(f)}
	cmd := &cobra.Command{Use: q.use, Short: q.short, Long: q.long, Example: q.example, Args: q.args}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.Set(f, cmd)
		if q.arg != nil {
			*q.arg(opts) = args[0]
		}
		return cmdutil.RunOr(opts, runF, q.run)
	}
	if q.flags != nil {
		q.flags(cmd, opts)
	}
	return cmd
}

// run checks the flags, opens the backend, asks it for results and prints
// them.
func (q query) run(opts *ResultsOptions) error {
	if q.check != nil {
		if err := q.check(opts); err != nil {
			return err
		}
	}
	format, o, err := opts.Open()
	if err != nil {
		return err
	}
	defer o.Close()
	res, empty, err := q.ask(opts, o)
	if err != nil {
		return err
	}
	return printQuery(&opts.QueryOptions, format, res, empty)
}

// printQuery prints the results of a query or, for a table with none, says
// why (empty) on stderr.
func printQuery(o *cmdutil.QueryOptions, format string, res []job.Result, empty string) error {
	if len(res) == 0 {
		if format == "table" {
			fmt.Fprintln(o.IO.ErrOut, empty)
		}
		return nil
	}
	return cmdutil.PrintResults(o.IO.Out, format, res)
}

// between describes a time range for a message ("" when open at both ends).
func between(from, to time.Time) string {
	switch {
	case from.IsZero() && to.IsZero():
		return ""
	case to.IsZero():
		return " scheduled since " + cmdutil.TableTime(from)
	case from.IsZero():
		return " scheduled before " + cmdutil.TableTime(to)
	}
	return fmt.Sprintf(" scheduled from %s to %s", cmdutil.TableTime(from), cmdutil.TableTime(to))
}
