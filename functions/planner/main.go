// Command planner is the planner Lambda: EventBridge Scheduler invokes it
// with a schedule's tick, and it sends one job per target of that schedule
// to the targets queue. The handler core is shared/planner.
package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

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
	runs := dynamo.New(dynamodb.NewFromConfig(cfg), table)
	lambdafn.Start(log, planner.New(tf, jobs, runs, planner.WithLogger(log),
		planner.WithMetrics(metrics.New("planner", metrics.WithEMF(os.Stdout, stage)))).Handle)
}
