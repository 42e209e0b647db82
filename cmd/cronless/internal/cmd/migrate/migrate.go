// Package migrate is `cronless migrate`: it moves a deployed stage's
// results from its DynamoDB table of schema v1 into the table of schema v2
// (shared/migrate does the work).
package migrate

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/cmd/cronless/internal/iostreams"
	"github.com/cronless/cronless/shared/migrate"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo"
	"github.com/cronless/cronless/shared/store/dynamov1"
)

// MigrateOptions are the options of `cronless migrate`.
type MigrateOptions struct {
	IO      *iostreams.IOStreams
	Backend func(cmd *cobra.Command) (*cmdutil.Backend, error)
	Now     func() time.Time
	Stage   string
	cmd     *cobra.Command

	Since         string
	FromTable     string
	ToTable       string
	Parallel      int
	Checkpoint    string
	Restart       bool
	DryRun        bool
	RetentionDays int

	// ProgressEvery is how many targets apart the progress lines are when
	// stderr is no terminal.
	ProgressEvery int
}

// NewCmdMigrate is `cronless migrate`; runF, when set, runs instead of
// migrateRun (tests).
func NewCmdMigrate(f *cmdutil.Factory, runF func(*MigrateOptions) error) *cobra.Command {
	opts := &MigrateOptions{
		IO:            f.IOStreams,
		Backend:       func(cmd *cobra.Command) (*cmdutil.Backend, error) { return f.Backend(cmd.Context()) },
		ProgressEvery: 100,
	}
	cmd := &cobra.Command{
		Use:   "migrate --stage NAME",
		Short: "Copy a stage's results from its v1 table into the v2 table",
		Long: `Copies what must survive of a deployed stage's DynamoDB table of schema v1
(cronless-<stage>) into its table of schema v2 (cronless-<stage>-v2, which
deploying this version creates: an index cannot be dropped from a table, so v2 is
a new table). Only for --stage: the local SQLite store migrates itself when
cronless opens it.

What it copies: every run (schedule, scheduled time, planned count and targets),
and for every target its results scheduled at or after --since (default: all
of them), and always its latest result, so that ` + "`results latest`" + ` and the
planner's conditional requests keep working whatever --since cuts. With
--since, the oldest copied result of a target that changed is not marked
changed (what it changed from is not copied). Failed attempts are not copied:
they expire with the results (90 days by default) and only explain
dead-lettered messages. Copied results keep the time v1 stored them (runs
show the same result times) and expire --retention-days after it: set it to
the stage's retentionDays.

It works target by target in target ID order, --parallel batches of 25
targets at once, and shows its progress on stderr. It is resumable: a
checkpoint file (--checkpoint; default ` + "`<user cache dir>/cronless/migrate-<stage>.json`" + `,
e.g. ~/.cache/cronless on Linux) records what was copied, and running the same
command again goes on from there; --restart starts over. It is idempotent:
copying a target again writes the same items, so an interrupted batch, a second
run or --restart leaves the v2 table as one uninterrupted run does. Migrate
before the stage writes results into the v2 table, or right after deploying.

It reads every item it copies once (the v1 table's read cost); --dry-run reads
the same and only counts what it would copy.

The v1 table is left as it is: delete it yourself once you no longer need it.

--since takes ` + cmdutil.WhenUsage + `.`,
		Example: `  cronless migrate --stage prod --dry-run
  cronless migrate --stage prod
  cronless migrate --stage prod --since 30d --retention-days 365
  aws dynamodb delete-table --table-name cronless-prod   # later, deliberately`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Stage, opts.Now, opts.cmd = f.Stage, f.Now, cmd
			return cmdutil.RunOr(opts, runF, migrateRun)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Since, "since", "", "copy the results scheduled at or after this time, and each target's latest (default: all)")
	fl.StringVar(&opts.FromTable, "from-table", "", "the v1 table (default: cronless-<stage>)")
	fl.StringVar(&opts.ToTable, "to-table", "", "the v2 table (default: the stack output TableName, cronless-<stage>-v2)")
	fl.IntVar(&opts.Parallel, "parallel", migrate.DefaultParallel, "batches of targets copied at once")
	fl.StringVar(&opts.Checkpoint, "checkpoint", "", "the checkpoint file (default: <user cache dir>/cronless/migrate-<stage>.json)")
	fl.BoolVar(&opts.Restart, "restart", false, "ignore the checkpoint and copy everything again")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "read and count what would be copied; write nothing")
	fl.IntVar(&opts.RetentionDays, "retention-days", 90, "copied results expire this many days after v1 stored them (the stage's retentionDays; 0: never)")
	return cmd
}

func migrateRun(opts *MigrateOptions) error {
	if opts.Stage == "" {
		return cmdutil.Usagef("migrate moves a deployed stage's DynamoDB table to schema v2: pass --stage NAME (the local SQLite store needs no migrate: cronless migrates it when it opens it)")
	}
	if err := cmdutil.IntFlag("parallel", opts.Parallel, 1, 64); err != nil {
		return err
	}
	if err := cmdutil.IntFlag("retention-days", opts.RetentionDays, 0, store.MaxRetentionDays); err != nil {
		return err
	}
	since, err := cmdutil.ParseWhen("since", opts.Since, opts.Now())
	if err != nil {
		return err
	}
	checkpoint := opts.Checkpoint
	if checkpoint == "" {
		checkpoint = DefaultCheckpoint(opts.Stage)
	}
	ctx := opts.cmd.Context()
	o, err := opts.Backend(opts.cmd)
	if err != nil {
		return err
	}
	defer o.Close()
	from, to := opts.FromTable, opts.ToTable
	if from == "" {
		from = "cronless-" + opts.Stage
	}
	if to == "" {
		to = o.Table
	}
	client := dynamodb.NewFromConfig(*o.AWS)
	if err := migrate.CheckTables(ctx, client, from, to); err != nil {
		if errors.Is(err, migrate.ErrWrongTable) {
			return cmdutil.UsageError{Err: err}
		}
		return err
	}

	p := newProgress(opts.IO, opts.ProgressEvery)
	sum, err := migrate.Run(ctx, dynamov1.New(client, from), dynamo.New(client, to, dynamo.WithRetention(time.Duration(opts.RetentionDays)*24*time.Hour)), migrate.Options{
		Stage: opts.Stage, Region: o.AWS.Region, FromTable: from, ToTable: to, Since: since,
		Parallel: opts.Parallel, Checkpoint: checkpoint, Restart: opts.Restart, DryRun: opts.DryRun,
		Progress: p.update, Now: opts.Now,
	})
	p.finish()
	if errors.Is(err, migrate.ErrCheckpointMismatch) {
		return cmdutil.UsageError{Err: err}
	}
	if err != nil {
		return fmt.Errorf("%w\n(%s: run the same command again to go on from there)", err, resumeNote(opts.DryRun, sum, checkpoint))
	}
	return printSummary(opts.IO.Out, sum, from, to, checkpoint)
}

// DefaultCheckpoint is the checkpoint file of a stage's migration: in the
// user's cache directory, or the current directory when there is none.
func DefaultCheckpoint(stage string) string {
	name := "migrate-" + stage + ".json"
	dir, err := os.UserCacheDir()
	if err != nil {
		return "cronless-" + name
	}
	return filepath.Join(dir, "cronless", name)
}

func resumeNote(dryRun bool, sum migrate.Summary, checkpoint string) string {
	if dryRun {
		return "a dry run writes no checkpoint"
	}
	return fmt.Sprintf("copied so far: %d runs, %d targets and %d results, recorded in %s",
		sum.Runs+sum.Before.Runs, sum.Targets+sum.Before.Targets, sum.Results+sum.Before.Results, checkpoint)
}

func printSummary(w io.Writer, sum migrate.Summary, from, to, checkpoint string) error {
	var err error
	switch {
	case sum.AlreadyDone:
		_, err = fmt.Fprintf(w, "nothing to do: the migration from %s to %s completed before (checkpoint %s); --restart copies everything again\n", from, to, checkpoint)
	case sum.DryRun:
		_, err = fmt.Fprintf(w, "dry run: would copy %d runs, %d targets, %d results from %s to %s (read in %s; nothing written)\n",
			sum.Runs, sum.Targets, sum.Results, from, to, sum.Elapsed.Round(time.Millisecond))
	default:
		resumed := ""
		if sum.Resumed {
			resumed = fmt.Sprintf(" (resumed: %d runs, %d targets, %d results were copied before)", sum.Before.Runs, sum.Before.Targets, sum.Before.Results)
		}
		_, err = fmt.Fprintf(w, "migrated %d runs, %d targets, %d results from %s to %s in %s%s\n"+
			"the v1 table %s is kept: delete it once you no longer need it\n",
			sum.Runs, sum.Targets, sum.Results, from, to, sum.Elapsed.Round(time.Millisecond), resumed, from)
	}
	return err
}

// progress shows a migration's progress on stderr: a bar on a terminal,
// otherwise a line every so many targets and at the end of each phase.
type progress struct {
	io    *iostreams.IOStreams
	every int

	phase migrate.Phase
	bar   *progressbar.ProgressBar
	last  int // Done of the last line
}

func newProgress(ios *iostreams.IOStreams, every int) *progress {
	return &progress{io: ios, every: max(every, 1)}
}

func (p *progress) update(u migrate.Progress) {
	if u.Phase != p.phase {
		p.finish()
		p.phase, p.last = u.Phase, 0
		if p.io.IsStderrTTY() {
			p.bar = progressbar.NewOptions(u.Total, progressbar.OptionSetWriter(p.io.ErrOut), progressbar.OptionSetDescription(string(u.Phase)),
				progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))
		}
	}
	if p.bar != nil {
		if u.Phase == migrate.PhaseTargets {
			p.bar.Describe(fmt.Sprintf("targets (%d results)", u.Results))
		}
		_ = p.bar.Set(u.Done)
		return
	}
	every := p.every
	if u.Phase == migrate.PhaseRuns {
		every *= 10
	}
	if u.Done == u.Total || u.Done/every > p.last/every {
		fmt.Fprintf(p.io.ErrOut, "migrate: %s %d/%d, %d results\n", u.Phase, u.Done, u.Total, u.Results)
		p.last = u.Done
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
}
