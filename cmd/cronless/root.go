package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap/zapcore"

	costcmd "github.com/cronless/cronless/cmd/cronless/internal/cmd/cost"
	deploymentscmd "github.com/cronless/cronless/cmd/cronless/internal/cmd/deployments"
	dlqcmd "github.com/cronless/cronless/cmd/cronless/internal/cmd/dlq"
	localcmd "github.com/cronless/cronless/cmd/cronless/internal/cmd/local"
	logscmd "github.com/cronless/cronless/cmd/cronless/internal/cmd/logs"
	migratecmd "github.com/cronless/cronless/cmd/cronless/internal/cmd/migrate"
	resultscmd "github.com/cronless/cronless/cmd/cronless/internal/cmd/results"
	runscmd "github.com/cronless/cronless/cmd/cronless/internal/cmd/runs"
	schedulescmd "github.com/cronless/cronless/cmd/cronless/internal/cmd/schedules"
	targetscmd "github.com/cronless/cronless/cmd/cronless/internal/cmd/targets"
	validatecmd "github.com/cronless/cronless/cmd/cronless/internal/cmd/validate"
	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/cmd/cronless/internal/iostreams"
	"github.com/cronless/cronless/shared/obs"
	"github.com/cronless/cronless/shared/targets"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command failed
	exitUsage = 2 // bad flags, arguments or configuration
)

// The commands' shared pieces (cmdutil), by their names here.
type (
	usageError = cmdutil.UsageError
	Factory    = cmdutil.Factory
)

var (
	usagef = cmdutil.Usagef
)

// Run runs the cronless command line with args and returns the exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return run(ctx, args, &Factory{IOStreams: iostreams.System(stdin, stdout, stderr), Now: time.Now, Exec: deploymentscmd.ExecCommand})
}

// run runs the command line on f's streams and clock.
func run(ctx context.Context, args []string, a *Factory) int {
	a.Backend = func(ctx context.Context) (*backend, error) { return openBackend(ctx, a) }
	a.StoreBackend = func(ctx context.Context, create bool) (*backend, error) { return openStoreBackend(ctx, a, create) }
	root := rootCommand(a)
	root.SetArgs(args)
	root.SetIn(a.IOStreams.In)
	root.SetOut(a.IOStreams.Out)
	root.SetErr(a.IOStreams.ErrOut)
	err := root.ExecuteContext(ctx)
	if a.Logger != nil {
		_ = a.Logger.Sync()
	}
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(a.IOStreams.ErrOut, "cronless: %v\n", err)
	var ue usageError
	var te *targets.Error
	if errors.As(err, &ue) || errors.As(err, &te) || isCobraUsage(err) {
		return exitUsage
	}
	return exitCode(err)
}

// isCobraUsage recognises the usage errors cobra itself returns.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "invalid argument"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

func rootCommand(a *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "cronless",
		Short: "Scheduled crawls without a cron server",
		Long: `cronless runs scheduled crawls: a planner turns each schedule tick into jobs on a
queue, workers crawl them with colly, and the results are stored.

By default everything runs on this machine, on an embedded backend (one SQLite
file, .cronless/local.db, or --db / CRONLESS_DB), with the same semantics as on AWS.

Start with:  cronless demo`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{Err: fmt.Errorf("%w (see %s --help)", err, c.CommandPath())}
	})
	def := os.Getenv("CRONLESS_DB")
	if def == "" {
		def = filepath.Join(".cronless", "local.db")
	}
	root.PersistentFlags().StringVar(&a.DB, "db", def, "the local backend's SQLite file (env CRONLESS_DB)")
	root.PersistentFlags().StringVar(&a.Stage, "stage", "", "work on this deployed stage instead of the local backend (dlq, results, runs, status, logs, targets); deployments, rollback and migrate need it")
	root.PersistentFlags().StringVar(&a.Region, "region", "", "the stage's AWS region (default: AWS_REGION or your profile's)")
	root.PersistentFlags().StringVar(&a.Profile, "profile", "", "the AWS profile to use for --stage (default: AWS_PROFILE)")
	root.PersistentFlags().StringVar(&a.LogLevel, "log-level", "warn", "log level: debug, info, warn or error")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		var lvl zapcore.Level
		if !cmd.Flags().Changed("log-level") {
			switch once, _ := cmd.Flags().GetBool("once"); {
			case cmd.Name() == "demo":
				a.LogLevel = "error" // the demo's retries are expected; its tables tell the story
			case cmd.Name() == "run" && !once:
				a.LogLevel = "info" // a long-running pipeline tells what it does
			}
		}
		if err := lvl.Set(a.LogLevel); err != nil {
			return usagef("--log-level %q: use debug, info, warn or error", a.LogLevel)
		}
		format := obs.JSON
		if a.IOStreams.IsStderrTTY() {
			format = obs.Console
		}
		a.Logger = obs.New(a.IOStreams.ErrOut, format, lvl)
		return nil
	}
	root.AddCommand(localcmd.NewCmdDemo(a, nil), localcmd.NewCmdRun(a, nil), localcmd.NewCmdInvoke(a, nil), resultscmd.NewCmdResults(a), validatecmd.NewCmdValidate(a, nil), schedulescmd.NewCmdSchedules(a, nil),
		dlqcmd.NewCmdDLQ(a), runscmd.NewCmdRuns(a), costcmd.NewCmdCost(a, nil), deploymentscmd.NewCmdDeployments(a, nil), deploymentscmd.NewCmdRollback(a, nil))
	root.AddCommand(newCmdStatus(a))
	root.AddCommand(logscmd.NewCmdLogs(a, nil))
	root.AddCommand(migratecmd.NewCmdMigrate(a, nil))
	root.AddCommand(targetscmd.NewCmdTargets(a))
	return root
}
