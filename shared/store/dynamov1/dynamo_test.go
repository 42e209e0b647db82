package dynamov1

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/standin"
)

// dynalite starts a DynamoDB stand-in for the test and returns a client of it.
func dynalite(t *testing.T) *dynamodb.Client {
	t.Helper()
	return standin.Dynalite(t, "").DynamoDB(t)
}

var tables atomic.Int64

// newTable creates a table with a unique name and returns its name.
func newTable(t *testing.T, client TableAPI) string {
	t.Helper()
	name := fmt.Sprintf("cronless-test-%d", tables.Add(1))
	if err := CreateTable(t.Context(), client, name); err != nil {
		t.Fatal(err)
	}
	return name
}

// newStore returns a Store of a new table.
func newStore(t *testing.T, client *dynamodb.Client, opts ...Option) *Store {
	t.Helper()
	return New(client, newTable(t, client), opts...)
}

// rawItem reads one item as stored.
func rawItem(t *testing.T, client API, table string, k item) item {
	t.Helper()
	out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: k, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Item) == 0 {
		t.Fatalf("no item %s", k.KeyString())
	}
	return out.Item
}

var base = time.Date(2025, 3, 1, 10, 0, 0, 123456789, time.UTC)

func tick(i int) time.Time { return base.Add(time.Duration(i) * time.Hour) }

func okResult(target string, i int, hash string) job.Result {
	return job.Result{
		V: job.Version, RunID: job.RunID("hourly", tick(i)), Schedule: "hourly", TargetID: target,
		URL: "https://example.com/" + target, ScheduledAt: tick(i), Status: job.StatusOK, HTTPStatus: 200,
		Fields: map[string]any{"title": hash}, ContentHash: hash, FetchedAt: tick(i).Add(time.Second),
		DurationMS: 100, Attempt: 1,
	}
}

func failedResult(target string, i int) job.Result {
	return job.Result{
		V: job.Version, RunID: job.RunID("hourly", tick(i)), Schedule: "hourly", TargetID: target,
		URL: "https://example.com/" + target, ScheduledAt: tick(i), Status: job.StatusFailed, HTTPStatus: 500,
		FetchedAt: tick(i).Add(time.Second), DurationMS: 100, Attempt: 3,
		Error: &job.Error{Kind: "http_5xx", Message: "500 Internal Server Error"},
	}
}
