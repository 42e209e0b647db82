package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/cronless/cronless/bench/benchtb"
	"github.com/cronless/cronless/shared/planner"
	"github.com/cronless/cronless/shared/queue/sqsq"
	"github.com/cronless/cronless/shared/standin"
	"github.com/cronless/cronless/shared/store/dynamo"
	"github.com/cronless/cronless/shared/store/dynamo/dynamometer"
	"github.com/cronless/cronless/shared/targets"
)

// runStandins plans on fauxqs and dynalite: the list imported into the
// table, the shard events on an SQS queue standing in for the planner's
// asynchronous invocations, the jobs on the targets queue. It checks the
// counts and item sizes, and meters the planner's reads.
func runStandins(ctx context.Context, c config) error {
	tb := benchtb.New()
	defer tb.Close()
	var stopped string
	var err error
	benchtb.Section(tb, &stopped, func() { err = standins(ctx, tb, c) })
	if stopped != "" {
		return errors.New(stopped)
	}
	return err
}

func standins(ctx context.Context, tb *benchtb.TB, c config) error {
	dir, cleanup, err := workDir(c)
	if err != nil {
		return err
	}
	defer cleanup()
	tfPath, listPath, err := writeInputs(dir, c, "")
	if err != nil {
		return err
	}
	fq, dl := standin.Fauxqs(tb), standin.Dynalite(tb, "")
	sqsClient, ddb := fq.SQS(tb), dl.DynamoDB(tb)
	const table = "cronless-scale"
	if err := dynamo.CreateTable(ctx, ddb, table); err != nil {
		return err
	}
	tf, err := targets.Load(tfPath)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(listPath)
	if err != nil {
		return err
	}
	entries, err := targets.ParseList(listPath, data, tf)
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := dynamo.New(ddb, table).ApplyTargets(ctx, targets.PlanList(nil, nil, entries, targets.WithShardSize(c.ShardSize)), nil); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	fmt.Printf("imported %d targets into dynalite in %.1f s\n", len(entries), time.Since(t0).Seconds())
	entries = nil

	mkQueue := func(name string) (*sqsq.Queue, error) {
		out, err := sqsClient.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
		if err != nil {
			return nil, err
		}
		return sqsq.New(sqsClient, *out.QueueUrl), nil
	}
	jobsQ, err := mkQueue("cronless-scale-targets")
	if err != nil {
		return err
	}
	shardsQ, err := mkQueue("cronless-scale-shards")
	if err != nil {
		return err
	}
	sz := &sizes{API: ddb}
	meter := dynamometer.New(sz, []*dynamodb.CreateTableInput{dynamo.TableInput(table)})
	st := dynamo.New(meter, table)
	jobs := newCountingSender(jobsQ, c.Targets)
	p := planner.New(tf, jobs, st, planner.WithTargetList(st, shardsQ))
	r := report{Targets: c.Targets, Hosts: c.Hosts}
	if err := planTick(ctx, p, shardsQ, c.Parallel, &r); err != nil {
		return err
	}
	reads := meter.Total().Read
	if err := finish(ctx, st, jobsQ, jobs, &r); err != nil {
		return err
	}
	r.LargestItem, r.LargestItemWhat = sz.largest, sz.what
	r.Reads = fmt.Sprintf("planner reads %.0f RRU: %.4f a target", reads, reads/float64(c.Targets))
	r.print()
	return r.check()
}
