// Command results is the results Lambda: the results queue's event source
// mapping invokes it with batches of results (and failed attempts), which
// it stores in DynamoDB. The handler core is shared/results.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/cronless/cronless/shared/lambdafn"
	"github.com/cronless/cronless/shared/metrics"
	"github.com/cronless/cronless/shared/queue/sqsq"
	"github.com/cronless/cronless/shared/results"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo"
)

func main() {
	env := lambdafn.NewEnv(os.Getenv)
	table := env.Required("TABLE_NAME", "the DynamoDB table of results and runs")
	dlqURL := env.QueueURL("RESULTS_DLQ_URL", "the URL of the results dead-letter queue, for malformed messages")
	retentionDays := env.Int("RETENTION_DAYS", 90, 0, store.MaxRetentionDays)
	stage := env.Required("STAGE", "the stage, a dimension of the metrics")
	log := lambdafn.Logger("results", env.Level())
	if err := env.Err(); err != nil {
		lambdafn.Fail("results", err)
	}
	cfg, err := lambdafn.AWSConfig(context.Background())
	if err != nil {
		lambdafn.Fail("results", err)
	}
	st := dynamo.New(dynamodb.NewFromConfig(cfg), table,
		dynamo.WithRetention(time.Duration(retentionDays)*24*time.Hour))
	r := results.New(st, results.WithDeadLetters(sqsq.New(sqs.NewFromConfig(cfg), dlqURL)), results.WithLogger(log),
		results.WithMetrics(metrics.New("results", metrics.WithEMF(os.Stdout, stage))))
	lambdafn.Start(log, r.Handle)
}
