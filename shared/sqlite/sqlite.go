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
// SQLite (the others wait their turn in Go, woken at once); only writers of
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
	"runtime"
	"sync"
	"time"
	"weak"

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

// WriteTx runs fn in one read-write (IMMEDIATE) transaction on db and
// commits it, or rolls it back when fn or the commit fails. fn must use tx
// only, never db, and must not call WriteTx.
//
// The write transactions of one process on one handle take turns on a
// gate before they begin, in arrival order, so that only one of them at a
// time waits in SQLite's busy handler (against other processes). Left to
// the busy handler alone, which sleeps and retries, a writer among many can
// lose the lock again and again: with 16 goroutines sending, receiving and
// deleting, some calls waited 3 s while others went through in 2 ms.
func WriteTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	gate := writeGate(db)
	select {
	case gate <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("begin: %w", ctx.Err())
	}
	defer func() { <-gate }()

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// gates holds each handle's write gate, a channel of capacity one, keyed by
// a weak pointer so that a handle that is no longer used can be collected.
var gates sync.Map // weak.Pointer[sql.DB] -> chan struct{}

func writeGate(db *sql.DB) chan struct{} {
	key := weak.Make(db)
	if g, ok := gates.Load(key); ok {
		return g.(chan struct{})
	}
	g, loaded := gates.LoadOrStore(key, make(chan struct{}, 1))
	if !loaded {
		runtime.AddCleanup(db, func(k weak.Pointer[sql.DB]) { gates.Delete(k) }, key)
	}
	return g.(chan struct{})
}

// Migrate applies the migration called name, a list of statements run in
// one transaction, unless it was applied before. It records applied
// migrations in the table schema_migrations. It is safe to call from several
// processes at once: the first applies the migration, the others see it
// recorded. Give every adapter's migrations distinct names
// ("localq/1", "localstore/1", ...) and never change one once released: add
// another.
func Migrate(ctx context.Context, db *sql.DB, name string, stmts ...string) error {
	err := WriteTx(ctx, db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			name       TEXT PRIMARY KEY,
			applied_at TEXT NOT NULL
		) STRICT`); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		for i, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("statement %d: %w", i+1, err)
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`,
			name, time.Now().UTC().Format(time.RFC3339Nano))
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate %s: %w", name, err)
	}
	return nil
}
