// Package localbackend is the CLI's embedded backend: the six local
// queues and the store in one SQLite file.
package localbackend

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/queue/localq"
	"github.com/cronless/cronless/shared/sqlite"
	"github.com/cronless/cronless/shared/store/localstore"
)

// Names of the local backend's queues, the local twins of the stage's queues on AWS.
const (
	// TicksQueue holds schedule ticks until they are planned: the local
	// stand-in for Lambda's asynchronous invocation queue (no twin on AWS).
	TicksQueue = "cronless-ticks"
	// PlannerFailuresQueue holds what the local planner failed on, as
	// Lambda's invocation records (the stage's
	// cronless-<stage>-planner-failures).
	PlannerFailuresQueue = "cronless-planner-failures"
	TargetsQueue         = "cronless-targets"
	TargetsDLQueue       = "cronless-targets-dlq"
	ResultsQueue         = "cronless-results"
	ResultsDLQueue       = "cronless-results-dlq"
	Region               = "local"
)

// Settings are the settings of the local queues.
type Settings struct {
	Visibility  time.Duration
	MaxReceives int
}

// Backend is the embedded local backend: six queues and the store in one SQLite file.
type Backend struct {
	DB                                       *sql.DB
	Ticks                                    *localq.Queue // nil when opened without queue settings on a database without it
	PlannerFailures                          *localq.Queue // likewise
	Targets, TargetsDLQ, Results, ResultsDLQ *localq.Queue
	Store                                    *localstore.Store
	// LogFile, when set, is the pipeline's log file (shared/logs), closed
	// with the backend.
	LogFile io.Closer
}

// openBackend opens (creating it if needed) the local backend at path,
// with its queues set as qs says; with qs nil, the queues must exist and
// keep their settings.
func Open(ctx context.Context, path string, qs *Settings) (*Backend, error) {
	db, err := sqlite.Open(path)
	if err != nil {
		return nil, err
	}
	b := &Backend{DB: db}
	if err := b.init(ctx, qs); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("local backend %s: %w", path, err)
	}
	return b, nil
}

func (b *Backend) init(ctx context.Context, qs *Settings) error {
	qb, err := localq.New(b.DB)
	if err != nil {
		return err
	}
	if qs == nil {
		return b.open(ctx, qb)
	}
	dlq := localq.Config{VisibilityTimeout: 30 * time.Second, Region: Region}
	if b.TargetsDLQ, err = qb.CreateQueue(ctx, TargetsDLQueue, dlq); err != nil {
		return err
	}
	if b.ResultsDLQ, err = qb.CreateQueue(ctx, ResultsDLQueue, dlq); err != nil {
		return err
	}
	if b.PlannerFailures, err = qb.CreateQueue(ctx, PlannerFailuresQueue, dlq); err != nil {
		return err
	}
	cfg := func(dlqName string) localq.Config {
		return localq.Config{VisibilityTimeout: qs.Visibility, MaxReceiveCount: qs.MaxReceives, DeadLetterQueue: dlqName, Region: Region}
	}
	if b.Ticks, err = qb.CreateQueue(ctx, TicksQueue, localq.Config{VisibilityTimeout: qs.Visibility, Region: Region}); err != nil {
		return err
	}
	if b.Targets, err = qb.CreateQueue(ctx, TargetsQueue, cfg(TargetsDLQueue)); err != nil {
		return err
	}
	if b.Results, err = qb.CreateQueue(ctx, ResultsQueue, cfg(ResultsDLQueue)); err != nil {
		return err
	}
	b.Store, err = localstore.New(ctx, b.DB)
	return err
}

// open opens the existing queues and the store.
func (b *Backend) open(ctx context.Context, qb *localq.Backend) error {
	var err error
	for _, q := range []struct {
		dst  **localq.Queue
		name string
	}{{&b.Targets, TargetsQueue}, {&b.TargetsDLQ, TargetsDLQueue}, {&b.Results, ResultsQueue}, {&b.ResultsDLQ, ResultsDLQueue}} {
		if *q.dst, err = qb.Queue(ctx, q.name); err != nil {
			return fmt.Errorf("queue %s: %w (run `cronless run --once` once to create the local backend)", q.name, err)
		}
	}
	// A database made before the ticks or the planner failures queue
	// existed has none: the commands that read them say so.
	for _, q := range []struct {
		dst  **localq.Queue
		name string
	}{{&b.Ticks, TicksQueue}, {&b.PlannerFailures, PlannerFailuresQueue}} {
		if *q.dst, err = qb.Queue(ctx, q.name); errors.Is(err, queue.ErrNoQueue) {
			*q.dst, err = nil, nil
		}
		if err != nil {
			return fmt.Errorf("queue %s: %w", q.name, err)
		}
	}
	b.Store, err = localstore.New(ctx, b.DB)
	return err
}

func (b *Backend) Close() error {
	if b.LogFile != nil {
		_ = b.LogFile.Close()
	}
	return b.DB.Close()
}
