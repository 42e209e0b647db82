// Package localstore is the SQLite adapter of the store port, used by the
// local mode of cronless. It keeps every semantic of store.Store and
// store.TargetList (see the store package) and adds the queries the CLI
// needs (History, Changed, Failed).
//
// The Store takes a *sql.DB opened with the modernc.org/sqlite driver. It is
// safe for concurrent use by many goroutines and by several processes on the
// same file, provided the connections wait for locks (a busy_timeout, as
// shared/sqlite.Open sets): every write is one statement or one transaction
// whose first statement writes, so it takes SQLite's write lock before it
// reads anything, whether or not the DSN asks for immediate transactions.
//
// Results of one target are ordered by (scheduled time, run ID): the run ID
// only breaks ties between runs scheduled at the same instant, so that
// "previous", "next" and "latest" do not depend on arrival order.
package localstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/sqlite"
	"github.com/cronless/cronless/shared/store"
)

var _ store.Store = (*Store)(nil)
var _ store.RunAttempter = (*Store)(nil)

// Store is the SQLite store. Create it with New.
type Store struct {
	db    *sql.DB
	stmts *sqlite.Stmts // the write paths' statements, parsed once
	now   func() time.Time
}

// New returns a Store on db, creating its tables and indexes if they are
// missing. The caller keeps ownership of db and closes it.
func New(ctx context.Context, db *sql.DB) (*Store, error) {
	if db == nil {
		return nil, errors.New("localstore: db is nil")
	}
	s := &Store{db: db, stmts: sqlite.NewStmts(db), now: time.Now}
	err := s.write(ctx, func(tx *sql.Tx) error {
		for _, stmt := range schema {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("localstore: create tables: %w", err)
	}
	for _, m := range migrations {
		if err := sqlite.Migrate(ctx, db, m.name, m.stmts...); err != nil {
			return nil, fmt.Errorf("localstore: %w", err)
		}
	}
	return s, nil
}

// PutRun records a run. The first PutRun of a run ID stores its schedule,
// scheduled time, planned count, targets and shards and reports created. A
// run that a result created first (planned count unknown) gets its planned
// count, targets and shards, and its schedule if it had none, and keeps its
// counters; that PutRun reports created too, since it recorded the plan.
// Otherwise the stored run is kept and created is false.
func (s *Store) PutRun(ctx context.Context, run store.Run) (bool, error) {
	if err := store.CheckRun(run); err != nil {
		return false, fmt.Errorf("localstore: put run %q: %w", run.ID, err)
	}
	createdAt := run.CreatedAt
	if createdAt.IsZero() {
		createdAt = s.now()
	}
	var targets any // NULL when the run has none
	if len(run.Targets) > 0 {
		b, err := json.Marshal(run.Targets)
		if err != nil {
			return false, fmt.Errorf("localstore: put run %q: encode targets: %w", run.ID, err)
		}
		targets = string(b)
	}
	var created bool
	// Through write, as every write: it takes its turn at the file's write
	// lock with the other writers of this process.
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := s.stmts.Exec(ctx, tx, `
			INSERT INTO store_runs (run_id, schedule, scheduled_at, planned, created_at, targets, shards)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (run_id) DO UPDATE SET
				planned  = excluded.planned,
				targets  = excluded.targets,
				shards   = excluded.shards,
				schedule = CASE WHEN store_runs.schedule = '' THEN excluded.schedule ELSE store_runs.schedule END
			WHERE store_runs.planned IS NULL`,
			run.ID, run.Schedule, timeText(run.ScheduledAt), run.Planned, timeText(createdAt), targets, run.Shards)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		created = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("localstore: put run %q: %w", run.ID, err)
	}
	return created, nil
}

// PutResult stores r once per (target ID, run ID), in one transaction. The
// first put counts in its run (creating the run if no PutRun came first),
// sets r's Changed flag against the target's previous ok result, recomputes
// the Changed flag of the target's next ok result, and moves the target's
// latest result forward if r is later. A later put of the same key changes
// nothing and reports Duplicate. r.Changed is ignored: the store sets it.
//
// A not-modified result (a 304) is never Changed; when it has no fields it
// gets the previous ok result's fields, with their truncation (and its
// content hash, if it has none), so that it reads like the page it stands
// for.
func (s *Store) PutResult(ctx context.Context, r job.Result) (store.Outcome, error) {
	if err := r.Validate(); err != nil {
		return store.Outcome{}, fmt.Errorf("localstore: put result %s/%s: %w", r.TargetID, r.RunID, err)
	}
	enc, err := encodeResult(r)
	if err != nil {
		return store.Outcome{}, fmt.Errorf("localstore: put result %s/%s: %w", r.TargetID, r.RunID, err)
	}
	var out store.Outcome
	err = s.write(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.putResult(ctx, tx, r, enc, timeString(s.now()))
		return err
	})
	if err != nil {
		return store.Outcome{}, fmt.Errorf("localstore: put result %s/%s: %w", r.TargetID, r.RunID, err)
	}
	return out, nil
}

// PutResults stores rs as PutResult stores each, in order, in one
// transaction (one commit for the batch, where PutResult commits each
// result), and returns each one's outcome. A result that repeats an earlier
// one of rs is a Duplicate, as it would be put after it. It stores all or
// none: on an error nothing of rs is stored (an invalid result fails the
// batch before anything is written).
func (s *Store) PutResults(ctx context.Context, rs []job.Result) ([]store.Outcome, error) {
	encs := make([]encoded, len(rs))
	for i, r := range rs {
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("localstore: put result %s/%s: %w", r.TargetID, r.RunID, err)
		}
		var err error
		if encs[i], err = encodeResult(r); err != nil {
			return nil, fmt.Errorf("localstore: put result %s/%s: %w", r.TargetID, r.RunID, err)
		}
	}
	outs := make([]store.Outcome, len(rs))
	err := s.write(ctx, func(tx *sql.Tx) error {
		now := timeString(s.now())
		for i, r := range rs {
			out, err := s.putResult(ctx, tx, r, encs[i], now)
			if err != nil {
				return fmt.Errorf("put result %s/%s: %w", r.TargetID, r.RunID, err)
			}
			outs[i] = out
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("localstore: put %d results: %w", len(rs), err)
	}
	return outs, nil
}

// encoded are the JSON columns of a result: each a string, or nil (NULL)
// when the result has none.
type encoded struct{ fields, truncated any }

func encodeResult(r job.Result) (encoded, error) {
	var e encoded
	if r.Fields != nil {
		b, err := json.Marshal(r.Fields)
		if err != nil {
			return encoded{}, fmt.Errorf("encode fields: %w", err)
		}
		e.fields = string(b)
	}
	if len(r.Truncated) > 0 {
		b, err := json.Marshal(r.Truncated)
		if err != nil {
			return encoded{}, fmt.Errorf("encode truncated: %w", err)
		}
		e.truncated = string(b)
	}
	return e, nil
}

// putResult is PutResult's transaction. Its first statement writes, so the
// transaction holds the write lock before it reads.
func (s *Store) putResult(ctx context.Context, tx *sql.Tx, r job.Result, enc encoded, now string) (store.Outcome, error) {
	var errKind, errMsg any
	if r.Error != nil {
		e := r.Error.Capped()
		errKind, errMsg = e.Kind, e.Message
	}
	at := timeString(r.ScheduledAt)
	res, err := s.stmts.Exec(ctx, tx, `
		INSERT INTO store_results (target_id, run_id, schedule, url, scheduled_at, status,
			http_status, fields, content_hash, changed, fetched_at, duration_ms, attempt,
			error_kind, error_message, stored_at, etag, last_modified, not_modified, body_hash, rules_hash, truncated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (target_id, run_id) DO NOTHING`,
		r.TargetID, r.RunID, r.Schedule, r.URL, at, string(r.Status),
		r.HTTPStatus, enc.fields, r.ContentHash, timeText(r.FetchedAt), r.DurationMS, r.Attempt,
		errKind, errMsg, now, r.ETag, r.LastModified, r.NotModified, r.BodyHash, r.RulesHash, enc.truncated)
	if err != nil {
		return store.Outcome{}, fmt.Errorf("insert: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return store.Outcome{}, fmt.Errorf("insert: %w", err)
	} else if n == 0 {
		var changed bool
		err := s.stmts.QueryRow(ctx, tx,
			`SELECT changed FROM store_results WHERE target_id = ? AND run_id = ?`,
			r.TargetID, r.RunID).Scan(&changed)
		if err != nil {
			return store.Outcome{}, fmt.Errorf("read stored duplicate: %w", err)
		}
		return store.Outcome{Duplicate: true, Changed: changed}, nil
	}

	succeeded, failed := 0, 0
	if r.Status == job.StatusOK {
		succeeded = 1
	} else {
		failed = 1
	}
	// A result can overtake its run's PutRun: then it creates the run,
	// planned unknown (NULL) until PutRun fills it in.
	_, err = s.stmts.Exec(ctx, tx, `
		INSERT INTO store_runs (run_id, schedule, scheduled_at, planned, succeeded, failed,
			created_at, first_result_at, last_result_at)
		VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?)
		ON CONFLICT (run_id) DO UPDATE SET
			schedule        = CASE WHEN store_runs.schedule = '' THEN excluded.schedule ELSE store_runs.schedule END,
			succeeded       = store_runs.succeeded + excluded.succeeded,
			failed          = store_runs.failed + excluded.failed,
			first_result_at = COALESCE(store_runs.first_result_at, excluded.first_result_at),
			last_result_at  = max(COALESCE(store_runs.last_result_at, ''), excluded.last_result_at)`,
		r.RunID, r.Schedule, at, succeeded, failed, now, now, now)
	if err != nil {
		return store.Outcome{}, fmt.Errorf("count in run: %w", err)
	}

	var out store.Outcome
	if r.Status == job.StatusOK {
		if out.Changed, err = s.relinkChanged(ctx, tx, r, at); err != nil {
			return store.Outcome{}, err
		}
	}

	res, err = s.stmts.Exec(ctx, tx, `
		INSERT INTO store_latest (target_id, run_id, scheduled_at) VALUES (?, ?, ?)
		ON CONFLICT (target_id) DO UPDATE SET
			run_id = excluded.run_id, scheduled_at = excluded.scheduled_at
		WHERE (excluded.scheduled_at, excluded.run_id) > (store_latest.scheduled_at, store_latest.run_id)`,
		r.TargetID, r.RunID, at)
	if err != nil {
		return store.Outcome{}, fmt.Errorf("move latest: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return store.Outcome{}, fmt.Errorf("move latest: %w", err)
	}
	out.Latest = n == 1
	return out, nil
}

// relinkChanged inserts a new ok result r into its target's chain of ok
// results: it sets the result's Changed flag against the previous ok result
// (a not-modified result is never changed, and takes the previous one's
// fields when it has none, both were extracted with the same rules and its
// content hash, if any, is the previous one's) and
// recomputes the next ok result's flag against the new one.
func (s *Store) relinkChanged(ctx context.Context, tx *sql.Tx, r job.Result, at string) (bool, error) {
	targetID, runID, hash := r.TargetID, r.RunID, r.ContentHash
	var (
		prevHash, prevRules string
		prevFields, prevCut sql.NullString
	)
	err := s.stmts.QueryRow(ctx, tx, `
		SELECT content_hash, fields, rules_hash, truncated FROM store_results
		WHERE target_id = ? AND status = 'ok' AND (scheduled_at, run_id) < (?, ?)
		ORDER BY scheduled_at DESC, run_id DESC LIMIT 1`,
		targetID, at, runID).Scan(&prevHash, &prevFields, &prevRules, &prevCut)
	found := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("read previous result: %w", err)
	}
	switch fill := r.NotModified && len(r.Fields) == 0; {
	case fill && found && prevRules == r.RulesHash && (hash == "" || hash == prevHash):
		if hash == "" {
			hash = prevHash
		}
		_, err := s.stmts.Exec(ctx, tx,
			`UPDATE store_results SET fields = ?, truncated = ?, content_hash = ? WHERE target_id = ? AND run_id = ?`,
			prevFields, prevCut, hash, targetID, runID)
		if err != nil {
			return false, fmt.Errorf("carry the previous fields over: %w", err)
		}
	case fill:
		// Nothing to carry over, or fields of other rules or content (the
		// 304 answered validators of another result): the result keeps
		// no fields, and no rules hash, so the next plan fetches the page
		// unconditionally (see package store).
		_, err := s.stmts.Exec(ctx, tx,
			`UPDATE store_results SET rules_hash = '' WHERE target_id = ? AND run_id = ?`, targetID, runID)
		if err != nil {
			return false, fmt.Errorf("drop the rules hash of an incomplete 304: %w", err)
		}
	}
	changed := found && prevHash != hash && !r.NotModified
	if changed {
		_, err := s.stmts.Exec(ctx, tx,
			`UPDATE store_results SET changed = 1 WHERE target_id = ? AND run_id = ?`, targetID, runID)
		if err != nil {
			return false, fmt.Errorf("set changed: %w", err)
		}
	}
	// The next ok result's previous is now this one.
	_, err = s.stmts.Exec(ctx, tx, `
		UPDATE store_results SET changed = (content_hash <> ? AND NOT not_modified)
		WHERE (target_id, run_id) IN (
			SELECT target_id, run_id FROM store_results
			WHERE target_id = ? AND status = 'ok' AND (scheduled_at, run_id) > (?, ?)
			ORDER BY scheduled_at, run_id LIMIT 1)`,
		hash, targetID, at, runID)
	if err != nil {
		return false, fmt.Errorf("recompute next result's changed: %w", err)
	}
	return changed, nil
}

// RecordAttempt records a failed attempt once per (run, target, message ID,
// attempt); recording it again keeps the first. A message replayed from the
// DLQ has a new message ID, so its attempts are kept beside the old ones.
func (s *Store) RecordAttempt(ctx context.Context, a store.Attempt) error {
	if a.RunID == "" || a.TargetID == "" {
		return fmt.Errorf("localstore: record attempt %s/%s #%d: run ID and target ID are required", a.TargetID, a.RunID, a.Attempt)
	}
	// Through write, as every write of the results core: it takes its turn
	// and shares a commit with the writes waiting beside it, rather than
	// sleeping in SQLite's busy handler while they hold the lock.
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := s.stmts.Exec(ctx, tx, `
			INSERT INTO store_attempts (run_id, target_id, attempt, message_id, at, error_kind, error_message)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (run_id, target_id, message_id, attempt) DO NOTHING`,
			a.RunID, a.TargetID, a.Attempt, a.MessageID, timeText(a.At), a.Error.Kind, a.Error.Capped().Message)
		return err
	})
	if err != nil {
		return fmt.Errorf("localstore: record attempt %s/%s #%d: %w", a.TargetID, a.RunID, a.Attempt, err)
	}
	return nil
}

// write runs fn in a transaction and commits it, or rolls it back when fn
// fails. It takes its turn at the file's write lock with the other adapters
// of this process (sqlite.WriteTx), so writers queue fairly instead of
// sleeping in SQLite's busy handler, and the writes that waited together
// share one commit. fn may run more than once (sqlite.WriteTx): it must set
// its results afresh each time.
func (s *Store) write(ctx context.Context, fn func(*sql.Tx) error) error {
	return sqlite.WriteTx(ctx, s.db, fn)
}

// timeLayout is RFC 3339 in UTC with a fixed nine fractional digits, so the
// text sorts in time order and round-trips to the nanosecond.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// timeString is t as stored: UTC text in timeLayout.
func timeString(t time.Time) string { return t.UTC().Format(timeLayout) }

// timeText is t as stored in a nullable column: NULL (nil) when zero.
func timeText(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return timeString(t)
}

// parseTime reads a stored time; NULL is the zero time.
func parseTime(s sql.NullString) (time.Time, error) {
	if !s.Valid {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s.String)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s.String, err)
	}
	return t.UTC(), nil
}
