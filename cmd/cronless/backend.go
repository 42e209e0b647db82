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
	ticksQueue      = "cronless-ticks"
	jobsQueue       = "cronless-targets"
	jobsDLQueue     = "cronless-targets-dlq"
	resultsQueue    = "cronless-results"
	resultsDLQueue  = "cronless-results-dlq"
	localRegion     = "local"
	maxVisibility   = 12 * time.Hour
	maxReceiveLimit = 1000
)

// queueSettings are the settings of the local queues.
type queueSettings struct {
	Visibility  time.Duration
	MaxReceives int
}

// backend is the embedded local backend: five queues and the store in one SQLite file.
type backend struct {
	db                                *sql.DB
	ticks                             *localq.Queue // only when opened with queue settings
	jobs, jobsDLQ, results, resultsDQ *localq.Queue
	store                             *localstore.Store
}

// openBackend opens (creating it if needed) the local backend at path,
// with its queues set as qs says; with qs nil, the queues must exist and
// keep their settings.
func openBackend(ctx context.Context, path string, qs *queueSettings) (*backend, error) {
	db, err := sqlite.Open(path)
	if err != nil {
		return nil, err
	}
	b := &backend{db: db}
	if err := b.init(ctx, qs); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("local backend %s: %w", path, err)
	}
	return b, nil
}

func (b *backend) init(ctx context.Context, qs *queueSettings) error {
	qb, err := localq.New(b.db)
	if err != nil {
		return err
	}
	if qs == nil {
		return b.open(ctx, qb)
	}
	dlq := localq.Config{VisibilityTimeout: 30 * time.Second, Region: localRegion}
	if b.jobsDLQ, err = qb.CreateQueue(ctx, jobsDLQueue, dlq); err != nil {
		return err
	}
	if b.resultsDQ, err = qb.CreateQueue(ctx, resultsDLQueue, dlq); err != nil {
		return err
	}
	cfg := func(dlqName string) localq.Config {
		return localq.Config{VisibilityTimeout: qs.Visibility, MaxReceiveCount: qs.MaxReceives, DeadLetterQueue: dlqName, Region: localRegion}
	}
	if b.ticks, err = qb.CreateQueue(ctx, ticksQueue, localq.Config{VisibilityTimeout: qs.Visibility, Region: localRegion}); err != nil {
		return err
	}
	if b.jobs, err = qb.CreateQueue(ctx, jobsQueue, cfg(jobsDLQueue)); err != nil {
		return err
	}
	if b.results, err = qb.CreateQueue(ctx, resultsQueue, cfg(resultsDLQueue)); err != nil {
		return err
	}
	b.store, err = localstore.New(ctx, b.db)
	return err
}

// open opens the existing queues and the store.
func (b *backend) open(ctx context.Context, qb *localq.Backend) error {
	var err error
	for _, q := range []struct {
		dst  **localq.Queue
		name string
	}{{&b.jobs, jobsQueue}, {&b.jobsDLQ, jobsDLQueue}, {&b.results, resultsQueue}, {&b.resultsDQ, resultsDLQueue}} {
		if *q.dst, err = qb.Queue(ctx, q.name); err != nil {
			return fmt.Errorf("queue %s: %w (run `cronless run --once` once to create the local backend)", q.name, err)
		}
	}
	b.store, err = localstore.New(ctx, b.db)
	return err
}

func (b *backend) Close() error { return b.db.Close() }
