package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"
	"weak"

	sqlitedrv "modernc.org/sqlite"
)

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
