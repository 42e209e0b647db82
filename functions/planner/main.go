// Command planner is the planner Lambda: EventBridge Scheduler invokes it
// with a schedule's tick, and it sends one job per target of that schedule
// to the targets queue; a schedule's stored targets it plans in shards, by
// invoking itself once per shard. The handler core is shared/planner.
package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/cronless/cronless/shared/lambdaasync"
	"github.com/cronless/cronless/shared/lambdafn"
	"github.com/cronless/cronless/shared/metrics"
	"github.com/cronless/cronless/shared/planner"
	"github.com/cronless/cronless/shared/queue/sqsq"
	"github.com/cronless/cronless/shared/store/dynamo"
	"github.com/cronless/cronless/shared/targets"
)

func main() {
	env := lambdafn.NewEnv(os.Getenv)
	jobsURL := env.QueueURL("TARGETS_QUEUE_URL", "the URL of the targets queue")
	table := env.Required("TABLE_NAME", "the DynamoDB table of results and runs")
	// Set by Lambda: the planner invokes itself once per shard.
	self := env.Required("AWS_LAMBDA_FUNCTION_NAME", "the planner's own function name (Lambda sets it)")
	targetsFile := env.String("TARGETS_FILE", "targets.yaml")
	stage := env.Required("STAGE", "the stage, a dimension of the metrics")
	log := lambdafn.Logger("planner", env.Level())
	if err := env.Err(); err != nil {
		lambdafn.Fail("planner", err)
	}
	// The targets file is packaged beside bootstrap.
	if !filepath.IsAbs(targetsFile) {
		if exe, err := os.Executable(); err == nil {
			targetsFile = filepath.Join(filepath.Dir(exe), targetsFile)
		}
	}
	tf, err := targets.Load(targetsFile)
	if err != nil {
		lambdafn.Fail("planner", err)
	}
	cfg, err := lambdafn.AWSConfig(context.Background())
	if err != nil {
		lambdafn.Fail("planner", err)
	}
	jobs := sqsq.New(sqs.NewFromConfig(cfg), jobsURL)
	store := dynamo.New(dynamodb.NewFromConfig(cfg), table)
	shards := lambdaasync.New(lambda.NewFromConfig(cfg), self)
	// Scheduler's ticks and the planner's own shard events, told apart by
	// HandleEvent.
	lambdafn.Start(log, planner.New(tf, jobs, store, planner.WithLogger(log), planner.WithTargetList(store, shards),
		planner.WithMetrics(metrics.New("planner", metrics.WithEMF(os.Stdout, stage)))).HandleEvent)
}
