package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/queue/sqsq"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo"
)

// resultsStore is what the operating commands read and write: the store
// port and the queries both adapters (localstore, dynamo) offer the CLI.
type resultsStore interface {
	store.Store
	History(ctx context.Context, targetID string, since, until time.Time, limit int) ([]job.Result, error)
	Changed(ctx context.Context, since time.Time) ([]job.Result, error)
	Failed(ctx context.Context, runID string) ([]job.Result, error)
}

// backend is what the operating commands (dlq, results, runs) work on: the
// local one (default) or a deployed stage (--stage).
type backend struct {
	// where names the backend for messages: "local (.cronless/local.db)" or "stage prod (eu-west-1)".
	where                                    string
	targets, targetsDLQ, results, resultsDLQ queue.Queue
	store                                    resultsStore
	// sqs is the SQS adapter of each queue on a stage (nil locally), for
	// what only SQS has (message move tasks).
	sqs   map[queue.Queue]*sqsq.Queue
	close func()
}

func (o *backend) Close() {
	if o.close != nil {
		o.close()
	}
}

// Environment variables that override a stage's stack outputs.
const (
	envTargetsQueue = "CRONLESS_TARGETS_QUEUE_URL"
	envTargetsDLQ   = "CRONLESS_TARGETS_DLQ_URL"
	envResultsQueue = "CRONLESS_RESULTS_QUEUE_URL"
	envResultsDLQ   = "CRONLESS_RESULTS_DLQ_URL"
	envTable        = "CRONLESS_TABLE"
)

// openBackend opens the backend the global flags select.
func (a *Factory) openBackend(ctx context.Context) (*backend, error) {
	if a.stage == "" {
		return a.openLocal(ctx)
	}
	return a.openStage(ctx)
}

func (a *Factory) openLocal(ctx context.Context) (*backend, error) {
	if _, err := os.Stat(a.db); err != nil {
		return nil, fmt.Errorf("no local backend at %s yet: run `cronless run --once` or `cronless demo` first, point --db at one, or use --stage for a deployed stage", a.db)
	}
	b, err := openLocalBackend(ctx, a.db, nil)
	if err != nil {
		return nil, err
	}
	return &backend{
		where:   fmt.Sprintf("local (%s)", a.db),
		targets: b.targets, targetsDLQ: b.targetsDLQ, results: b.results, resultsDLQ: b.resultsDLQ,
		store: b.store, close: func() { _ = b.Close() },
	}, nil
}

// stackName is the CloudFormation stack serverless.yml deploys for a stage.
func stackName(stage string) string { return "cronless-" + stage }

func (a *Factory) openStage(ctx context.Context) (*backend, error) {
	cfg, err := a.stageConfig(ctx)
	if err != nil {
		return nil, err
	}
	names := map[string]string{
		"TargetsQueueUrl": os.Getenv(envTargetsQueue), "TargetsDLQUrl": os.Getenv(envTargetsDLQ),
		"ResultsQueueUrl": os.Getenv(envResultsQueue), "ResultsDLQUrl": os.Getenv(envResultsDLQ),
		"TableName": os.Getenv(envTable),
	}
	if err := stackOutputs(ctx, cloudformation.NewFromConfig(cfg), stackName(a.stage), names); err != nil {
		return nil, err
	}
	sqsClient := sqs.NewFromConfig(cfg)
	mk := func(url string) *sqsq.Queue { return sqsq.New(sqsClient, url, sqsq.WithMoveAPI(sqsClient)) }
	o := &backend{where: fmt.Sprintf("stage %s (%s)", a.stage, cfg.Region), sqs: map[queue.Queue]*sqsq.Queue{}}
	for _, q := range []struct {
		dst *queue.Queue
		url string
	}{{&o.targets, names["TargetsQueueUrl"]}, {&o.targetsDLQ, names["TargetsDLQUrl"]}, {&o.results, names["ResultsQueueUrl"]}, {&o.resultsDLQ, names["ResultsDLQUrl"]}} {
		sq := mk(q.url)
		*q.dst = sq
		o.sqs[sq] = sq
	}
	o.store = dynamo.New(dynamodb.NewFromConfig(cfg), names["TableName"])
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
