package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// queued reports how many WriteTx calls wait for their group on db.
func queued(db *sql.DB) int {
	c := committerOf(db)
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

// grouped runs first alone, and the others while first runs, so that they
// wait together and share the next transaction; it returns first's error
// and then theirs.
func grouped(t *testing.T, db *sql.DB, first func(*sql.Tx) error, others ...func(*sql.Tx) error) []error {
	t.Helper()
	ctx := context.Background()
	release := make(chan struct{})
	started := make(chan struct{})
	var firstErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		firstErr = WriteTx(ctx, db, func(tx *sql.Tx) error {
			close(started)
			<-release
			return first(tx)
		})
	})
	<-started
	errs := make([]error, len(others))
	for i, fn := range others {
		wg.Go(func() { errs[i] = WriteTx(ctx, db, fn) })
		// Queue them in order: wait until this one waits.
		for queued(db) < i+1 {
			time.Sleep(time.Millisecond)
		}
	}
	close(release)
	wg.Wait()
	return append([]error{firstErr}, errs...)
}

func openTable(t *testing.T) *sql.DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "local.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Exec(`CREATE TABLE t (k TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return db
}

func insert(k string) func(*sql.Tx) error {
	return func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO t (k) VALUES (?)`, k)
		return err
	}
}

func keys(t *testing.T, db *sql.DB) map[string]bool {
	t.Helper()
	rows, err := db.Query(`SELECT k FROM t`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		got[k] = true
	}
	return got
}

func TestWriteTxGroupsWaitingWriters(t *testing.T) {
	db := openTable(t)
	var runs sync.Map // fn name -> runs
	count := func(name string, fn func(*sql.Tx) error) func(*sql.Tx) error {
		return func(tx *sql.Tx) error {
			n, _ := runs.LoadOrStore(name, new(int))
			*n.(*int)++
			return fn(tx)
		}
	}
	boom := errors.New("boom")
	errs := grouped(t, db, insert("first"),
		count("a", insert("a")),
		// Fails after writing: its write is rolled back, alone.
		count("b", func(tx *sql.Tx) error {
			if err := insert("b")(tx); err != nil {
				return err
			}
			return boom
		}),
		count("c", insert("c")),
		// A constraint error: the statement fails, not the transaction.
		count("dup", insert("a")),
		count("d", insert("d")),
	)
	firstErr, errs := errs[0], errs[1:]
	if firstErr != nil {
		t.Fatalf("first: %v", firstErr)
	}
	want := []bool{true, false, true, false, true}
	for i, ok := range want {
		if (errs[i] == nil) != ok {
			t.Errorf("writer %d: err = %v, want success %v", i, errs[i], ok)
		}
	}
	if !errors.Is(errs[1], boom) {
		t.Errorf("writer b: err = %v, want boom", errs[1])
	}
	if got, want := fmt.Sprint(keys(t, db)), fmt.Sprint(map[string]bool{"first": true, "a": true, "c": true, "d": true}); got != want {
		t.Errorf("stored %s, want %s", got, want)
	}
	runs.Range(func(k, v any) bool {
		if *v.(*int) != 1 {
			t.Errorf("%s ran %d times, want once", k, *v.(*int))
		}
		return true
	})
}

// When SQLite rolls the whole transaction back under one writer, the
// writes of the others in its group are gone with it: they run again in a
// new transaction, and none reports success for writes that were lost.
func TestWriteTxRerunsAGroupRolledBackUnderOneWriter(t *testing.T) {
	db := openTable(t)
	runs := map[string]int{}
	var mu sync.Mutex
	count := func(name string, fn func(*sql.Tx) error) func(*sql.Tx) error {
		return func(tx *sql.Tx) error {
			mu.Lock()
			runs[name]++
			mu.Unlock()
			return fn(tx)
		}
	}
	killed := errors.New("transaction rolled back")
	errs := grouped(t, db, insert("first"),
		count("a", insert("a")),
		count("kill", func(tx *sql.Tx) error {
			// What SQLite does on an I/O error or an interrupt.
			if _, err := tx.Exec(`ROLLBACK`); err != nil {
				return err
			}
			return killed
		}),
		count("b", insert("b")),
	)
	firstErr, errs := errs[0], errs[1:]
	if firstErr != nil {
		t.Fatalf("first: %v", firstErr)
	}
	if errs[0] != nil || errs[2] != nil {
		t.Errorf("a, b: %v, %v; want both stored", errs[0], errs[2])
	}
	if !errors.Is(errs[1], killed) {
		t.Errorf("kill: %v, want its own error", errs[1])
	}
	if got, want := fmt.Sprint(keys(t, db)), fmt.Sprint(map[string]bool{"first": true, "a": true, "b": true}); got != want {
		t.Errorf("stored %s, want %s", got, want)
	}
	if runs["a"] != 2 || runs["kill"] != 1 || runs["b"] != 1 {
		t.Errorf("runs %v, want a twice (again after the rollback), kill and b once", runs)
	}
}

// A fn that succeeds but leaves no transaction (it ended it itself) does
// not report success: its writes did not commit.
func TestWriteTxFailsAWriterThatEndedTheTransaction(t *testing.T) {
	db := openTable(t)
	errs := grouped(t, db, insert("first"),
		insert("a"),
		func(tx *sql.Tx) error {
			_, err := tx.Exec(`ROLLBACK`)
			return err
		},
		insert("b"),
	)
	firstErr, errs := errs[0], errs[1:]
	if firstErr != nil || errs[0] != nil || errs[2] != nil {
		t.Fatalf("first, a, b: %v, %v, %v; want stored", firstErr, errs[0], errs[2])
	}
	if errs[1] == nil {
		t.Error("the writer that ended the transaction succeeded")
	}
	if got, want := fmt.Sprint(keys(t, db)), fmt.Sprint(map[string]bool{"first": true, "a": true, "b": true}); got != want {
		t.Errorf("stored %s, want %s", got, want)
	}
}

// A writer whose context ends while it waits returns without running.
func TestWriteTxLeavesTheQueueWhenItsContextEnds(t *testing.T) {
	db := openTable(t)
	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	started := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = WriteTx(context.Background(), db, func(tx *sql.Tx) error {
			close(started)
			<-release
			return insert("first")(tx)
		})
	})
	<-started
	ran := false
	errc := make(chan error, 1)
	go func() {
		errc <- WriteTx(ctx, db, func(tx *sql.Tx) error { ran = true; return insert("late")(tx) })
	}()
	for queued(db) < 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	close(release)
	wg.Wait()
	if ran || queued(db) != 0 {
		t.Errorf("ran %v, queued %d: want not run and gone from the queue", ran, queued(db))
	}
	if got := keys(t, db); !got["first"] || got["late"] {
		t.Errorf("stored %v", got)
	}
}

// A deferred transaction that read, then finds that another connection
// wrote before its own first write fails with SQLITE_BUSY at once (SQLite
// does not wait: waiting could deadlock). WriteTx runs it again, and its
// write commits. (Two processes opening one new file at once met this in
// their migrations.)
func TestWriteTxRunsAgainATransactionLostToBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	other, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	if _, err := other.Exec(`CREATE TABLE t (k TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	// A handle with SQLite's default, deferred, transactions.
	deferred, err := sql.Open(DriverName, "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deferred.Close() })

	runs := 0
	err = WriteTx(context.Background(), deferred, func(tx *sql.Tx) error {
		runs++
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil {
			return err
		}
		if runs == 1 {
			// Another connection writes after this transaction's read.
			if _, err := other.Exec(`INSERT INTO t (k) VALUES ('other')`); err != nil {
				return err
			}
		}
		_, err := tx.Exec(`INSERT INTO t (k) VALUES (?)`, fmt.Sprint("mine-", n))
		return err
	})
	if err != nil {
		t.Fatalf("WriteTx: %v", err)
	}
	if runs != 2 {
		t.Errorf("fn ran %d times, want 2 (lost to SQLITE_BUSY once, then committed)", runs)
	}
	if got := keys(t, other); !got["other"] || !got["mine-1"] || len(got) != 2 {
		t.Errorf("rows %v, want other and mine-1", got)
	}
}
