package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

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
