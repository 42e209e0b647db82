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
	"runtime"
	"slices"
	"sync"
	"time"
	"weak"

	sqlitedrv "modernc.org/sqlite" // registers the "sqlite" driver
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

// WriteTx runs fn in a read-write (IMMEDIATE) transaction on db and commits
// it, or rolls fn's writes back when fn fails; it returns nil only once fn's
// writes are committed (durably: synchronous=FULL). fn must use tx only,
// never db, must not call WriteTx, and may be run more than once (see
// below), so it must set its results afresh on every run.
//
// Group commit: the write transactions of one process on one handle take
// turns, in arrival order, and those that arrive while one is committing
// wait and then share the next transaction: each fn runs in a savepoint of
// it, one after the other, and one commit (one fsync of the log) makes them
// all durable. A fn that fails rolls back to its savepoint, so it has
// written nothing, and the others commit as if it had not run. When SQLite
// itself rolled the whole transaction back under a fn (an I/O error, an
// interrupted statement of a cancelled context), that fn fails and the
// others of the group run again in a new transaction: none of them returns
// before its writes are committed, and none returns nil unless they were.
// A fn whose context ends before its turn is not run. A transaction lost to
// SQLITE_BUSY, which the busy handler does not always wait out (see
// isBusy), runs again after a short backoff, for about BusyTimeout at most.
//
// Taking turns in Go rather than in SQLite's busy handler, which sleeps and
// retries, also keeps the waits fair: left to the busy handler, a writer
// among many can lose the lock again and again (with 16 goroutines sending,
// receiving and deleting, some calls waited 3 s while others went through in
// 2 ms). Only writers of different processes meet in the busy handler.
func WriteTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	c := committerOf(db)
	w := &writer{ctx: ctx, fn: fn, done: make(chan error, 1)}
	c.mu.Lock()
	c.queue = append(c.queue, w)
	lead := !c.running
	c.running = true
	c.mu.Unlock()
	if lead {
		// The queue was idle: w is alone in it and commits at once, here.
		// Writers that queued meanwhile are committed by a goroutine, so
		// that this caller does not wait for their groups.
		c.commitGroup(db)
		c.mu.Lock()
		if len(c.queue) > 0 {
			go c.commitAll(db)
		} else {
			c.running = false
		}
		c.mu.Unlock()
		return <-w.done
	}
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		c.mu.Lock()
		if !w.taken {
			c.queue = slices.DeleteFunc(c.queue, func(x *writer) bool { return x == w })
			c.mu.Unlock()
			return fmt.Errorf("begin: %w", ctx.Err())
		}
		c.mu.Unlock()
		// Its group is running: its outcome comes.
		return <-w.done
	}
}

// maxGroup is the most write transactions one commit groups.
const maxGroup = 64

// committer groups the write transactions of one handle. It holds no
// reference to the handle, which would keep it from being collected.
type committer struct {
	mu      sync.Mutex
	queue   []*writer // waiting for their group, in arrival order
	running bool      // a group is being committed, or is about to be
}

// writer is one WriteTx call.
type writer struct {
	ctx   context.Context
	fn    func(*sql.Tx) error
	done  chan error // its outcome, sent once
	taken bool       // guarded by committer.mu: in a group, no longer queued
	busy  int        // how often its transaction was lost to SQLITE_BUSY
}

// busyRetries bounds the retries of a transaction lost to SQLITE_BUSY: with
// the backoff of busyWait, about BusyTimeout in all.
const busyRetries = 60

// isBusy reports whether err is SQLite's SQLITE_BUSY (any extended code).
// The busy handler (busy_timeout) waits for most locks, but not all: a
// transaction that read and then writes after another connection wrote
// (SQLITE_BUSY_SNAPSHOT; SQLite does not wait, as waiting could deadlock),
// or one that begins while another connection first turns a new file to
// WAL, fails at once. Such a transaction has written nothing and is simply
// run again.
func isBusy(err error) bool {
	var se *sqlitedrv.Error
	return errors.As(err, &se) && se.Code()&0xff == 5
}

// retryBusy waits before the group's transaction runs again after
// SQLITE_BUSY, and reports false (do not retry) once a writer has been
// retried busyRetries times.
func retryBusy(group []*writer) bool {
	n := 0
	for _, w := range group {
		w.busy++
		n = max(n, w.busy)
	}
	if n > busyRetries {
		return false
	}
	time.Sleep(min(time.Duration(n)*5*time.Millisecond, 250*time.Millisecond))
	return true
}

// commitAll commits groups until the queue is empty.
func (c *committer) commitAll(db *sql.DB) {
	for {
		c.commitGroup(db)
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.running = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
	}
}

// commitGroup takes the writers at the head of the queue (up to maxGroup)
// and commits them together.
func (c *committer) commitGroup(db *sql.DB) {
	c.mu.Lock()
	n := min(len(c.queue), maxGroup)
	group := slices.Clone(c.queue[:n])
	c.queue = slices.Delete(c.queue, 0, n)
	for _, w := range group {
		w.taken = true
	}
	c.mu.Unlock()
	for len(group) > 0 {
		group = commit(db, group)
	}
}

// commit runs the group's writers in one transaction, sends each its
// outcome, and returns the writers to run again in another transaction
// (those whose writes SQLite rolled back with the transaction under another
// writer's failure).
func commit(db *sql.DB, group []*writer) (again []*writer) {
	live := group[:0:0]
	for _, w := range group {
		if err := w.ctx.Err(); err != nil {
			w.done <- fmt.Errorf("begin: %w", err)
			continue
		}
		live = append(live, w)
	}
	if len(live) == 0 {
		return nil
	}
	// Not a writer's context: the transaction is the group's, and
	// database/sql rolls a transaction back when its context ends.
	bg := context.Background()
	tx, err := db.BeginTx(bg, nil)
	if err != nil {
		if isBusy(err) && retryBusy(live) {
			return live
		}
		for _, w := range live {
			w.done <- fmt.Errorf("begin: %w", err)
		}
		return nil
	}
	if len(live) == 1 {
		w := live[0]
		if err := w.fn(tx); err != nil {
			_ = tx.Rollback()
			if isBusy(err) && retryBusy(live) {
				return live
			}
			w.done <- err
			return nil
		}
		if err := tx.Commit(); err != nil {
			if isBusy(err) && retryBusy(live) {
				return live
			}
			w.done <- fmt.Errorf("commit: %w", err)
			return nil
		}
		w.done <- nil
		return nil
	}
	var wrote []*writer // ran and released their savepoint: commit decides
	for i, w := range live {
		if _, err := tx.ExecContext(bg, `SAVEPOINT writer`); err != nil {
			// The transaction is unusable: nothing of it will commit.
			_ = tx.Rollback()
			for _, x := range live[i:] {
				x.done <- fmt.Errorf("savepoint: %w", err)
			}
			return wrote
		}
		ferr := w.fn(tx)
		if isBusy(ferr) {
			// The transaction never got the write lock (a deferred one):
			// nothing of it is written; all of the group run again.
			_ = tx.Rollback()
			if retryBusy(live) {
				return live
			}
		}
		if ferr != nil {
			if _, err := tx.ExecContext(bg, `ROLLBACK TO writer`); err != nil {
				// SQLite rolled the whole transaction back under w:
				// the writes of those before it are gone too.
				_ = tx.Rollback()
				w.done <- ferr
				return append(wrote, live[i+1:]...)
			}
		}
		if _, err := tx.ExecContext(bg, `RELEASE writer`); err != nil {
			_ = tx.Rollback()
			if ferr == nil {
				ferr = fmt.Errorf("release savepoint: %w", err)
			}
			w.done <- ferr
			return append(wrote, live[i+1:]...)
		}
		if ferr != nil {
			w.done <- ferr
			continue
		}
		wrote = append(wrote, w)
	}
	err = tx.Commit()
	if isBusy(err) && retryBusy(wrote) {
		return wrote
	}
	if err != nil {
		err = fmt.Errorf("commit: %w", err)
	}
	for _, w := range wrote {
		w.done <- err
	}
	return nil
}

// committers holds each handle's committer, keyed by a weak pointer so
// that a handle that is no longer used can be collected.
var committers sync.Map // weak.Pointer[sql.DB] -> *committer

func committerOf(db *sql.DB) *committer {
	key := weak.Make(db)
	if c, ok := committers.Load(key); ok {
		return c.(*committer)
	}
	c, loaded := committers.LoadOrStore(key, &committer{})
	if !loaded {
		runtime.AddCleanup(db, func(k weak.Pointer[sql.DB]) { committers.Delete(k) }, key)
	}
	return c.(*committer)
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

// Stmts prepares each statement once per handle and keeps it: database/sql
// then prepares it once on each connection that runs it and reuses it there,
// where a plain ExecContext parses the SQL text on every call (for the short
// statements of a queue or store write, parsing is a large share of their
// CPU). Create it with NewStmts; it is safe for concurrent use. Closing the
// handle closes the statements.
type Stmts struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// NewStmts returns an empty statement cache on db.
func NewStmts(db *sql.DB) *Stmts { return &Stmts{db: db, m: map[string]*sql.Stmt{}} }

// Get returns the prepared statement of query, preparing it on first use.
func (s *Stmts) Get(ctx context.Context, query string) (*sql.Stmt, error) {
	s.mu.Lock()
	st, ok := s.m[query]
	s.mu.Unlock()
	if ok {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.m[query]; ok {
		_ = st.Close()
		return prev, nil
	}
	s.m[query] = st
	return st, nil
}

// Exec runs query in tx (or on the handle when tx is nil) as a prepared
// statement.
func (s *Stmts) Exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st, err := s.Get(ctx, query)
	if err != nil {
		return nil, err
	}
	if tx != nil {
		st = tx.StmtContext(ctx, st)
	}
	return st.ExecContext(ctx, args...)
}

// Query runs query in tx (or on the handle when tx is nil) as a prepared
// statement.
func (s *Stmts) Query(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	st, err := s.Get(ctx, query)
	if err != nil {
		return nil, err
	}
	if tx != nil {
		st = tx.StmtContext(ctx, st)
	}
	return st.QueryContext(ctx, args...)
}

// QueryRow runs query in tx (or on the handle when tx is nil) as a
// prepared statement; its error, if any, comes from Scan.
func (s *Stmts) QueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *Row {
	rows, err := s.Query(ctx, tx, query, args...)
	return &Row{rows: rows, err: err}
}

// Row is the result of Stmts.QueryRow, as sql.Row is of QueryRowContext.
type Row struct {
	rows *sql.Rows
	err  error
}

// Scan copies the first row's columns into dest and closes the rows; it
// returns sql.ErrNoRows when there is none.
func (r *Row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	return r.rows.Close()
}
