// Package sqlite opens the SQLite file that cronless's local adapters share
// (the localq queues and the local results store live in one file,
// .cronless/local.db by default) and runs their schema migrations.
//
// It uses modernc.org/sqlite (pure Go, no cgo). Every handle it opens is
// configured the same way, so several adapters, goroutines and processes can
// use one file at once:
//
//   - journal_mode=WAL: readers never block the writer and the writer never
//     blocks readers; writers still take turns.
//   - busy_timeout=10s: a connection that finds the write lock taken (by this
//     process or another) waits for it instead of failing with SQLITE_BUSY.
//   - _txlock=immediate: every read-write transaction from db.BeginTx starts
//     with BEGIN IMMEDIATE and so takes the write lock at BEGIN. A deferred
//     transaction that reads and then writes would instead fail at once with
//     SQLITE_BUSY (busy_timeout cannot help: waiting could deadlock) whenever
//     another connection wrote in between. Transactions opened with
//     sql.TxOptions{ReadOnly: true} stay deferred and take no write lock.
//   - synchronous=FULL: in WAL mode NORMAL syncs the log only at checkpoints,
//     so the last transactions committed before a power loss can be rolled
//     back. A queue promises that a message is durable once SendBatch returns,
//     so every commit must fsync the log; FULL does that, at the price of
//     one fsync per commit (about 2 ms on the development VM's disk, where a
//     send-receive-delete cycle of 10 messages takes about 6 ms with FULL and
//     0.5 ms with NORMAL).
//   - foreign_keys=ON.
//
// Pool: a handle keeps up to MaxConns connections open, and never closes idle
// ones (each new connection replays the pragmas above and takes a lock to
// check the journal mode). Several connections let WAL readers run beside a
// writer and keep a caller that holds rows open from deadlocking against
// another query, which a one-connection pool would do. Writers go through
// WriteTx, which lets one write transaction of the process at a time reach
// SQLite (the others wait their turn in Go, and those that waited together
// share the next transaction and its one fsync: group commit); only writers of
// different processes meet in SQLite's busy handler, which waits up to
// BusyTimeout with short sleeps. Because every write transaction is
// IMMEDIATE and short, contention costs waiting, not SQLITE_BUSY errors
// (those come only if another process holds the lock for BusyTimeout).
// Writes that bypass WriteTx still work, but wait in the busy handler.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DriverName is the database/sql driver Open uses.
const DriverName = "sqlite"

// BusyTimeout is how long a connection waits for a lock held by another
// connection before it fails with SQLITE_BUSY.
const BusyTimeout = 10 * time.Second

// MaxConns is the most connections one handle from Open keeps open.
const MaxConns = 4

// Open opens (creating it and its parent directory if needed) the SQLite
// file at path, configured as the package documentation describes. Close the
// handle when done.
func Open(path string) (*sql.DB, error) {
	if path == "" {
		return nil, errors.New("open sqlite: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db, err := sql.Open(DriverName, dsn(abs))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(MaxConns)
	db.SetMaxIdleConns(MaxConns)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	// Connect now, so that a bad path or a file that is not a database fails
	// here rather than at first use.
	ctx, cancel := context.WithTimeout(context.Background(), BusyTimeout+5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return db, nil
}

// dsn builds modernc's data source name for the absolute path abs.
func dsn(abs string) string {
	// A file: URI, so that '?', '#' and '%' in the path are escaped rather
	// than taken for the query.
	u := url.URL{Path: filepath.ToSlash(abs)}
	q := url.Values{}
	// busy_timeout is applied first by the driver, so the journal_mode
	// change below waits for a lock rather than failing.
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Set("_txlock", "immediate")
	return "file:" + u.EscapedPath() + "?" + q.Encode()
}
