package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cronless/cronless/shared/sqlite"
)

func open(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestOpenConfiguresEveryConnection(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"local.db", "odd name ?#%.db"} {
		path := filepath.Join(t.TempDir(), "nested", "dir", name)
		db := open(t, path)
		// Hold several connections at once so the pool opens new ones.
		conns := make([]*sql.Conn, sqlite.MaxConns)
		for i := range conns {
			c, err := db.Conn(ctx)
			if err != nil {
				t.Fatalf("Conn: %v", err)
			}
			conns[i] = c
		}
		for i, c := range conns {
			pragmas := []struct {
				name string
				want string
			}{
				{"journal_mode", "wal"},
				{"busy_timeout", "10000"},
				{"synchronous", "2"}, // FULL
				{"foreign_keys", "1"},
			}
			for _, p := range pragmas {
				var got string
				if err := c.QueryRowContext(ctx, "PRAGMA "+p.name).Scan(&got); err != nil {
					t.Fatalf("PRAGMA %s: %v", p.name, err)
				}
				if got != p.want {
					t.Errorf("%s: connection %d: %s = %s, want %s", name, i, p.name, got, p.want)
				}
			}
		}
		for _, c := range conns {
			_ = c.Close()
		}
		var file string
		if err := db.QueryRowContext(ctx, "SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&file); err != nil {
			t.Fatalf("database_list: %v", err)
		}
		if file != path {
			t.Errorf("database file %q, want %q", file, path)
		}
	}
}

func TestOpenRejectsEmptyPath(t *testing.T) {
	if _, err := sqlite.Open(""); err == nil {
		t.Fatal("Open(\"\"): no error")
	}
}

func TestWriteTxRollsBack(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "db"))
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := sqlite.WriteTx(ctx, db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("WriteTx: %v, want boom", err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows after rollback: %d, %v", n, err)
	}
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	// Two handles, as two processes, migrate at once: the statements run once.
	dbs := []*sql.DB{open(t, path), open(t, path)}
	stmts := []string{
		"CREATE TABLE things (id INTEGER PRIMARY KEY)",
		"INSERT INTO things (id) VALUES (1)",
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = sqlite.Migrate(ctx, dbs[i%2], "test/1", stmts...) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("Migrate: %v", err)
		}
	}
	var n int
	if err := dbs[0].QueryRowContext(ctx, "SELECT count(*) FROM things").Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows: %d, %v; want 1", n, err)
	}

	// A failing migration leaves nothing behind and is not recorded.
	err := sqlite.Migrate(ctx, dbs[0], "test/2", "CREATE TABLE more (x)", "NOT SQL")
	if err == nil {
		t.Fatal("Migrate with a bad statement: no error")
	}
	if err := dbs[0].QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE name = 'more'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("table of a failed migration: %d, %v", n, err)
	}
	if err := sqlite.Migrate(ctx, dbs[0], "test/2", "CREATE TABLE more (x)"); err != nil {
		t.Fatalf("Migrate again after a failure: %v", err)
	}
}
