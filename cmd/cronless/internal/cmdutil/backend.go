package cmdutil

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/queue/sqsq"
	"github.com/cronless/cronless/shared/store"
)

// ResultsStore is what the operating commands read and write: the store
// port and the queries both adapters (localstore, dynamo) offer the CLI.
type ResultsStore interface {
	store.Store
	History(ctx context.Context, targetID string, since, until time.Time, limit int) ([]job.Result, error)
	Changed(ctx context.Context, since time.Time) ([]job.Result, error)
	Failed(ctx context.Context, runID string) ([]job.Result, error)
}

// Backend is what the operating commands (dlq, results, runs, status) work on: the
// local one (default) or a deployed stage (--stage).
type Backend struct {
	// Where names the backend for messages: "local (.cronless/local.db)" or "stage prod (eu-west-1)".
	Where                                    string
	Targets, TargetsDLQ, Results, ResultsDLQ queue.Queue
	Store                                    ResultsStore
	// TargetList is the stored target list (cronless targets): the same
	// store as Store, through the port the targets commands use.
	TargetList store.TargetList
	// SQS is the SQS adapter of each queue on a stage (nil locally), for
	// what only SQS has (message move tasks).
	SQS map[queue.Queue]*sqsq.Queue
	// Ticks is the local ticks queue (nil on a stage, and in a local
	// backend made before it had one); only status reads it.
	Ticks queue.Queue
	// AWS is the stage's AWS configuration (nil locally), for what only
	// status reads (CloudWatch) and migrate (DynamoDB).
	AWS *aws.Config
	// Table is the stage's DynamoDB table, the stack output TableName
	// (empty locally), for migrate.
	Table string
	// PlannerFailures opens the planner failures queue: on a stage the
	// planner's on-failure destination and Scheduler's dead-letter queue,
	// locally where the local pipeline records what it failed to plan (nil
	// in a local backend made before it had one).
	PlannerFailures func(context.Context) (queue.Queue, error)
	// Planner opens what re-delivers an event to the planner (dlq replay
	// --queue planner): on a stage asynchronous invocations of the planner
	// function (shared/lambdaasync), locally the ticks queue.
	Planner func(context.Context) (PlannerSender, error)
	// CloseFunc releases what the backend holds (nil: nothing).
	CloseFunc func()
}

// PlannerSender re-delivers events to the planner; a queue.Queue and a
// lambdaasync.Sender satisfy it.
type PlannerSender interface {
	Name() string
	SendBatch(ctx context.Context, msgs []queue.Outgoing) error
}

// Close releases what the backend holds.
func (o *Backend) Close() {
	if o.CloseFunc != nil {
		o.CloseFunc()
	}
}

// ErrNoBackend is the error of StoreBackend when the local backend's file
// does not exist (and was not to be created).
var ErrNoBackend = errors.New("no local backend")
