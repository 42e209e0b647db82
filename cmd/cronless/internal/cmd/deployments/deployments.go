package deployments

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/cmd/cronless/internal/iostreams"
	deploy "github.com/cronless/cronless/shared/deployments"
)

// oslsService is serverless.yml's service: the stack is <service>-<stage>.
const oslsService = "cronless"

// ExecCommand runs a command line with the CLI's output streams: the
// Factory's Exec, which a test replaces to see the osls command line
// without running osls.
func ExecCommand(ctx context.Context, argv []string, stdout, stderr io.Writer) error {
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	c.Stdout, c.Stderr = stdout, stderr
	// On Ctrl-C osls gets an interrupt, as from a terminal, not a kill.
	c.Cancel = func() error { return c.Process.Signal(os.Interrupt) }
	c.WaitDelay = 10 * time.Second
	return c.Run()
}

// stageOptions is what the commands on a deployed stage (deployments,
// rollback) take: the Factory's streams, the stage flags, and its AWS
// configuration loader.
type stageOptions struct {
	IO                     *iostreams.IOStreams
	Stage, Region, Profile string
	Config                 func(context.Context) (aws.Config, error)

	// ctx is the command's context (cobra's), for the run function.
	ctx context.Context
}

func newStageOptions(f *cmdutil.Factory) stageOptions {
	return stageOptions{IO: f.IOStreams, Config: func(ctx context.Context) (aws.Config, error) { return cmdutil.StageConfig(ctx, f) }}
}

// set fills in what is known once cobra runs the command.
func (o *stageOptions) set(f *cmdutil.Factory, cmd *cobra.Command) {
	o.Stage, o.Region, o.Profile, o.ctx = f.Stage, f.Region, f.Profile, cmd.Context()
}

// DeploymentsOptions are the options of `deployments`.
type DeploymentsOptions struct {
	stageOptions
	Output string
}

// NewCmdDeployments is `deployments`; runF, when set, runs instead of deploymentsRun (tests).
func NewCmdDeployments(f *cmdutil.Factory, runF func(*DeploymentsOptions) error) *cobra.Command {
	opts := &DeploymentsOptions{stageOptions: newStageOptions(f)}
	cmd := &cobra.Command{
		Use:   "deployments --stage NAME",
		Short: "The deployments osls keeps for a stage, newest first, and which one is live",
		Long: `List the deployments osls keeps in the stage's deployment bucket (stack output
ServerlessDeploymentBucketName, folder serverless/cronless/<stage>/), newest first:
each deploy's timestamp (what a rollback takes), its time (UTC), and its state:

  live      the stack runs it now (its functions' code comes from it)
  previous  what ` + "`make rollback`" + ` without TO goes back to
  newer     newer than the live one: a rollback went back from it, or its
            deploy failed and CloudFormation rolled the stack back
  older     older than the live one

NOTE says why osls cannot roll back to a deployment (an upload cut short).

A deploy keeps the newest 5 deployments and deletes the older ones. The table
ends with the commands that roll back.`,
		Example: `  cronless deployments --stage prod --region eu-west-1
  make deployments STAGE=prod REGION=eu-west-1
  cronless deployments --stage prod -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.set(f, cmd)
			return cmdutil.RunOr(opts, runF, deploymentsRun)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", cmdutil.OutputUsage)
	return cmd
}

func deploymentsRun(opts *DeploymentsOptions) error {
	format, err := cmdutil.OutputFormat(opts.IO, opts.Output)
	if err != nil {
		return err
	}
	l, region, err := opts.loadDeployments("deployments")
	if err != nil {
		return err
	}
	return opts.printDeployments(format, l, region)
}

// RollbackOptions are the options of `rollback`.
type RollbackOptions struct {
	stageOptions
	Exec   func(ctx context.Context, argv []string, stdout, stderr io.Writer) error // runs osls
	To     string
	DryRun bool
	Params []string
}

// NewCmdRollback is `rollback`; runF, when set, runs instead of rollbackRun (tests).
func NewCmdRollback(f *cmdutil.Factory, runF func(*RollbackOptions) error) *cobra.Command {
	opts := &RollbackOptions{stageOptions: newStageOptions(f), Exec: f.Exec}
	cmd := &cobra.Command{
		Use:   "rollback --stage NAME [--to TIMESTAMP]",
		Short: "Put a stage back on the deployment before the live one, or on the one named",
		Long: `Put the stage's stack back on an earlier deployment with ` + "`osls rollback`" + `: the
deployment before the live one, or the one --to names (a TIMESTAMP of
` + "`cronless deployments`" + `, its directory name, or its time in RFC 3339).

It says which deployment it picked and prints the osls command line, then runs
it (--dry-run only prints it) and checks that the stack is live on the
deployment it picked. Run it where serverless.yml and node_modules/osls are:
` + "`make rollback`" + ` does, after installing osls.

The stack gets that deployment's compiled template and function zips: its code,
its targets.yaml (packaged with the planner) and its schedules. Nothing is built
or uploaded. The table's data and the queued messages stay: the rolled-back
functions read the messages newer code sent (see the README's Rollback).

--param NAME=VALUE is passed to osls, which needs the parameters serverless.yml
requires to load it; the rolled-back template keeps the values it was deployed
with.`,
		Example: `  make rollback STAGE=prod REGION=eu-west-1
  make rollback STAGE=prod REGION=eu-west-1 TO=1796605481586
  cronless rollback --stage prod --region eu-west-1 --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.set(f, cmd)
			return cmdutil.RunOr(opts, runF, rollbackRun)
		},
	}
	cmd.Flags().StringVar(&opts.To, "to", "", "the deployment to go back to (default: the one before the live one)")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "say which deployment and print the osls command line; change nothing")
	cmd.Flags().StringArrayVar(&opts.Params, "param", nil, "NAME=VALUE passed to osls as --param (repeatable)")
	return cmd
}

// rollbackRun checks the flags, chooses the deployment, prints the osls
// command line, runs it and checks the stack is live on the chosen
// deployment.
func rollbackRun(opts *RollbackOptions) error {
	for _, p := range opts.Params {
		if k, _, ok := strings.Cut(p, "="); !ok || k == "" {
			return cmdutil.Usagef("--param %q: use --param NAME=VALUE", p)
		}
	}
	if opts.To != "" {
		if _, err := deploy.ParseTimestamp(opts.To); err != nil {
			return cmdutil.UsageError{Err: fmt.Errorf("--to: %w", err)}
		}
	}
	ctx, to, dryRun, params := opts.ctx, opts.To, opts.DryRun, opts.Params
	l, region, err := opts.loadDeployments("rollback")
	if err != nil {
		return err
	}
	w := opts.IO.Out
	fmt.Fprintf(w, "Stage %s (%s): stack %s is %s\n", opts.Stage, region, l.Stack.Name, l.Stack.Status)
	if err := deploy.Updatable(l.Stack.Name, region, l.Stack.Status); err != nil {
		return err
	}
	c, err := l.Choose(to)
	if errors.Is(err, deploy.ErrNotFound) || errors.Is(err, deploy.ErrUnusable) || errors.Is(err, deploy.ErrBadTimestamp) {
		return cmdutil.UsageError{Err: fmt.Errorf("--to: %w", err)}
	}
	if err != nil {
		return err
	}
	live := "unknown (" + l.Stack.LiveProblem + ")"
	if c.From.Directory != "" {
		live = deploymentLine(c.From)
	}
	why := "the deployment before the live one"
	if c.Named {
		why = "named by --to"
	}
	fmt.Fprintf(w, "Live now:       %s\nRolling back to %s: %s\n", live, deploymentLine(c.To), why)
	for _, d := range c.Skipped {
		fmt.Fprintf(w, "Skipped:        %s: %s\n", deploymentLine(d), d.Problem)
	}
	fmt.Fprintln(w, "The stack gets that deployment's template and function zips (its code, targets.yaml and schedules); nothing is built.")
	fmt.Fprintln(w, "The table's data and the queued messages stay; a message that code cannot decode is dead-lettered as bad_message.")
	r := deploy.Rollback{Timestamp: c.To.Timestamp, Stage: opts.Stage, Region: region, Profile: opts.Profile, Params: params}
	argv := r.Argv()
	fmt.Fprintf(w, "$ %s\n", deploy.ShellQuote(argv))
	if dryRun {
		fmt.Fprintln(w, "Dry run: nothing was changed.")
		return nil
	}
	for _, need := range []string{"serverless.yml", filepath.Join("node_modules", "osls")} {
		if _, err := os.Stat(need); err != nil {
			return fmt.Errorf("no %s here: run the rollback in the cronless checkout (make rollback STAGE=%s installs osls first)", need, opts.Stage)
		}
	}
	if err := opts.Exec(ctx, argv, opts.IO.Out, opts.IO.ErrOut); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted (%w): CloudFormation goes on with any update osls started; `make deployments STAGE=%s REGION=%s` shows where it got", err, opts.Stage, region)
		}
		return fmt.Errorf("osls rollback failed (%w): its output above says why; `make deployments STAGE=%s REGION=%s` shows what is live now", err, opts.Stage, region)
	}
	after, _, err := opts.loadDeployments("rollback")
	if err != nil {
		return fmt.Errorf("osls rollback ended, but reading the stack again failed: %w", err)
	}
	if after.Stack.LiveDirectory != c.To.Directory {
		return fmt.Errorf("osls rollback ended, but stack %s (%s) runs %q, not %s: see `make deployments STAGE=%s REGION=%s`",
			after.Stack.Name, after.Stack.Status, after.Stack.LiveDirectory, c.To.Directory, opts.Stage, region)
	}
	fmt.Fprintf(w, "Stage %s is live on %s.\n", opts.Stage, deploymentLine(c.To))
	return nil
}

// deploymentLine is a deployment on one line: its timestamp and time.
func deploymentLine(d deploy.Deployment) string {
	return d.Timestamp + " (" + d.DeployedAt.Format(time.RFC3339) + ")"
}

// loadDeployments reads the stage's stack and deployment bucket.
func (o *stageOptions) loadDeployments(command string) (*deploy.Listing, string, error) {
	ctx := o.ctx
	if o.Stage == "" {
		return nil, "", cmdutil.Usagef("%s needs --stage NAME (make %s STAGE=NAME): deployments exist only on AWS", command, command)
	}
	cfg, err := o.Config(ctx)
	if err != nil {
		return nil, "", err
	}
	l, err := deploy.Load(ctx, cloudformation.NewFromConfig(cfg), s3.NewFromConfig(cfg), oslsService, o.Stage)
	if err != nil {
		return nil, "", err
	}
	return l, cfg.Region, nil
}

// deploymentView is a deployment as `cronless deployments` prints it.
type deploymentView struct {
	deploy.Deployment
	// RollbackCommand goes back to it (empty: live, or osls cannot).
	RollbackCommand string `json:"rollback_command,omitempty"`
}

// makeRollback is the make command line that rolls the stage back to
// timestamp ("" for the previous one).
func (o *stageOptions) makeRollback(region, timestamp string) string {
	s := fmt.Sprintf("make rollback STAGE=%s REGION=%s", o.Stage, region)
	if o.Profile != "" {
		s = "AWS_PROFILE=" + deploy.ShellQuote([]string{o.Profile}) + " " + s
	}
	if timestamp != "" {
		s += " TO=" + timestamp
	}
	return s
}

func (o *stageOptions) printDeployments(format string, l *deploy.Listing, region string) error {
	views := make([]deploymentView, len(l.Deployments))
	var prev, newest *deploymentView
	for i, d := range l.Deployments {
		views[i] = deploymentView{Deployment: d}
		if d.State != deploy.StateLive && d.Problem == "" {
			views[i].RollbackCommand = o.makeRollback(region, d.Timestamp)
		}
		if d.State == deploy.StatePrevious {
			prev = &views[i]
		}
		if i == 0 && d.State == deploy.StateNewer {
			newest = &views[i]
		}
	}
	w := o.IO.Out
	switch format {
	case "json":
		return cmdutil.PrintJSONLines(w, views)
	case "csv":
		t := cmdutil.NewTable("timestamp", "deployed_at", "directory", "state", "files", "problem", "rollback_command")
		for _, v := range views {
			t.Add(v.Timestamp, cmdutil.CSVTime(v.DeployedAt), v.Directory, v.State, strings.Join(v.Files, " "), v.Problem, v.RollbackCommand)
		}
		return t.WriteCSV(w)
	}
	st := l.Stack
	fmt.Fprintf(w, "Stage %s (%s): stack %s is %s, last updated %s\n", l.Stage, region, st.Name, st.Status, cmdutil.TableTime(st.LastUpdated))
	if st.LiveProblem != "" {
		fmt.Fprintf(w, "Live deployment: cannot tell: %s\n", st.LiveProblem)
	} else if _, ok := l.Live(); !ok {
		fmt.Fprintf(w, "Live deployment: %s, no longer in the bucket\n", st.LiveDirectory)
	}
	if len(views) == 0 {
		fmt.Fprintf(w, "No deployments in s3://%s/%s: deploy with `make deploy STAGE=%s REGION=%s`.\n", st.Bucket, l.Prefix, l.Stage, region)
		return nil
	}
	fmt.Fprintf(w, "Deployments in s3://%s/%s, newest first (a deploy keeps the newest %d):\n\n", st.Bucket, l.Prefix, deploy.Kept)
	t := cmdutil.NewTable("TIMESTAMP", "DEPLOYED", "STATE", "FILES", "NOTE")
	for _, v := range views {
		t.Add(v.Timestamp, v.DeployedAt.Format(time.RFC3339), orDashString(v.State), len(v.Files), v.Problem)
	}
	if err := t.Write(w); err != nil {
		return err
	}
	fmt.Fprintln(w)
	switch _, live := l.Live(); {
	case prev != nil:
		fmt.Fprintf(w, "Roll back to the previous deployment, %s:\n  %s\n", deploymentLine(prev.Deployment), o.makeRollback(region, ""))
	case !live:
		fmt.Fprintln(w, "The live deployment is not in the bucket, so none is \"the previous\": name one with TO.")
	default:
		fmt.Fprintln(w, "No deployment before the live one to roll back to.")
	}
	if len(views) > 1 {
		fmt.Fprintf(w, "Roll back to another one:\n  %s\n", o.makeRollback(region, "<TIMESTAMP>"))
	}
	if newest != nil {
		// osls compares a deploy with the newest deployment in the bucket,
		// not the live one, and skips it when they are the same.
		fmt.Fprintf(w, "Forward again to the newest, %s:\n  %s\n", deploymentLine(newest.Deployment), o.makeRollback(region, newest.Timestamp))
		fmt.Fprintln(w, "  (a `make deploy` of the same code is skipped as \"No changes to deploy\": osls compares with the newest\n  deployment, not the live one; add --force to PARAMS to deploy it anyway)")
	}
	return nil
}

func orDashString(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
