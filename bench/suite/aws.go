package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/planner"
	"github.com/cronless/cronless/shared/queue/sqsq"
	"github.com/cronless/cronless/shared/standin"
	"github.com/cronless/cronless/shared/store/dynamo"
	"github.com/cronless/cronless/shared/targets"
)

// calls counts API calls by operation; it is safe for concurrent use.
type calls struct {
	mu sync.Mutex
	n  map[string]int
	// items counts the items of BatchWriteItem and the entries of
	// SendMessageBatch.
	items map[string]int
}

func (c *calls) add(op string, items int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n, c.items = map[string]int{}, map[string]int{}
	}
	c.n[op]++
	c.items[op] += items
}

func (c *calls) snapshot() (map[string]int, map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, it := map[string]int{}, map[string]int{}
	for k, v := range c.n {
		n[k] = v
	}
	for k, v := range c.items {
		it[k] = v
	}
	return n, it
}

func (c *calls) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n, c.items = nil, nil
}

// countingSQS is sqsq.API counting its calls.
type countingSQS struct {
	sqsq.API
	c *calls
}

func (s countingSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, o ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	s.c.add("SendMessageBatch", len(in.Entries))
	return s.API.SendMessageBatch(ctx, in, o...)
}

func (s countingSQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, o ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	s.c.add("ReceiveMessage", 0)
	return s.API.ReceiveMessage(ctx, in, o...)
}

func (s countingSQS) GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, o ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	s.c.add("GetQueueAttributes", 0)
	return s.API.GetQueueAttributes(ctx, in, o...)
}

// countingDynamo is dynamo.API counting its calls.
type countingDynamo struct {
	dynamo.API
	c *calls
}

func (d countingDynamo) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	d.c.add("GetItem", 1)
	return d.API.GetItem(ctx, in, o...)
}

func (d countingDynamo) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	d.c.add("PutItem", 1)
	return d.API.PutItem(ctx, in, o...)
}

func (d countingDynamo) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	d.c.add("UpdateItem", 1)
	return d.API.UpdateItem(ctx, in, o...)
}

func (d countingDynamo) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	d.c.add("Query", 0)
	return d.API.Query(ctx, in, o...)
}

func (d countingDynamo) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	n := 0
	for _, reqs := range in.RequestItems {
		n += len(reqs)
	}
	d.c.add("BatchWriteItem", n)
	return d.API.BatchWriteItem(ctx, in, o...)
}

func (d countingDynamo) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	n := 0
	for _, ka := range in.RequestItems {
		n += len(ka.Keys)
	}
	d.c.add("BatchGetItem", n)
	return d.API.BatchGetItem(ctx, in, o...)
}

// AWS is the AWS-side section of the report.
type AWS struct {
	Targets       int
	Planned       int
	OnQueue       int
	PlanSeconds   float64
	PlanSQS       map[string]int
	PlanSQSItems  map[string]int
	PlanDynamo    map[string]int
	Results       int
	ResultCases   []ResultCase
	PlannerErr    string
	ResultsErr    string
	PlannerStdout string
}

// ResultCase is the DynamoDB calls of storing one kind of result.
type ResultCase struct {
	Name    string
	N       int
	Calls   map[string]int
	Items   map[string]int
	Seconds float64
}

// Writes is the write requests (PutItem, UpdateItem, BatchWriteItem) of a case.
func (rc ResultCase) Writes() int {
	return rc.Calls["PutItem"] + rc.Calls["UpdateItem"] + rc.Calls["BatchWriteItem"]
}

// Reads is the read requests (GetItem, Query) of a case.
func (rc ResultCase) Reads() int { return rc.Calls["GetItem"] + rc.Calls["Query"] }

func runAWS(ctx context.Context, t testing.TB, c Config, r *Report, logf func(string, ...any)) {
	a := &AWS{Targets: c.PlannerN, Results: c.ResultsN}
	r.AWS = a
	fq, dl := standin.Fauxqs(t), standin.Dynalite(t, "")
	sqsClient, db := fq.SQS(t), dl.DynamoDB(t)
	if err := dynamo.CreateTable(ctx, db, "bench"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	var sc, dc calls
	st := dynamo.New(countingDynamo{db, &dc}, "bench")

	// The planner: one tick of a schedule with PlannerN targets.
	logf("aws: the planner plans %d targets onto fauxqs", c.PlannerN)
	out, err := sqsClient.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("bench-targets")})
	if err != nil {
		t.Fatalf("create queue: %v", err)
	}
	urls := make([]string, c.PlannerN)
	for i := range urls {
		urls[i] = fmt.Sprintf("https://example.com/page/%d", i)
	}
	tf, err := targets.Parse("targets.yaml", []byte(targetsYAML(urls)))
	if err != nil {
		a.PlannerErr = err.Error()
	} else {
		p := planner.New(tf, sqsq.New(countingSQS{sqsClient, &sc}, *out.QueueUrl), st)
		t0 := time.Now()
		resp, err := p.Handle(ctx, planner.Tick{Schedule: "bench", ScheduledTime: "2026-01-01T00:00:00Z"})
		a.PlanSeconds = time.Since(t0).Seconds()
		if err != nil {
			a.PlannerErr = err.Error()
		}
		a.Planned = resp.Planned
		a.PlanSQS, a.PlanSQSItems = sc.snapshot()
		a.PlanDynamo, _ = dc.snapshot()
		// Visible and delayed: the planner paces a host's jobs (one host
		// here, at the default 1/s), so all but the first are delayed.
		if qa, err := sqsClient.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl,
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
				sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed}}); err == nil {
			visible, _ := strconv.Atoi(qa.Attributes["ApproximateNumberOfMessages"])
			delayed, _ := strconv.Atoi(qa.Attributes["ApproximateNumberOfMessagesDelayed"])
			a.OnQueue = visible + delayed
		}
	}

	// The results store: ResultsN targets, a first result each, then a
	// second run with the same content, then that second result again (a
	// redelivery).
	logf("aws: %d results through the DynamoDB store on dynalite", c.ResultsN)
	result := func(i int, run string, at time.Time) job.Result {
		return job.Result{
			V: job.Version, RunID: job.RunID("bench", at), Schedule: "bench", TargetID: fmt.Sprintf("t%d", i),
			URL: fmt.Sprintf("https://example.com/page/%d", i), ScheduledAt: at, FetchedAt: at.Add(time.Second),
			DurationMS: 50, Attempt: 1, Status: job.StatusOK, HTTPStatus: 200,
			Fields:      map[string]any{"title": fmt.Sprintf("Page %d", i), "h1": "Widget"},
			ContentHash: strings.Repeat("a", 64),
		}
	}
	t1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Hour)
	for _, cs := range []struct {
		name string
		at   time.Time
	}{{"first result of a target", t1}, {"next run, same content", t2}, {"the same result again (redelivery)", t2}} {
		dc.reset()
		t0 := time.Now()
		for i := range c.ResultsN {
			if _, err := st.PutResult(ctx, result(i, "", cs.at)); err != nil {
				a.ResultsErr = err.Error()
				return
			}
		}
		n, it := dc.snapshot()
		a.ResultCases = append(a.ResultCases, ResultCase{Name: cs.name, N: c.ResultsN, Calls: n, Items: it, Seconds: time.Since(t0).Seconds()})
	}
}

// targetsYAML is a targets file of urls on one schedule "bench".
func targetsYAML(urls []string) string {
	var b strings.Builder
	b.WriteString("schedules:\n  bench: { expression: \"rate(1 hour)\" }\ntargets:\n")
	for i, u := range urls {
		fmt.Fprintf(&b, "  - { id: t%d, url: %q, schedule: bench, extract: { h1: { css: h1 } } }\n", i, u)
	}
	return b.String()
}
