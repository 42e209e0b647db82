package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/cmd/cronless/internal/localbackend"
	"github.com/cronless/cronless/shared/lambdaasync"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/queue/sqsq"
	"github.com/cronless/cronless/shared/sqlite"
	"github.com/cronless/cronless/shared/store/dynamo"
	"github.com/cronless/cronless/shared/store/localstore"
)

// The operating commands' backend and its store (cmdutil), by their names here.
type (
	backend      = cmdutil.Backend
	resultsStore = cmdutil.ResultsStore
)

// Environment variables that override a stage's stack outputs.
const (
	envTargetsQueue = "CRONLESS_TARGETS_QUEUE_URL"
	envTargetsDLQ   = "CRONLESS_TARGETS_DLQ_URL"
	envResultsQueue = "CRONLESS_RESULTS_QUEUE_URL"
	envResultsDLQ   = "CRONLESS_RESULTS_DLQ_URL"
	envTable        = "CRONLESS_TABLE"
	envPlannerDLQ   = "CRONLESS_PLANNER_FAILURES_QUEUE_URL"
	envPlanner      = "CRONLESS_PLANNER_FUNCTION"
)

// openBackend opens the backend the global flags select.
func openBackend(ctx context.Context, a *Factory) (*backend, error) {
	if a.Stage == "" {
		return openLocal(ctx, a)
	}
	return openStage(ctx, a)
}

func openLocal(ctx context.Context, a *Factory) (*backend, error) {
	if _, err := os.Stat(a.DB); err != nil {
		return nil, fmt.Errorf("no local backend at %s yet: run `cronless run --once` or `cronless demo` first, point --db at one, or use --stage for a deployed stage", a.DB)
	}
	b, err := localbackend.Open(ctx, a.DB, nil)
	if err != nil {
		return nil, err
	}
	o := &backend{
		Where:   fmt.Sprintf("local (%s)", a.DB),
		Targets: b.Targets, TargetsDLQ: b.TargetsDLQ, Results: b.Results, ResultsDLQ: b.ResultsDLQ,
		Store: b.Store, TargetList: b.Store, CloseFunc: func() { _ = b.Close() },
	}
	if b.Ticks != nil {
		o.Ticks = b.Ticks
		o.Planner = func(context.Context) (cmdutil.PlannerSender, error) { return b.Ticks, nil }
	}
	if b.PlannerFailures != nil {
		o.PlannerFailures = func(context.Context) (queue.Queue, error) { return b.PlannerFailures, nil }
	}
	return o, nil
}

// openStoreBackend opens only the store of the backend the global flags
// select (Factory.StoreBackend): locally the SQLite file without its queues
// (created when create is set), on a stage its table, the one stack output
// it needs looked up.
func openStoreBackend(ctx context.Context, a *Factory, create bool) (*backend, error) {
	if a.Stage == "" {
		return openLocalStore(ctx, a.DB, create)
	}
	cfg, err := cmdutil.StageConfig(ctx, a)
	if err != nil {
		return nil, err
	}
	names := map[string]string{"TableName": os.Getenv(envTable)}
	if err := stackOutputs(ctx, cloudformation.NewFromConfig(cfg), stackName(a.Stage), names); err != nil {
		return nil, err
	}
	st := dynamo.New(dynamodb.NewFromConfig(cfg), names["TableName"])
	return &backend{Where: fmt.Sprintf("stage %s (%s)", a.Stage, cfg.Region), Store: st, TargetList: st, AWS: &cfg, Table: names["TableName"]}, nil
}

// openLocalStore opens the store of the local backend at path, whether or
// not a pipeline ever made its queues there.
func openLocalStore(ctx context.Context, path string, create bool) (*backend, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) && !create {
		return nil, fmt.Errorf("%w at %s yet (--db selects another file, --stage a deployed stage)", cmdutil.ErrNoBackend, path)
	}
	db, err := sqlite.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := localstore.New(ctx, db)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("local backend %s: %w", path, err)
	}
	return &backend{Where: fmt.Sprintf("local (%s)", path), Store: st, TargetList: st, CloseFunc: func() { _ = db.Close() }}, nil
}

// stackName is the CloudFormation stack serverless.yml deploys for a stage.
func stackName(stage string) string { return "cronless-" + stage }

func openStage(ctx context.Context, a *Factory) (*backend, error) {
	cfg, err := cmdutil.StageConfig(ctx, a)
	if err != nil {
		return nil, err
	}
	names := map[string]string{
		"TargetsQueueUrl": os.Getenv(envTargetsQueue), "TargetsDLQUrl": os.Getenv(envTargetsDLQ),
		"ResultsQueueUrl": os.Getenv(envResultsQueue), "ResultsDLQUrl": os.Getenv(envResultsDLQ),
		"TableName": os.Getenv(envTable),
	}
	if err := stackOutputs(ctx, cloudformation.NewFromConfig(cfg), stackName(a.Stage), names); err != nil {
		return nil, err
	}
	sqsClient := sqs.NewFromConfig(cfg)
	mk := func(url string) *sqsq.Queue { return sqsq.New(sqsClient, url, sqsq.WithMoveAPI(sqsClient)) }
	o := &backend{Where: fmt.Sprintf("stage %s (%s)", a.Stage, cfg.Region), SQS: map[queue.Queue]*sqsq.Queue{}}
	for _, q := range []struct {
		dst *queue.Queue
		url string
	}{{&o.Targets, names["TargetsQueueUrl"]}, {&o.TargetsDLQ, names["TargetsDLQUrl"]}, {&o.Results, names["ResultsQueueUrl"]}, {&o.ResultsDLQ, names["ResultsDLQUrl"]}} {
		sq := mk(q.url)
		*q.dst = sq
		o.SQS[sq] = sq
	}
	st := dynamo.New(dynamodb.NewFromConfig(cfg), names["TableName"])
	o.Store, o.TargetList = st, st
	o.AWS, o.Table = &cfg, names["TableName"]
	// The planner failures queue and the planner function are read by
	// status and dlq --queue planner alone: they are looked up only then, so
	// the other commands work on a stack without them.
	o.PlannerFailures = func(ctx context.Context) (queue.Queue, error) {
		url := map[string]string{"PlannerFailuresQueueUrl": os.Getenv(envPlannerDLQ)}
		if err := stackOutputs(ctx, cloudformation.NewFromConfig(cfg), stackName(a.Stage), url); err != nil {
			return nil, err
		}
		return sqsq.New(sqsClient, url["PlannerFailuresQueueUrl"]), nil
	}
	o.Planner = func(ctx context.Context) (cmdutil.PlannerSender, error) {
		fn := map[string]string{"PlannerFunctionName": os.Getenv(envPlanner)}
		if err := stackOutputs(ctx, cloudformation.NewFromConfig(cfg), stackName(a.Stage), fn); err != nil {
			return nil, err
		}
		return lambdaasync.New(lambda.NewFromConfig(cfg), fn["PlannerFunctionName"]), nil
	}
	return o, nil
}

// stackOutputs fills the empty values of names from the stack's outputs
// (values already set, from the environment, win). The stack is read only
// when something is missing.
func stackOutputs(ctx context.Context, cf cloudformation.DescribeStacksAPIClient, stack string, names map[string]string) error {
	missing := false
	for _, v := range names {
		missing = missing || v == ""
	}
	if !missing {
		return nil
	}
	out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		return fmt.Errorf("read the outputs of stack %s (deployed with `make deploy STAGE=...`?): %w", stack, err)
	}
	if len(out.Stacks) == 0 {
		return fmt.Errorf("stack %s not found: deploy the stage first, or check --region and --profile", stack)
	}
	for _, o := range out.Stacks[0].Outputs {
		k := aws.ToString(o.OutputKey)
		if v, ok := names[k]; ok && v == "" {
			names[k] = aws.ToString(o.OutputValue)
		}
	}
	var still []string
	for k, v := range names {
		if v == "" {
			still = append(still, k)
		}
	}
	if len(still) > 0 {
		return fmt.Errorf("stack %s has no output %s: redeploy it with this version of serverless.yml", stack, strings.Join(still, ", "))
	}
	return nil
}
