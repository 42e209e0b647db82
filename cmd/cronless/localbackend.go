package main

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/cronless/cronless/shared/queue/localq"
	"github.com/cronless/cronless/shared/sqlite"
	"github.com/cronless/cronless/shared/store/localstore"
)

// Names of the local backend's queues, the local twins of the stage's queues on AWS.
const (
	// ticksQueue holds schedule ticks until they are planned: the local
	// stand-in for Lambda's asynchronous invocation queue (no twin on AWS).
	ticksQueue     = "cronless-ticks"
	targetsQueue   = "cronless-targets"
	targetsDLQueue = "cronless-targets-dlq"
	resultsQueue   = "cronless-results"
	resultsDLQueue = "cronless-results-dlq"
	localRegion    = "local"
)

// queueSettings are the settings of the local queues.
type queueSettings struct {
	Visibility  time.Duration
	MaxReceives int
}

// localBackend is the embedded local backend: five queues and the store in one SQLite file.
type localBackend struct {
	DB                                       *sql.DB
	ticks                                    *localq.Queue // only when opened with queue settings
	Targets, TargetsDLQ, Results, ResultsDLQ *localq.Queue
	Store                                    *localstore.Store
}

// openBackend opens (creating it if needed) the local backend at path,
// with its queues set as qs says; with qs nil, the queues must exist and
// keep their settings.
func openLocalBackend(ctx context.Context, path string, qs *queueSettings) (*localBackend, error) {
	db, err := sqlite.Open(path)
	if err != nil {
		return nil, err
	}
	b := &localBackend{DB: db}
	if err := b.init(ctx, qs); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("local backend %s: %w", path, err)
	}
	return b, nil
}

func (b *localBackend) init(ctx context.Context, qs *queueSettings) error {
	qb, err := localq.New(b.DB)
	if err != nil {
		return err
	}
	if qs == nil {
		return b.open(ctx, qb)
	}
	dlq := localq.Config{VisibilityTimeout: 30 * time.Second, Region: localRegion}
	if b.TargetsDLQ, err = qb.CreateQueue(ctx, targetsDLQueue, dlq); err != nil {
		return err
	}
	if b.ResultsDLQ, err = qb.CreateQueue(ctx, resultsDLQueue, dlq); err != nil {
		return err
	}
	cfg := func(dlqName string) localq.Config {
		return localq.Config{VisibilityTimeout: qs.Visibility, MaxReceiveCount: qs.MaxReceives, DeadLetterQueue: dlqName, Region: localRegion}
	}
	if b.ticks, err = qb.CreateQueue(ctx, ticksQueue, localq.Config{VisibilityTimeout: qs.Visibility, Region: localRegion}); err != nil {
		return err
	}
	if b.Targets, err = qb.CreateQueue(ctx, targetsQueue, cfg(targetsDLQueue)); err != nil {
		return err
	}
	if b.Results, err = qb.CreateQueue(ctx, resultsQueue, cfg(resultsDLQueue)); err != nil {
		return err
	}
	b.Store, err = localstore.New(ctx, b.DB)
	return err
}

// open opens the existing queues and the store.
func (b *localBackend) open(ctx context.Context, qb *localq.Backend) error {
	var err error
	for _, q := range []struct {
		dst  **localq.Queue
		name string
	}{{&b.Targets, targetsQueue}, {&b.TargetsDLQ, targetsDLQueue}, {&b.Results, resultsQueue}, {&b.ResultsDLQ, resultsDLQueue}} {
		if *q.dst, err = qb.Queue(ctx, q.name); err != nil {
			return fmt.Errorf("queue %s: %w (run `cronless run --once` once to create the local backend)", q.name, err)
		}
	}
	b.Store, err = localstore.New(ctx, b.DB)
	return err
}

func (b *localBackend) Close() error { return b.DB.Close() }
