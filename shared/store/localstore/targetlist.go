package localstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/targets"
)

var _ store.TargetList = (*Store)(nil)

// applyBatch is how many targets ApplyTargets writes in one transaction:
// large enough that a million targets take a hundred commits, small enough
// that the results and queues of a running local mode wait for the file's
// write lock some tens of milliseconds at most.
const applyBatch = 10_000

// eachPage is how many targets EachTarget reads at a time: it holds no
// statement open while its callback runs.
const eachPage = 10_000

// targetCols are the columns of a stored target, in scanTarget's order.
const targetCols = `id, schedule, shard, rank, url, timeout_ns, user_agent, robots, extract, rules`

// TargetLayouts returns the layout of every schedule with stored targets.
func (s *Store) TargetLayouts(ctx context.Context) (map[string]targets.Layout, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT schedule, layout FROM store_target_layouts`)
	if err != nil {
		return nil, fmt.Errorf("localstore: target layouts: %w", err)
	}
	defer rows.Close()
	ls := map[string]targets.Layout{}
	for rows.Next() {
		var (
			schedule, text string
			l              targets.Layout
		)
		if err := rows.Scan(&schedule, &text); err != nil {
			return nil, fmt.Errorf("localstore: target layouts: %w", err)
		}
		if err := json.Unmarshal([]byte(text), &l); err != nil {
			return nil, fmt.Errorf("localstore: target layout of schedule %q: %w", schedule, err)
		}
		ls[schedule] = l
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("localstore: target layouts: %w", err)
	}
	return ls, nil
}

// ShardTargets returns the stored targets of one shard in ID order, read
// by the index on (schedule, shard, id).
func (s *Store) ShardTargets(ctx context.Context, sh targets.Shard) ([]targets.Stored, error) {
	ts, err := s.queryTargets(ctx, sh.Count, `WHERE schedule = ? AND shard = ? ORDER BY id`, sh.Schedule, sh.Index)
	if err != nil {
		return nil, fmt.Errorf("localstore: targets of shard %d of schedule %q: %w", sh.Index, sh.Schedule, err)
	}
	return ts, nil
}

// ShardTail returns the last n stored targets of one shard in ID order,
// read backwards by the index on (schedule, shard, id).
func (s *Store) ShardTail(ctx context.Context, sh targets.Shard, n int) ([]targets.Stored, error) {
	if n <= 0 {
		return []targets.Stored{}, nil
	}
	ts, err := s.queryTargets(ctx, n, `WHERE schedule = ? AND shard = ? ORDER BY id DESC LIMIT ?`, sh.Schedule, sh.Index, n)
	if err != nil {
		return nil, fmt.Errorf("localstore: last %d targets of shard %d of schedule %q: %w", n, sh.Index, sh.Schedule, err)
	}
	slices.Reverse(ts)
	return ts, nil
}

// StoredTarget returns one stored target, or an error wrapping
// store.ErrNotFound.
func (s *Store) StoredTarget(ctx context.Context, id string) (targets.Stored, error) {
	ts, err := s.queryTargets(ctx, 1, `WHERE id = ?`, id)
	if err != nil {
		return targets.Stored{}, fmt.Errorf("localstore: target %q: %w", id, err)
	}
	if len(ts) == 0 {
		return targets.Stored{}, fmt.Errorf("localstore: target %q: %w", id, store.ErrNotFound)
	}
	return ts[0], nil
}

// EachTarget calls fn with every stored target by schedule, shard and ID,
// reading them a page at a time (each page after the last one's key), so
// that no read stays open while fn runs.
func (s *Store) EachTarget(ctx context.Context, fn func(targets.Stored) error) error {
	var last *targets.Stored
	for {
		var (
			page []targets.Stored
			err  error
		)
		if last == nil {
			page, err = s.queryTargets(ctx, eachPage, `ORDER BY schedule, shard, id LIMIT ?`, eachPage)
		} else {
			page, err = s.queryTargets(ctx, eachPage, `WHERE (schedule, shard, id) > (?, ?, ?) ORDER BY schedule, shard, id LIMIT ?`,
				last.Schedule, last.Shard, last.ID, eachPage)
		}
		if err != nil {
			return fmt.Errorf("localstore: stored targets: %w", err)
		}
		for _, t := range page {
			if err := fn(t); err != nil {
				return err
			}
		}
		if len(page) < eachPage {
			return nil
		}
		last = &page[len(page)-1]
	}
}

// ApplyTargets writes ch in transactions of applyBatch targets: its puts
// (an upsert by ID, so that a target moved to another shard or schedule
// leaves no copy behind), then its layouts, then its deletes (only of a
// target still where the change found it: a moved target was put under its
// new place already) and its dropped schedules. Each step can be written
// again: an interrupted import run again ends in the same list. No row is
// hidden by a layout (EachTarget reads every one, and a target's ID is
// unique), so what an interrupted apply left is in the next import's diff,
// and an empty change has nothing to finish.
func (s *Store) ApplyTargets(ctx context.Context, ch targets.Change, progress func(written int)) error {
	if err := checkChange(ch); err != nil {
		return fmt.Errorf("localstore: apply targets: %w", err)
	}
	written := 0
	wrote := func(n int) {
		written += n
		if progress != nil {
			progress(written)
		}
	}
	rows, err := encodeTargets(ch.Put)
	if err != nil {
		return fmt.Errorf("localstore: apply targets: %w", err)
	}
	for batch := range slices.Chunk(rows, applyBatch) {
		if err := s.write(ctx, func(tx *sql.Tx) error { return putTargets(ctx, tx, batch) }); err != nil {
			return fmt.Errorf("localstore: apply targets: put %d targets: %w", len(batch), err)
		}
		wrote(len(batch))
	}
	if len(ch.Layouts) > 0 {
		texts := make(map[string]string, len(ch.Layouts))
		for sched, l := range ch.Layouts {
			b, err := json.Marshal(l)
			if err != nil {
				return fmt.Errorf("localstore: apply targets: encode the layout of schedule %q: %w", sched, err)
			}
			texts[sched] = string(b)
		}
		err := s.write(ctx, func(tx *sql.Tx) error {
			for _, sched := range slices.Sorted(maps.Keys(texts)) {
				_, err := s.stmts.Exec(ctx, tx,
					`INSERT INTO store_target_layouts (schedule, layout) VALUES (?, ?)
					ON CONFLICT (schedule) DO UPDATE SET layout = excluded.layout`, sched, texts[sched])
				if err != nil {
					return fmt.Errorf("schedule %q: %w", sched, err)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("localstore: apply targets: write layouts: %w", err)
		}
		wrote(len(ch.Layouts))
	}
	for batch := range slices.Chunk(ch.Delete, applyBatch) {
		err := s.write(ctx, func(tx *sql.Tx) error {
			st, err := tx.PrepareContext(ctx, `DELETE FROM store_targets WHERE id = ? AND schedule = ? AND shard = ?`)
			if err != nil {
				return err
			}
			defer st.Close()
			for _, t := range batch {
				if _, err := st.ExecContext(ctx, t.ID, t.Schedule, t.Shard); err != nil {
					return fmt.Errorf("target %q: %w", t.ID, err)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("localstore: apply targets: delete %d targets: %w", len(batch), err)
		}
		wrote(len(batch))
	}
	if len(ch.Dropped) > 0 {
		// Their targets are in Delete.
		err := s.write(ctx, func(tx *sql.Tx) error {
			for _, sched := range ch.Dropped {
				if _, err := tx.ExecContext(ctx, `DELETE FROM store_target_layouts WHERE schedule = ?`, sched); err != nil {
					return fmt.Errorf("schedule %q: %w", sched, err)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("localstore: apply targets: drop %d schedules: %w", len(ch.Dropped), err)
		}
		wrote(len(ch.Dropped))
	}
	return nil
}

// checkChange checks what ApplyTargets relies on: targets with an ID and a
// schedule, shards that are not negative, and layouts under their own
// schedule's name.
func checkChange(ch targets.Change) error {
	for i, t := range ch.Put {
		switch {
		case t.ID == "":
			return fmt.Errorf("target %d to put has no ID", i)
		case t.Schedule == "":
			return fmt.Errorf("target %q has no schedule", t.ID)
		case t.Shard < 0:
			return fmt.Errorf("target %q: shard %d is negative (no shard of its schedule's layout holds it)", t.ID, t.Shard)
		}
	}
	for sched, l := range ch.Layouts {
		if l.Schedule != sched {
			return fmt.Errorf("the layout of schedule %q names schedule %q", sched, l.Schedule)
		}
	}
	return nil
}

// targetRow is a target as putTargets writes it.
type targetRow struct {
	id, schedule string
	shard, rank  int
	url          string
	timeout      int64
	userAgent    string
	robots       any // NULL, 0 or 1
	extract      string
	rules        any // NULL or JSON
}

// encodeTargets encodes ts, in the table's order (schedule, shard, ID):
// rows written in key order are appended to the table rather than spread
// over its pages, which SQLite's small page cache does not hold. (A
// million new targets in a random order took 13 s in ID order, 9 s in
// this one, and 80 s as they came.)
func encodeTargets(ts []targets.Stored) ([]*targetRow, error) {
	rows := make([]*targetRow, len(ts))
	for i, t := range ts {
		r := &targetRow{id: t.ID, schedule: t.Schedule, shard: t.Shard, rank: t.Rank, url: t.URL,
			timeout: int64(t.Timeout), userAgent: t.UserAgent, extract: t.Extract}
		if t.Robots != nil {
			r.robots = *t.Robots
		}
		if len(t.Rules) > 0 {
			b, err := json.Marshal(t.Rules)
			if err != nil {
				return nil, fmt.Errorf("target %q: encode rules: %w", t.ID, err)
			}
			r.rules = string(b)
		}
		rows[i] = r
	}
	slices.SortFunc(rows, func(a, b *targetRow) int {
		return cmp.Or(strings.Compare(a.schedule, b.schedule), cmp.Compare(a.shard, b.shard), strings.Compare(a.id, b.id))
	})
	return rows, nil
}

// putRows is how many targets one INSERT statement of putTargets writes:
// a statement per target would cost more than the row (database/sql and
// the driver's work per call, a goroutine per call that watches the
// context), and 100 rows are 1,000 parameters, far below SQLite's limit.
const putRows = 100

// putTargets upserts rows by ID.
func putTargets(ctx context.Context, tx *sql.Tx, rows []*targetRow) error {
	prepared := map[int]*sql.Stmt{} // by rows per statement
	defer func() {
		for _, st := range prepared {
			_ = st.Close()
		}
	}()
	args := make([]any, 0, putRows*10)
	for chunk := range slices.Chunk(rows, putRows) {
		st, ok := prepared[len(chunk)]
		if !ok {
			var err error
			if st, err = tx.PrepareContext(ctx, upsertTargets(len(chunk))); err != nil {
				return err
			}
			prepared[len(chunk)] = st
		}
		args = args[:0]
		for _, r := range chunk {
			args = append(args, r.id, r.schedule, r.shard, r.rank, r.url, r.timeout, r.userAgent, r.robots, r.extract, r.rules)
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("targets %q to %q: %w", chunk[0].id, chunk[len(chunk)-1].id, err)
		}
	}
	return nil
}

// upsertTargets is the statement that upserts n targets by ID.
func upsertTargets(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO store_targets (` + targetCols + `) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
	}
	// A target stored elsewhere (another shard or schedule) conflicts on
	// the ID index, one stored here on the primary key: either is updated
	// in place.
	b.WriteString(` ON CONFLICT DO UPDATE SET
		schedule = excluded.schedule, shard = excluded.shard, rank = excluded.rank, url = excluded.url,
		timeout_ns = excluded.timeout_ns, user_agent = excluded.user_agent, robots = excluded.robots,
		extract = excluded.extract, rules = excluded.rules`)
	return b.String()
}

// queryTargets selects stored targets, about size of them; rest is the
// query after the FROM clause.
func (s *Store) queryTargets(ctx context.Context, size int, rest string, args ...any) ([]targets.Stored, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+targetCols+` FROM store_targets `+rest, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ts := make([]targets.Stored, 0, min(max(size, 0), 2*targets.ShardSize))
	for rows.Next() {
		var (
			t       targets.Stored
			timeout int64
			robots  sql.NullBool
			rules   sql.NullString
		)
		err := rows.Scan(&t.ID, &t.Schedule, &t.Shard, &t.Rank, &t.URL, &timeout, &t.UserAgent, &robots, &t.Extract, &rules)
		if err != nil {
			return nil, err
		}
		t.Timeout = time.Duration(timeout)
		if robots.Valid {
			t.Robots = &robots.Bool
		}
		if rules.Valid {
			if err := json.Unmarshal([]byte(rules.String), &t.Rules); err != nil {
				return nil, fmt.Errorf("target %q: stored rules: %w", t.ID, err)
			}
		}
		ts = append(ts, t)
	}
	return ts, rows.Err()
}

// RecentRuns returns the IDs of schedule's n most recent runs scheduled
// before before, newest first.
func (s *Store) RecentRuns(ctx context.Context, schedule string, before time.Time, n int) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `
		SELECT run_id FROM store_runs WHERE schedule = ? AND scheduled_at < ?
		ORDER BY scheduled_at DESC, run_id DESC LIMIT ?`, schedule, timeString(before), n)
	if err != nil {
		return nil, fmt.Errorf("localstore: recent runs of schedule %q: %w", schedule, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("localstore: recent runs of schedule %q: %w", schedule, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("localstore: recent runs of schedule %q: %w", schedule, err)
	}
	return ids, nil
}

// ShardPrevious returns the validators of each target of ids with a result
// in one of runIDs, its newest there (by scheduled time, then run ID), by
// target ID. It reads each (run, target) by key from the index that
// covers the validators, never a result's row (BenchmarkShardPrevious).
func (s *Store) ShardPrevious(ctx context.Context, sh targets.Shard, runIDs []string, ids []string) ([]store.Validators, error) {
	if len(runIDs) == 0 || len(ids) == 0 {
		return nil, nil
	}
	idsJSON, err := json.Marshal(ids)
	if err != nil {
		return nil, fmt.Errorf("localstore: previous results of shard %d of schedule %q: %w", sh.Index, sh.Schedule, err)
	}
	runsJSON, err := json.Marshal(runIDs)
	if err != nil {
		return nil, fmt.Errorf("localstore: previous results of shard %d of schedule %q: %w", sh.Index, sh.Schedule, err)
	}
	rows, err := s.db.QueryContext(ctx, `
		SELECT r.target_id, r.run_id, r.scheduled_at, r.url, r.status, r.etag, r.last_modified, r.content_hash, r.rules_hash
		FROM json_each(?2) run CROSS JOIN json_each(?1) i CROSS JOIN store_results r INDEXED BY store_results_by_run
		WHERE r.run_id = run.value AND r.target_id = i.value
		ORDER BY r.target_id, r.scheduled_at DESC, r.run_id DESC`, string(idsJSON), string(runsJSON))
	if err != nil {
		return nil, fmt.Errorf("localstore: previous results of shard %d of schedule %q: %w", sh.Index, sh.Schedule, err)
	}
	defer rows.Close()
	var vs []store.Validators
	for rows.Next() {
		var (
			v      store.Validators
			at     sql.NullString
			status string
		)
		if err := rows.Scan(&v.TargetID, &v.RunID, &at, &v.URL, &status, &v.ETag, &v.LastModified, &v.ContentHash, &v.RulesHash); err != nil {
			return nil, fmt.Errorf("localstore: previous results of shard %d of schedule %q: %w", sh.Index, sh.Schedule, err)
		}
		if len(vs) > 0 && vs[len(vs)-1].TargetID == v.TargetID {
			continue // an older result of the same target
		}
		v.Status = job.Status(status)
		if v.ScheduledAt, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("localstore: previous results of shard %d of schedule %q: %w", sh.Index, sh.Schedule, err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("localstore: previous results of shard %d of schedule %q: %w", sh.Index, sh.Schedule, err)
	}
	return vs, nil
}

// PutPlanPart records the part of a run one shard planned; a part of the
// same run and shard that exists is kept, and created is false.
func (s *Store) PutPlanPart(ctx context.Context, part store.PlanPart) (bool, error) {
	if err := store.CheckPlanPart(part); err != nil {
		return false, fmt.Errorf("localstore: put plan part %d of run %q: %w", part.Shard, part.RunID, err)
	}
	ids := strings.Join(part.Targets, "\n")
	var created bool
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := s.stmts.Exec(ctx, tx, `
			INSERT INTO store_plan_parts (run_id, shard, planned, targets) VALUES (?, ?, ?, ?)
			ON CONFLICT (run_id, shard) DO NOTHING`, part.RunID, part.Shard, part.Planned, ids)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		created = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("localstore: put plan part %d of run %q: %w", part.Shard, part.RunID, err)
	}
	return created, nil
}
