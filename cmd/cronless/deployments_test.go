package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cronless/cronless/shared/deployments"
	"github.com/cronless/cronless/shared/standin"
)

// The deployments of the moto stage, as osls names their directories.
const (
	deployA = "1796590000000-2026-12-06T20:46:40.000Z"
	deployB = "1796600000000-2026-12-06T23:33:20.000Z"
	deployC = "1796604000000-2026-12-07T00:40:00.000Z" // live
	deployD = "1796605481586-2026-12-07T01:04:41.586Z" // rolled back from
	// deployCut is an upload cut short: template and state, no zips.
	deployCut = "1796602000000-2026-12-07T00:06:40.000Z"
)

// motoStage is the stack cronless-prod on moto, deployed as osls deploys
// it: a create template with the deployment bucket alone, the deployments'
// files uploaded under serverless/cronless/prod/<dir>/, then the stack
// updated to the compiled template of the live one (C); D was deployed
// after C and rolled back from. The CLI reaches moto through
// AWS_ENDPOINT_URL.
type motoStage struct {
	cf     *cloudformation.Client
	s3     *s3.Client
	bucket string
}

func newMotoStage(t *testing.T) *motoStage {
	t.Helper()
	ctx := context.Background()
	m := standin.Moto(t)
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": m.Endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": standin.Region,
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"),
	} {
		t.Setenv(k, v)
	}
	s := &motoStage{cf: m.CloudFormation(t), s3: m.S3(t)}
	_, err := s.cf.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("cronless-prod"), TemplateBody: aws.String(stageTemplate(""))})
	if err != nil {
		t.Fatalf("create stack on moto: %v", err)
	}
	s.waitStack(t, cftypes.StackStatusCreateComplete)
	out, err := s.cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("cronless-prod")})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out.Stacks[0].Outputs {
		if aws.ToString(o.OutputKey) == deployments.BucketOutput {
			s.bucket = aws.ToString(o.OutputValue)
		}
	}
	if s.bucket == "" {
		t.Fatalf("moto's stack has no output %s", deployments.BucketOutput)
	}
	for _, dir := range []string{deployA, deployB, deployCut, deployC, deployD} {
		files := []string{deployments.TemplateFile, deployments.StateFile}
		if dir != deployCut {
			files = append(files, "planner.zip", "worker.zip", "results.zip")
		}
		for _, f := range files {
			body := []byte(`{}`)
			switch {
			case f == deployments.TemplateFile:
				body = []byte(stageTemplate(dir))
			case strings.HasSuffix(f, ".zip"):
				body = bootstrapZip(t)
			}
			s.put(t, deployments.Prefix("cronless", "prod")+dir+"/"+f, body)
		}
	}
	s.put(t, deployments.Prefix("cronless", "prod")+"stray.txt", []byte("not a deployment"))
	s.update(t, deployC)
	return s
}

func (s *motoStage) put(t *testing.T, key string, body []byte) {
	t.Helper()
	if _, err := s.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &s.bucket, Key: &key, Body: bytes.NewReader(body)}); err != nil {
		t.Fatalf("put s3://%s/%s on moto: %v", s.bucket, key, err)
	}
}

// update updates the stack to the compiled template of dir, read from the
// bucket: what `osls rollback --timestamp` does.
func (s *motoStage) update(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	key := deployments.Prefix("cronless", "prod") + dir + "/" + deployments.TemplateFile
	obj, err := s.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	body, err := io.ReadAll(obj.Body)
	obj.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.cf.UpdateStack(ctx, &cloudformation.UpdateStackInput{StackName: aws.String("cronless-prod"), TemplateBody: aws.String(string(body)),
		Capabilities: []cftypes.Capability{cftypes.CapabilityCapabilityNamedIam}}); err != nil {
		t.Fatalf("update stack to %s on moto: %v", dir, err)
	}
	s.waitStack(t, cftypes.StackStatusUpdateComplete)
}

func (s *motoStage) waitStack(t *testing.T, done cftypes.StackStatus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	standin.WaitStack(ctx, t, s.cf, "cronless-prod", done)
}

// stageTemplate is a compiled template as osls writes it, cut to what the
// commands read: the deployment bucket and its output and, when dir is
// set, the functions with their code in dir (without dir: osls's create
// template).
func stageTemplate(dir string) string {
	res := map[string]any{"ServerlessDeploymentBucket": map[string]any{"Type": "AWS::S3::Bucket"}}
	if dir != "" {
		res["IamRoleLambdaExecution"] = map[string]any{"Type": "AWS::IAM::Role", "Properties": map[string]any{
			"AssumeRolePolicyDocument": map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
				"Effect": "Allow", "Principal": map[string]any{"Service": []string{"lambda.amazonaws.com"}}, "Action": []string{"sts:AssumeRole"}}}},
		}}
		for _, fn := range []string{"planner", "worker", "results"} {
			res[strings.ToUpper(fn[:1])+fn[1:]+"LambdaFunction"] = map[string]any{"Type": "AWS::Lambda::Function", "Properties": map[string]any{
				"Code":         map[string]any{"S3Bucket": map[string]any{"Ref": "ServerlessDeploymentBucket"}, "S3Key": deployments.Prefix("cronless", "prod") + dir + "/" + fn + ".zip"},
				"FunctionName": "cronless-prod-" + fn, "Handler": "bootstrap", "Runtime": "provided.al2023",
				"Role": map[string]any{"Fn::GetAtt": []string{"IamRoleLambdaExecution", "Arn"}},
			}}
		}
	}
	b, _ := json.Marshal(map[string]any{
		"AWSTemplateFormatVersion": "2010-09-09",
		"Resources":                res,
		"Outputs":                  map[string]any{deployments.BucketOutput: map[string]any{"Value": map[string]any{"Ref": "ServerlessDeploymentBucket"}}},
	})
	return string(b)
}

// bootstrapZip is a function zip as `make build` makes it (a placeholder
// bootstrap: moto does not run it).
func bootstrapZip(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("bootstrap")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("#!/bin/sh\n")); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fakeOsls returns a Factory setup for cliWith whose Exec records each
// command line and runs do instead of osls, and the command lines.
func fakeOsls(do func(argv []string) error) (*[][]string, func(*Factory)) {
	var calls [][]string
	return &calls, func(f *Factory) {
		f.Exec = func(_ context.Context, argv []string, _, _ io.Writer) error {
			calls = append(calls, argv)
			return do(argv)
		}
	}
}

// inCheckout makes the working directory look like a cronless checkout
// (serverless.yml, node_modules/osls), where the rollback runs osls.
func inCheckout(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "node_modules", "osls"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "serverless.yml"), []byte("service: cronless\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
}

// oslsCheckout makes the working directory a service osls can roll back
// (node_modules from the repository, a serverless.yml of the service
// cronless), with osls kept off the network and out of the real HOME. The
// one difference from serverless.yml: deploymentMethod direct (UpdateStack),
// as moto has no DeleteChangeSet for a change set that does not exist,
// which osls's default method calls first.
func oslsCheckout(t *testing.T) {
	t.Helper()
	standin.Osls(t)
	if _, err := exec.LookPath("npx"); err != nil {
		standin.Unavailable(t, "osls rollback runs through npx, which is not on PATH")
	}
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(standin.Root(), "node_modules"), filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	yml := "service: cronless\nframeworkVersion: '^3.38.0 || ^4.3.1'\nprovider:\n  name: aws\n  runtime: provided.al2023\n  deploymentMethod: direct\n"
	if err := os.WriteFile(filepath.Join(dir, "serverless.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	for k, v := range map[string]string{
		"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, ".config"), "SLS_TELEMETRY_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off",
		"AWS_EC2_METADATA_DISABLED": "true", "NPM_CONFIG_OFFLINE": "true", "NPM_CONFIG_UPDATE_NOTIFIER": "false",
	} {
		t.Setenv(k, v)
	}
	t.Chdir(dir)
}

// maskDeployments hides what moto makes up: the bucket's name and the
// stack's last update time.
func maskDeployments(out, bucket string) string {
	out = strings.ReplaceAll(out, bucket, "BUCKET")
	return regexp.MustCompile(`last updated \S+`).ReplaceAllString(out, "last updated TIME")
}

// TestDeploymentsAndRollbackOnMoto runs `cronless deployments` and
// `cronless rollback` against a stack and deployment bucket on moto laid
// out as osls lays them out: with osls replaced by a fake that updates the
// stack to the chosen deployment's template as osls does, then once with
// osls itself.
func TestDeploymentsAndRollbackOnMoto(t *testing.T) {
	stage := newMotoStage(t)

	t.Run("listing", func(t *testing.T) {
		for _, format := range []string{"table", "json", "csv"} {
			t.Run(format, func(t *testing.T) {
				code, out, stderr := cli(t, "deployments", "--stage", "prod", "-o", format)
				if code != exitOK {
					t.Fatalf("exit %d: %s", code, stderr)
				}
				checkGolden(t, "deployments."+format, maskDeployments(out, stage.bucket), *updateGolden)
			})
		}
	})

	t.Run("json says which is live and how to roll back", func(t *testing.T) {
		_, out, _ := cli(t, "deployments", "--stage", "prod", "-o", "json")
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var v struct {
				Timestamp, State, Problem string
				RollbackCommand           string `json:"rollback_command"`
			}
			if err := json.Unmarshal([]byte(line), &v); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
			got = append(got, fmt.Sprintf("%s %s %v %q", v.Timestamp, v.State, v.Problem != "", v.RollbackCommand))
		}
		want := []string{
			`1796605481586 newer false "make rollback STAGE=prod REGION=us-east-1 TO=1796605481586"`,
			`1796604000000 live false ""`,
			`1796602000000 older true ""`,
			`1796600000000 previous false "make rollback STAGE=prod REGION=us-east-1 TO=1796600000000"`,
			`1796590000000 older false "make rollback STAGE=prod REGION=us-east-1 TO=1796590000000"`,
		}
		if !slices.Equal(got, want) {
			t.Errorf("deployments:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("dry run picks the previous and prints the command", func(t *testing.T) {
		calls, osls := fakeOsls(func([]string) error { return errors.New("must not run") })
		code, out, stderr := cliWith(t, osls, "rollback", "--stage", "prod", "--dry-run")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		checkGolden(t, "rollback_dry_run", out, *updateGolden)
		if len(*calls) != 0 {
			t.Errorf("--dry-run ran %v", *calls)
		}
	})

	t.Run("unknown --to lists the deployments", func(t *testing.T) {
		calls, osls := fakeOsls(func([]string) error { return errors.New("must not run") })
		code, _, stderr := cliWith(t, osls, "rollback", "--stage", "prod", "--to", "1796604000001")
		if code != exitUsage {
			t.Errorf("exit %d, want %d", code, exitUsage)
		}
		for _, s := range []string{"1796604000001 is not one of the deployments osls keeps for stage prod", "1796605481586  2026-12-07T01:04:41Z  newer", "1796604000000  2026-12-07T00:40:00Z  live"} {
			if !strings.Contains(stderr, s) {
				t.Errorf("stderr does not say %q:\n%s", s, stderr)
			}
		}
		if len(*calls) != 0 {
			t.Errorf("ran %v", *calls)
		}
	})

	t.Run("rollback runs osls and checks the stack", func(t *testing.T) {
		inCheckout(t)
		calls, osls := fakeOsls(func(argv []string) error {
			stage.update(t, deployB) // what osls rollback --timestamp 1796600000000 does
			return nil
		})
		code, out, stderr := cliWith(t, osls, "rollback", "--stage", "prod", "--param", "alertEmail=none")
		if code != exitOK {
			t.Fatalf("exit %d: %s\n%s", code, stderr, out)
		}
		want := []string{"npx", "--no-install", "osls", "rollback", "--timestamp", "1796600000000", "--stage", "prod", "--region", "us-east-1", "--param", "alertEmail=none"}
		if len(*calls) != 1 || !slices.Equal((*calls)[0], want) {
			t.Errorf("ran %q, want %q", *calls, want)
		}
		for _, s := range []string{
			"$ npx --no-install osls rollback --timestamp 1796600000000 --stage prod --region us-east-1 --param alertEmail=none\n",
			"Skipped:        1796602000000 (2026-12-07T00:06:40Z): no function code (.zip)",
			"Stage prod is live on 1796600000000 (2026-12-06T23:33:20Z).\n",
		} {
			if !strings.Contains(out, s) {
				t.Errorf("output does not say %q:\n%s", s, out)
			}
		}
		_, list, _ := cli(t, "deployments", "--stage", "prod", "-o", "csv")
		if !strings.Contains(list, "1796600000000,2026-12-06T23:33:20Z,"+deployB+",live,") ||
			!strings.Contains(list, "1796590000000,2026-12-06T20:46:40Z,"+deployA+",previous,") {
			t.Errorf("after the rollback, B is not live and A previous:\n%s", list)
		}
	})

	t.Run("osls fails", func(t *testing.T) {
		inCheckout(t)
		_, osls := fakeOsls(func([]string) error { return errors.New("exit status 1") })
		code, _, stderr := cliWith(t, osls, "rollback", "--stage", "prod", "--to", deployC)
		if code != exitError || !strings.Contains(stderr, "osls rollback failed (exit status 1)") || !strings.Contains(stderr, "make deployments STAGE=prod REGION=us-east-1") {
			t.Errorf("exit %d, stderr %q; want 1 and what to look at", code, stderr)
		}
	})

	t.Run("osls succeeds but the stack did not move", func(t *testing.T) {
		inCheckout(t)
		_, osls := fakeOsls(func([]string) error { return nil })
		code, _, stderr := cliWith(t, osls, "rollback", "--stage", "prod", "--to", "2026-12-07T00:40:00Z")
		if code != exitError || !strings.Contains(stderr, "runs \""+deployB+"\", not "+deployC) {
			t.Errorf("exit %d, stderr %q; want 1 saying what the stack runs", code, stderr)
		}
	})

	t.Run("outside a checkout", func(t *testing.T) {
		t.Chdir(t.TempDir())
		calls, osls := fakeOsls(func([]string) error { return errors.New("must not run") })
		code, _, stderr := cliWith(t, osls, "rollback", "--stage", "prod")
		if code != exitError || !strings.Contains(stderr, "no serverless.yml here: run the rollback in the cronless checkout") || len(*calls) != 0 {
			t.Errorf("exit %d, stderr %q, ran %v; want 1, where to run it, and no osls", code, stderr, *calls)
		}
	})

	t.Run("with osls", func(t *testing.T) {
		oslsCheckout(t)
		// Forward again to the newest, with osls itself.
		code, out, stderr := cli(t, "rollback", "--stage", "prod", "--to", "1796605481586")
		if code != exitOK {
			t.Fatalf("exit %d: %s\n%s", code, stderr, out)
		}
		for _, s := range []string{
			"$ npx --no-install osls rollback --timestamp 1796605481586 --stage prod --region us-east-1\n",
			`Service rolled back to timestamp "1796605481586"`, // osls found the deployment by that timestamp
			"Stage prod is live on 1796605481586 (2026-12-07T01:04:41Z).\n",
		} {
			if !strings.Contains(out+stderr, s) {
				t.Errorf("output does not say %q:\n%s\n%s", s, out, stderr)
			}
		}
	})

	t.Run("no stack", func(t *testing.T) {
		code, _, stderr := cli(t, "deployments", "--stage", "staging")
		if code != exitError || !strings.Contains(stderr, "read stack cronless-staging") {
			t.Errorf("exit %d, stderr %q; want 1 naming the stack", code, stderr)
		}
	})
}

// TestRollbackUsageErrors checks the command line is refused before
// anything is read from AWS.
func TestRollbackUsageErrors(t *testing.T) {
	// Nothing listens there: a test that reached for AWS would fail.
	t.Setenv("AWS_ENDPOINT_URL", fmt.Sprintf("http://127.0.0.1:%d", standin.FreePort(t)))
	t.Setenv("AWS_REGION", standin.Region)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"deployments without a stage", []string{"deployments"}, "deployments needs --stage NAME (make deployments STAGE=NAME)"},
		{"rollback without a stage", []string{"rollback"}, "rollback needs --stage NAME"},
		{"bad --to", []string{"rollback", "--stage", "prod", "--to", "last-tuesday"}, `--to: not a deployment timestamp: "last-tuesday"`},
		{"bad --param", []string{"rollback", "--stage", "prod", "--param", "alertEmail"}, `--param "alertEmail": use --param NAME=VALUE`},
		{"bad output", []string{"deployments", "--stage", "prod", "-o", "xml"}, "use table, json or csv"},
		{"an argument", []string{"rollback", "--stage", "prod", "1796600000000"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := cli(t, tt.args...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, exitUsage, tt.want)
			}
		})
	}
}
