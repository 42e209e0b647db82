package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cronless/cronless/cmd/cronless/internal/localbackend"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/queue/sqsq"
	"github.com/cronless/cronless/shared/standin"
	"github.com/cronless/cronless/shared/store/dynamo"
)

// testBackend is a backend the operating commands can run on, with direct
// access to its queues and store for seeding and checking.
type testBackend struct {
	name string
	// args select the backend on the command line (--db … or --stage …).
	args                                     []string
	Targets, TargetsDLQ, Results, ResultsDLQ queue.Queue
	// PlannerFailures is the planner failures queue; Ticks the local ticks
	// queue (nil on a stage, where a replay invokes the planner).
	PlannerFailures, Ticks queue.Queue
	Store                  resultsStore
}

// withArgs returns the command line with the backend's flags appended.
func (b *testBackend) withArgs(args ...string) []string { return append(args, b.args...) }

// testBackends returns the local backend and a stage on fauxqs and
// dynalite, for tests that every operating command runs on both.
func testBackends(t *testing.T) []*testBackend {
	t.Helper()
	return []*testBackend{localTestBackend(t), stageTestBackend(t)}
}

// localTestBackend is a fresh local backend (maxReceiveCount 3).
func localTestBackend(t *testing.T) *testBackend {
	t.Helper()
	db := filepath.Join(t.TempDir(), "local.db")
	b, err := localbackend.Open(context.Background(), db, &localbackend.Settings{Visibility: 30 * time.Second, MaxReceives: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return &testBackend{name: "local", args: []string{"--db", db},
		Targets: b.Targets, TargetsDLQ: b.TargetsDLQ, Results: b.Results, ResultsDLQ: b.ResultsDLQ,
		PlannerFailures: b.PlannerFailures, Ticks: b.Ticks, Store: b.Store}
}

// stageTestBackend is a stage "test" on fauxqs and dynalite: the CLI finds
// its resources through the CRONLESS_* variables (instead of stack
// outputs) and reaches the stand-ins through AWS_ENDPOINT_URL_*.
func stageTestBackend(t *testing.T) *testBackend {
	t.Helper()
	ctx := context.Background()
	fq, dl := standin.Fauxqs(t), standin.Dynalite(t, "")
	client := fq.SQS(t)
	mk := func(name, dlq string) string {
		attrs := map[string]string{"VisibilityTimeout": "30"}
		if dlq != "" {
			out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &dlq,
				AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
			if err != nil {
				t.Fatal(err)
			}
			attrs["RedrivePolicy"] = fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"3"}`, out.Attributes["QueueArn"])
		}
		out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
		if err != nil {
			t.Fatal(err)
		}
		return *out.QueueUrl
	}
	targetsDLQURL := mk("cronless-test-targets-dlq", "")
	resultsDLQ := mk("cronless-test-results-dlq", "")
	targetsURL := mk("cronless-test-targets", targetsDLQURL)
	results := mk("cronless-test-results", resultsDLQ)
	plannerFailures := mk("cronless-test-planner-failures", "")
	db := dl.DynamoDB(t)
	if err := dynamo.CreateTable(ctx, db, "cronless-test"); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		envTargetsQueue: targetsURL, envTargetsDLQ: targetsDLQURL, envResultsQueue: results, envResultsDLQ: resultsDLQ, envTable: "cronless-test",
		envPlannerDLQ:          plannerFailures,
		"AWS_ENDPOINT_URL_SQS": fq.Endpoint, "AWS_ENDPOINT_URL_DYNAMODB": dl.Endpoint,
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": standin.Region,
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"),
	} {
		t.Setenv(k, v)
	}
	q := func(url string) queue.Queue { return sqsq.New(client, url) }
	return &testBackend{name: "stage", args: []string{"--stage", "test"},
		Targets: q(targetsURL), TargetsDLQ: q(targetsDLQURL), Results: q(results), ResultsDLQ: q(resultsDLQ),
		PlannerFailures: q(plannerFailures), Store: dynamo.New(db, "cronless-test")}
}
