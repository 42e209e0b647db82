package localstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
)

// Run returns one run with its targets, or an error wrapping
// store.ErrNotFound. A run that only results have created so far has
// Planned 0.
func (s *Store) Run(ctx context.Context, runID string) (store.Run, error) {
	runs, err := s.queryRuns(ctx, true, `WHERE run_id = ?`, runID)
	if err != nil {
		return store.Run{}, fmt.Errorf("localstore: run %q: %w", runID, err)
	}
	if len(runs) == 0 {
		return store.Run{}, fmt.Errorf("localstore: run %q: %w", runID, store.ErrNotFound)
	}
	return runs[0], nil
}

// Runs returns up to limit runs, newest scheduled first (all when limit <=
// 0), without their targets (not read).
func (s *Store) Runs(ctx context.Context, limit int) ([]store.Run, error) {
	runs, err := s.queryRuns(ctx, false, `ORDER BY scheduled_at DESC, run_id DESC LIMIT ?`, sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("localstore: runs: %w", err)
	}
	return runs, nil
}

// Result returns one result, or an error wrapping store.ErrNotFound.
func (s *Store) Result(ctx context.Context, targetID, runID string) (job.Result, error) {
	rs, err := s.queryResults(ctx, `WHERE r.target_id = ? AND r.run_id = ?`, targetID, runID)
	if err != nil {
		return job.Result{}, fmt.Errorf("localstore: result %s/%s: %w", targetID, runID, err)
	}
	if len(rs) == 0 {
		return job.Result{}, fmt.Errorf("localstore: result %s/%s: %w", targetID, runID, store.ErrNotFound)
	}
	return rs[0], nil
}

// Latest returns the latest result of every target, or of targetID when it
// is not empty (none for an unknown target), ordered by target ID.
func (s *Store) Latest(ctx context.Context, targetID string) ([]job.Result, error) {
	const from = `JOIN store_latest l ON l.target_id = r.target_id AND l.run_id = r.run_id `
	var (
		rs  []job.Result
		err error
	)
	if targetID == "" {
		rs, err = s.queryResults(ctx, from+`ORDER BY r.target_id`)
	} else {
		rs, err = s.queryResults(ctx, from+`WHERE l.target_id = ?`, targetID)
	}
	if err != nil {
		return nil, fmt.Errorf("localstore: latest %q: %w", targetID, err)
	}
	return rs, nil
}

// Previous returns the validators of each target's newest result in the
// store.PreviousRuns most recent runs of schedule scheduled before before,
// ordered by target ID.
func (s *Store) Previous(ctx context.Context, schedule string, before time.Time) ([]store.Validators, error) {
	rs, err := s.queryResults(ctx, `
		WHERE r.run_id IN (SELECT run_id FROM store_runs WHERE schedule = ?1 AND scheduled_at < ?2
		                   ORDER BY scheduled_at DESC, run_id DESC LIMIT ?3)
		ORDER BY r.target_id, r.scheduled_at DESC, r.run_id DESC`,
		schedule, timeText(before), store.PreviousRuns)
	if err != nil {
		return nil, fmt.Errorf("localstore: previous results of schedule %q: %w", schedule, err)
	}
	vs := []store.Validators{}
	for _, r := range rs {
		if len(vs) > 0 && vs[len(vs)-1].TargetID == r.TargetID {
			continue // an older result of the same target
		}
		vs = append(vs, store.Validators{
			TargetID: r.TargetID, RunID: r.RunID, ScheduledAt: r.ScheduledAt, URL: r.URL, Status: r.Status,
			ETag: r.ETag, LastModified: r.LastModified, ContentHash: r.ContentHash, RulesHash: r.RulesHash,
		})
	}
	return vs, nil
}

// RunResults returns one run's results ordered by target ID (none for an
// unknown run).
func (s *Store) RunResults(ctx context.Context, runID string) ([]job.Result, error) {
	rs, err := s.queryResults(ctx, `WHERE r.run_id = ? ORDER BY r.target_id`, runID)
	if err != nil {
		return nil, fmt.Errorf("localstore: results of run %q: %w", runID, err)
	}
	return rs, nil
}

// RunEntries calls fn with the entry of every result of run runID, in
// target ID order: one query that the index store_results_by_run covers,
// read row by row while fn runs (fn must not call the store).
func (s *Store) RunEntries(ctx context.Context, runID string, fn func(store.RunEntry) error) error {
	if err := s.runEntries(ctx, runID, fn); err != nil {
		return fmt.Errorf("localstore: entries of run %q: %w", runID, err)
	}
	return nil
}

func (s *Store) runEntries(ctx context.Context, runID string, fn func(store.RunEntry) error) error {
	rows, err := s.db.QueryContext(ctx, `
		SELECT target_id, status, changed, url, stored_at FROM store_results INDEXED BY store_results_by_run
		WHERE run_id = ? ORDER BY target_id`, runID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			e        store.RunEntry
			status   string
			storedAt sql.NullString
		)
		if err := rows.Scan(&e.TargetID, &status, &e.Changed, &e.URL, &storedAt); err != nil {
			return err
		}
		e.Status = job.Status(status)
		if e.StoredAt, err = parseTime(storedAt); err != nil {
			return fmt.Errorf("result %s: %w", e.TargetID, err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// History returns a target's results scheduled in [since, until), newest
// first, at most limit of them. A zero since or until leaves that end open;
// limit <= 0 means no limit.
func (s *Store) History(ctx context.Context, targetID string, since, until time.Time, limit int) ([]job.Result, error) {
	rs, err := s.queryResults(ctx, `
		WHERE r.target_id = ?1
		  AND (?2 IS NULL OR r.scheduled_at >= ?2)
		  AND (?3 IS NULL OR r.scheduled_at < ?3)
		ORDER BY r.scheduled_at DESC, r.run_id DESC LIMIT ?4`,
		targetID, timeText(since), timeText(until), sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("localstore: history of %q: %w", targetID, err)
	}
	return rs, nil
}

// Changed returns the results whose Changed flag is set and that were
// scheduled at or after since (all when since is zero), newest first, then
// by target ID.
func (s *Store) Changed(ctx context.Context, since time.Time) ([]job.Result, error) {
	rs, err := s.queryResults(ctx, `
		WHERE r.changed = 1 AND r.scheduled_at >= ?
		ORDER BY r.scheduled_at DESC, r.target_id, r.run_id DESC`,
		timeString(since))
	if err != nil {
		return nil, fmt.Errorf("localstore: changed since %s: %w", since.Format(time.RFC3339), err)
	}
	return rs, nil
}

// Failed returns the failed results of run runID ordered by target ID or,
// when runID is empty, the most recent failed result of every target that
// has one (whether or not a later run succeeded), ordered by target ID.
func (s *Store) Failed(ctx context.Context, runID string) ([]job.Result, error) {
	var (
		rs  []job.Result
		err error
	)
	if runID != "" {
		rs, err = s.queryResults(ctx, `WHERE r.run_id = ? AND r.status = 'failed' ORDER BY r.target_id`, runID)
	} else {
		rs, err = s.queryResults(ctx, `
			WHERE r.status = 'failed' AND NOT EXISTS (
				SELECT 1 FROM store_results n
				WHERE n.target_id = r.target_id AND n.status = 'failed'
				  AND (n.scheduled_at, n.run_id) > (r.scheduled_at, r.run_id))
			ORDER BY r.target_id`)
	}
	if err != nil {
		return nil, fmt.Errorf("localstore: failed results of run %q: %w", runID, err)
	}
	return rs, nil
}

// Attempts returns the recorded failed attempts of a (run, target) in time
// order (then by attempt number and message ID; one without a time first).
func (s *Store) Attempts(ctx context.Context, runID, targetID string) ([]store.Attempt, error) {
	as, err := s.queryAttempts(ctx, `WHERE run_id = ? AND target_id = ? ORDER BY at, attempt, message_id`, runID, targetID)
	if err != nil {
		return nil, fmt.Errorf("localstore: attempts of %s/%s: %w", targetID, runID, err)
	}
	return as, nil
}

// RunAttempts returns the recorded failed attempts of every target of run
// runID, by target ID and then as Attempts orders them: one query of the
// attempts' primary key, which starts with the run ID (store.RunAttempter).
func (s *Store) RunAttempts(ctx context.Context, runID string) ([]store.Attempt, error) {
	as, err := s.queryAttempts(ctx, `WHERE run_id = ? ORDER BY target_id, at, attempt, message_id`, runID)
	if err != nil {
		return nil, fmt.Errorf("localstore: attempts of run %s: %w", runID, err)
	}
	return as, nil
}

// queryAttempts selects attempts; rest is the query after the FROM clause.
func (s *Store) queryAttempts(ctx context.Context, rest string, args ...any) ([]store.Attempt, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT run_id, target_id, attempt, message_id, at, error_kind, error_message FROM store_attempts `+rest, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	as := []store.Attempt{}
	for rows.Next() {
		a := store.Attempt{V: job.Version}
		var at sql.NullString
		if err := rows.Scan(&a.RunID, &a.TargetID, &a.Attempt, &a.MessageID, &at, &a.Error.Kind, &a.Error.Message); err != nil {
			return nil, err
		}
		if a.At, err = parseTime(at); err != nil {
			return nil, err
		}
		as = append(as, a)
	}
	return as, rows.Err()
}

// queryRuns selects runs; rest is the query after the FROM clause. With
// targets, each run's own targets and its plan parts' are read, and its
// parts counted from the same rows (Run: a few runs); without, the parts
// are counted in SQL and no targets are read (Runs).
func (s *Store) queryRuns(ctx context.Context, withTargets bool, rest string, args ...any) ([]store.Run, error) {
	cols := `targets, 0, 0`
	if !withTargets {
		cols = `NULL,
			(SELECT count(*) FROM store_plan_parts p WHERE p.run_id = store_runs.run_id),
			(SELECT COALESCE(sum(planned), 0) FROM store_plan_parts p WHERE p.run_id = store_runs.run_id)`
	}
	rows, err := s.db.QueryContext(ctx, `
		SELECT run_id, schedule, scheduled_at, planned, succeeded, failed,
			created_at, first_result_at, last_result_at, shards, `+cols+`
		FROM store_runs `+rest, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	runs := []store.Run{}
	for rows.Next() {
		var (
			run                                     store.Run
			planned                                 sql.NullInt64
			partsPlanned                            int
			scheduledAt, createdAt, firstAt, lastAt sql.NullString
			targets                                 sql.NullString
		)
		err := rows.Scan(&run.ID, &run.Schedule, &scheduledAt, &planned, &run.Succeeded, &run.Failed,
			&createdAt, &firstAt, &lastAt, &run.Shards, &targets, &run.PlannedShards, &partsPlanned)
		if err != nil {
			return nil, err
		}
		if targets.Valid {
			if err := json.Unmarshal([]byte(targets.String), &run.Targets); err != nil {
				return nil, fmt.Errorf("run %q: stored targets: %w", run.ID, err)
			}
		}
		run.Planned = int(planned.Int64) + partsPlanned
		for _, f := range []struct {
			dst *time.Time
			src sql.NullString
		}{
			{&run.ScheduledAt, scheduledAt}, {&run.CreatedAt, createdAt},
			{&run.FirstResultAt, firstAt}, {&run.LastResultAt, lastAt},
		} {
			if *f.dst, err = parseTime(f.src); err != nil {
				return nil, fmt.Errorf("run %q: %w", run.ID, err)
			}
		}
		runs = append(runs, run)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if withTargets {
		for i := range runs {
			if err := s.addPlanParts(ctx, &runs[i]); err != nil {
				return nil, fmt.Errorf("run %q: %w", runs[i].ID, err)
			}
		}
	}
	return runs, nil
}

// addPlanParts adds the run's recorded plan parts to it: their jobs to
// Planned, their targets after its own, shard by shard.
func (s *Store) addPlanParts(ctx context.Context, run *store.Run) error {
	rows, err := s.db.QueryContext(ctx,
		`SELECT planned, targets FROM store_plan_parts WHERE run_id = ? ORDER BY shard`, run.ID)
	if err != nil {
		return fmt.Errorf("plan parts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			planned int
			ids     string
		)
		if err := rows.Scan(&planned, &ids); err != nil {
			return fmt.Errorf("plan parts: %w", err)
		}
		run.Planned += planned
		run.PlannedShards++
		if ids != "" {
			run.Targets = append(run.Targets, strings.Split(ids, "\n")...)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("plan parts: %w", err)
	}
	return nil
}

// queryResults selects results from store_results aliased r; rest is the
// query after the FROM clause (joins, WHERE, ORDER BY).
func (s *Store) queryResults(ctx context.Context, rest string, args ...any) ([]job.Result, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT r.target_id, r.run_id, r.schedule, r.url, r.scheduled_at, r.status,
			r.http_status, r.fields, r.content_hash, r.changed, r.fetched_at,
			r.duration_ms, r.attempt, r.error_kind, r.error_message,
			r.etag, r.last_modified, r.not_modified, r.body_hash, r.rules_hash, r.truncated
		FROM store_results r `+rest, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	rs := []job.Result{}
	for rows.Next() {
		r, err := scanResult(rows)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, rows.Err()
}

// scanResult reads one row of queryResults' columns.
func scanResult(rows *sql.Rows) (job.Result, error) {
	var (
		r                      job.Result
		status                 string
		fields, kind, msg, cut sql.NullString
		scheduledAt, fetchedAt sql.NullString
	)
	err := rows.Scan(&r.TargetID, &r.RunID, &r.Schedule, &r.URL, &scheduledAt, &status,
		&r.HTTPStatus, &fields, &r.ContentHash, &r.Changed, &fetchedAt,
		&r.DurationMS, &r.Attempt, &kind, &msg,
		&r.ETag, &r.LastModified, &r.NotModified, &r.BodyHash, &r.RulesHash, &cut)
	if err != nil {
		return job.Result{}, err
	}
	r.V = job.Version
	r.Status = job.Status(status)
	if r.ScheduledAt, err = parseTime(scheduledAt); err != nil {
		return job.Result{}, fmt.Errorf("result %s/%s: %w", r.TargetID, r.RunID, err)
	}
	if r.FetchedAt, err = parseTime(fetchedAt); err != nil {
		return job.Result{}, fmt.Errorf("result %s/%s: %w", r.TargetID, r.RunID, err)
	}
	if fields.Valid {
		if err := json.Unmarshal([]byte(fields.String), &r.Fields); err != nil {
			return job.Result{}, fmt.Errorf("result %s/%s: stored fields: %w", r.TargetID, r.RunID, err)
		}
	}
	if cut.Valid {
		if err := json.Unmarshal([]byte(cut.String), &r.Truncated); err != nil {
			return job.Result{}, fmt.Errorf("result %s/%s: stored truncated: %w", r.TargetID, r.RunID, err)
		}
	}
	if kind.Valid {
		r.Error = &job.Error{Kind: kind.String, Message: msg.String}
	}
	return r, nil
}

// sqlLimit maps "no limit" (limit <= 0) to SQLite's LIMIT -1.
func sqlLimit(limit int) int {
	if limit <= 0 {
		return -1
	}
	return limit
}
