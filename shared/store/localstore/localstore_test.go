package localstore_test

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/localstore"
	"github.com/cronless/cronless/shared/store/storetest"
)

// dsnImmediate is how shared/sqlite opens the file: WAL, a busy timeout and
// immediate write transactions.
const dsnImmediate = "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate"

// dsnDeferred leaves transactions deferred (SQLite's default); the store
// must stay correct on such a handle too.
const dsnDeferred = "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"

// openDB opens the SQLite file at path and closes it when the test ends.
func openDB(t testing.TB, path, params string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+params)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close %s: %v", path, err)
		}
	})
	return db
}

// newStore returns a Store on db.
func newStore(t testing.TB, db *sql.DB) *localstore.Store {
	t.Helper()
	s, err := localstore.New(t.Context(), db)
	if err != nil {
		t.Fatalf("localstore.New: %v", err)
	}
	return s
}

// newTestStore returns a Store on a new file in a temporary directory.
func newTestStore(t testing.TB) *localstore.Store {
	t.Helper()
	return newStore(t, openDB(t, filepath.Join(t.TempDir(), "cronless.db"), dsnImmediate))
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newTestStore(t) })
}

func TestRunAttempterContract(t *testing.T) {
	storetest.RunAttempter(t, func(t *testing.T) storetest.AttempterStore { return newTestStore(t) })
}

var base = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

func tick(i int) time.Time { return base.Add(time.Duration(i) * time.Hour) }

func runID(i int) string { return job.RunID("hourly", tick(i)) }

func result(target string, i int, hash string) job.Result {
	r := job.Result{
		V: job.Version, RunID: runID(i), Schedule: "hourly", TargetID: target,
		URL: "https://example.com/" + target, ScheduledAt: tick(i), FetchedAt: tick(i).Add(time.Second),
		Status: job.StatusOK, HTTPStatus: 200, ContentHash: hash, DurationMS: 100, Attempt: 1,
	}
	if hash == "" {
		r.Status, r.HTTPStatus = job.StatusFailed, 503
		r.Error = &job.Error{Kind: "http_5xx", Message: "503 Service Unavailable"}
	}
	return r
}

func put(t testing.TB, s *localstore.Store, rs ...job.Result) {
	t.Helper()
	for _, r := range rs {
		if _, err := s.PutResult(t.Context(), r); err != nil {
			t.Fatalf("PutResult(%s/%s): %v", r.TargetID, r.RunID, err)
		}
	}
}

// keys names results as "target@tick-run-ID" for readable comparisons.
func keys(rs []job.Result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.TargetID + "@" + r.RunID
	}
	return out
}

func key(target string, i int) string { return target + "@" + runID(i) }

func TestHistory(t *testing.T) {
	s := newTestStore(t)
	put(t, s,
		result("a", 0, "A"), result("a", 3, "B"), result("a", 1, ""), result("a", 2, "A"), result("a", 4, "B"),
		result("b", 2, "A"))
	tests := []struct {
		name         string
		since, until time.Time
		limit        int
		want         []string
	}{
		{"all", time.Time{}, time.Time{}, 0, []string{key("a", 4), key("a", 3), key("a", 2), key("a", 1), key("a", 0)}},
		{"limit", time.Time{}, time.Time{}, 2, []string{key("a", 4), key("a", 3)}},
		{"since is inclusive", tick(3), time.Time{}, 0, []string{key("a", 4), key("a", 3)}},
		{"until is exclusive", time.Time{}, tick(2), 0, []string{key("a", 1), key("a", 0)}},
		{"window with limit", tick(1), tick(4), 2, []string{key("a", 3), key("a", 2)}},
		{"empty window", tick(5), time.Time{}, 0, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.History(t.Context(), "a", tt.since, tt.until, tt.limit)
			if err != nil {
				t.Fatalf("History: %v", err)
			}
			if !reflect.DeepEqual(keys(got), tt.want) {
				t.Errorf("History = %v, want %v", keys(got), tt.want)
			}
		})
	}
}

func TestChanged(t *testing.T) {
	s := newTestStore(t)
	put(t, s,
		result("a", 0, "A"), result("a", 1, "B"), result("a", 2, "B"), result("a", 3, "C"),
		result("b", 0, "X"), result("b", 1, ""), result("b", 3, "Y"),
		result("c", 1, "Z"), result("c", 2, "Z"))
	tests := []struct {
		name  string
		since time.Time
		want  []string
	}{
		{"all", time.Time{}, []string{key("a", 3), key("b", 3), key("a", 1)}},
		{"since is inclusive", tick(3), []string{key("a", 3), key("b", 3)}},
		{"nothing after", tick(4), []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Changed(t.Context(), tt.since)
			if err != nil {
				t.Fatalf("Changed: %v", err)
			}
			if !reflect.DeepEqual(keys(got), tt.want) {
				t.Errorf("Changed(%v) = %v, want %v", tt.since, keys(got), tt.want)
			}
			for _, r := range got {
				if !r.Changed {
					t.Errorf("Changed returned %s with Changed = false", r.TargetID)
				}
			}
		})
	}
}

func TestFailed(t *testing.T) {
	s := newTestStore(t)
	put(t, s,
		result("a", 0, ""), result("a", 1, "A"), result("a", 2, ""), result("a", 3, "A"),
		result("b", 1, ""), result("c", 2, ""), result("c", 0, ""), result("d", 2, "D"))
	tests := []struct {
		runID string
		want  []string
	}{
		{runID(2), []string{key("a", 2), key("c", 2)}},
		{runID(1), []string{key("b", 1)}},
		{runID(3), []string{}},
		{"", []string{key("a", 2), key("b", 1), key("c", 2)}}, // most recent failure per target
	}
	for _, tt := range tests {
		got, err := s.Failed(t.Context(), tt.runID)
		if err != nil {
			t.Fatalf("Failed(%q): %v", tt.runID, err)
		}
		if !reflect.DeepEqual(keys(got), tt.want) {
			t.Errorf("Failed(%q) = %v, want %v", tt.runID, keys(got), tt.want)
		}
		for _, r := range got {
			if r.Status != job.StatusFailed || r.Error == nil {
				t.Errorf("Failed(%q) returned %s with status %q, error %v", tt.runID, r.TargetID, r.Status, r.Error)
			}
		}
	}
}

// TestSameScheduledTime checks that runs scheduled at the same instant are
// ordered by run ID, whatever the arrival order.
func TestSameScheduledTime(t *testing.T) {
	first, second := result("a", 0, "A"), result("a", 0, "B")
	first.RunID, second.RunID = "alpha-run", "beta-run"
	for _, order := range [][]job.Result{{first, second}, {second, first}} {
		s := newTestStore(t)
		put(t, s, order...)
		got, err := s.Latest(t.Context(), "a")
		if err != nil {
			t.Fatalf("Latest: %v", err)
		}
		if len(got) != 1 || got[0].RunID != "beta-run" || !got[0].Changed {
			t.Errorf("arrival %v: Latest = %v (changed %v), want beta-run, changed",
				keys(order), keys(got), len(got) == 1 && got[0].Changed)
		}
	}
}

func TestRejectsInvalid(t *testing.T) {
	s := newTestStore(t)
	bad := result("a", 0, "A")
	bad.TargetID = ""
	if _, err := s.PutResult(t.Context(), bad); !errors.Is(err, job.ErrInvalid) {
		t.Errorf("PutResult(no target ID) error = %v, want job.ErrInvalid", err)
	}
	for _, run := range []store.Run{
		{Schedule: "hourly", ScheduledAt: tick(0)},
		{ID: runID(0), Schedule: "hourly"},
		{ID: runID(0), Schedule: "hourly", ScheduledAt: tick(0), Planned: -1},
	} {
		if _, err := s.PutRun(t.Context(), run); err == nil {
			t.Errorf("PutRun(%+v) succeeded, want an error", run)
		}
	}
	if err := s.RecordAttempt(t.Context(), store.Attempt{Attempt: 1}); err == nil {
		t.Errorf("RecordAttempt(no IDs) succeeded, want an error")
	}
	if _, err := localstore.New(t.Context(), nil); err == nil {
		t.Errorf("New(nil) succeeded, want an error")
	}
}

// TestReopen checks that everything survives closing and reopening the file,
// and that New on existing tables keeps them.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cronless.db")
	db := openDB(t, path, dsnImmediate)
	s := newStore(t, db)
	run := store.Run{ID: runID(0), Schedule: "hourly", ScheduledAt: tick(0), Planned: 2, CreatedAt: tick(0)}
	if _, err := s.PutRun(t.Context(), run); err != nil {
		t.Fatalf("PutRun: %v", err)
	}
	put(t, s, result("a", 0, "A"), result("b", 0, ""))
	att := store.Attempt{RunID: runID(0), TargetID: "b", MessageID: "m", Attempt: 1, At: tick(0),
		Error: job.Error{Kind: "timeout", Message: "deadline"}}
	if err := s.RecordAttempt(t.Context(), att); err != nil {
		t.Fatalf("RecordAttempt: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	s = newStore(t, openDB(t, path, dsnImmediate))
	got, err := s.Run(t.Context(), runID(0))
	if err != nil {
		t.Fatalf("Run after reopen: %v", err)
	}
	if got.Planned != 2 || got.Succeeded != 1 || got.Failed != 1 || !got.CreatedAt.Equal(run.CreatedAt) {
		t.Errorf("Run after reopen = %+v, want planned 2, succeeded 1, failed 1", got)
	}
	latest, err := s.Latest(t.Context(), "")
	if err != nil || !reflect.DeepEqual(keys(latest), []string{key("a", 0), key("b", 0)}) {
		t.Errorf("Latest after reopen = %v, %v", keys(latest), err)
	}
	if out, err := s.PutResult(t.Context(), result("a", 0, "A")); err != nil || !out.Duplicate {
		t.Errorf("PutResult of a stored result after reopen = %+v, %v; want duplicate", out, err)
	}
	if as, err := s.Attempts(t.Context(), runID(0), "b"); err != nil || len(as) != 1 || as[0].MessageID != "m" {
		t.Errorf("Attempts after reopen = %+v, %v", as, err)
	}
}

// TestTwoHandles writes through two *sql.DB handles on one file, as two
// processes would, one of them with deferred transactions, and checks that
// nothing is lost or counted twice.
func TestTwoHandles(t *testing.T) {
	const (
		targets   = 20
		runs      = 3
		perHandle = 4
	)
	path := filepath.Join(t.TempDir(), "cronless.db")
	dbs := []*sql.DB{openDB(t, path, dsnImmediate), openDB(t, path, dsnDeferred)}

	// Both create the tables at once.
	stores := make([]*localstore.Store, len(dbs))
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Go(func() {
			s, err := localstore.New(t.Context(), db)
			if err != nil {
				t.Errorf("New on handle %d: %v", i, err)
			}
			stores[i] = s
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	resultOf := func(ti, ri int) job.Result {
		hash := fmt.Sprint("h", (ti+ri)%2)
		if (ti*ri)%5 == 3 {
			hash = ""
		}
		return result(fmt.Sprintf("t%02d", ti), ri, hash)
	}
	// Every goroutine of both handles puts every result, in its own order.
	for h, s := range stores {
		for g := range perHandle {
			wg.Go(func() {
				for k := range targets * runs {
					k = (k*7 + g*13 + h*29) % (targets * runs)
					r := resultOf(k%targets, k/targets)
					if _, err := s.PutResult(t.Context(), r); err != nil {
						t.Errorf("handle %d: PutResult(%s/%s): %v", h, r.TargetID, r.RunID, err)
						return
					}
				}
			})
		}
	}
	wg.Wait()

	s := stores[1]
	for ri := range runs {
		succeeded, failed := 0, 0
		for ti := range targets {
			if resultOf(ti, ri).Status == job.StatusOK {
				succeeded++
			} else {
				failed++
			}
		}
		got, err := s.Run(t.Context(), runID(ri))
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if got.Succeeded != succeeded || got.Failed != failed {
			t.Errorf("Run(%s): succeeded %d, failed %d; want %d, %d", got.ID, got.Succeeded, got.Failed, succeeded, failed)
		}
	}
	latest, err := s.Latest(t.Context(), "")
	if err != nil {
		t.Fatalf("Latest: %v", err)
	}
	if len(latest) != targets {
		t.Fatalf("Latest has %d results, want %d", len(latest), targets)
	}
	for _, r := range latest {
		if r.RunID != runID(runs-1) {
			t.Errorf("Latest(%s) = %s, want %s", r.TargetID, r.RunID, runID(runs-1))
		}
	}
}

// BenchmarkPutResult measures storing new results (each a new key, on a
// file in WAL mode), duplicates, and new results from parallel goroutines.
func BenchmarkPutResult(b *testing.B) {
	b.Run("new", func(b *testing.B) {
		s := newTestStore(b)
		i := 0
		for b.Loop() {
			put(b, s, result(fmt.Sprintf("t%04d", i%1000), i/1000, fmt.Sprint("h", i%3)))
			i++
		}
	})
	b.Run("duplicate", func(b *testing.B) {
		s := newTestStore(b)
		r := result("a", 0, "A")
		put(b, s, r)
		for b.Loop() {
			put(b, s, r)
		}
	})
	b.Run("new-parallel", func(b *testing.B) {
		s := newTestStore(b)
		var (
			mu   sync.Mutex
			next int
		)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if _, err := s.PutResult(b.Context(), result(fmt.Sprintf("t%04d", i%1000), i/1000, "h")); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// TestMigrateExistingFile opens a file written before conditional requests
// (no etag, last_modified or not_modified columns): New adds the columns,
// keeps the rows, and the file works as a new one does, also when opened
// again.
func TestMigrateExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "local.db")
	db := openDB(t, path, dsnImmediate)
	ctx := t.Context()
	for _, stmt := range []string{
		`CREATE TABLE store_results (
			target_id     TEXT    NOT NULL,
			run_id        TEXT    NOT NULL,
			schedule      TEXT    NOT NULL DEFAULT '',
			url           TEXT    NOT NULL DEFAULT '',
			scheduled_at  TEXT    NOT NULL,
			status        TEXT    NOT NULL,
			http_status   INTEGER NOT NULL DEFAULT 0,
			fields        TEXT,
			content_hash  TEXT    NOT NULL DEFAULT '',
			changed       INTEGER NOT NULL DEFAULT 0,
			fetched_at    TEXT    NOT NULL,
			duration_ms   INTEGER NOT NULL DEFAULT 0,
			attempt       INTEGER NOT NULL DEFAULT 0,
			error_kind    TEXT,
			error_message TEXT,
			stored_at     TEXT    NOT NULL,
			PRIMARY KEY (target_id, run_id)
		) WITHOUT ROWID`,
		`CREATE TABLE store_latest (
			target_id    TEXT NOT NULL PRIMARY KEY,
			run_id       TEXT NOT NULL,
			scheduled_at TEXT NOT NULL
		) WITHOUT ROWID`,
		`INSERT INTO store_results (target_id, run_id, schedule, url, scheduled_at, status, http_status,
			fields, content_hash, fetched_at, duration_ms, attempt, stored_at)
		VALUES ('a', '` + runID(0) + `', 'hourly', 'https://example.com/a', '2025-03-01T10:00:00.000000000Z', 'ok', 200,
			'{"title":"old"}', 'A', '2025-03-01T10:00:01.000000000Z', 100, 1, '2025-03-01T10:00:02.000000000Z')`,
		`INSERT INTO store_latest VALUES ('a', '` + runID(0) + `', '2025-03-01T10:00:00.000000000Z')`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("old schema: %v", err)
		}
	}
	s := newStore(t, db)
	old := result("a", 0, "A")
	old.Fields = map[string]any{"title": "old"}
	if got, err := s.Result(ctx, "a", runID(0)); err != nil || !reflect.DeepEqual(got.Fields, old.Fields) || got.ETag != "" || got.NotModified {
		t.Fatalf("old row after the migration: %+v, %v", got, err)
	}
	nm := result("a", 1, "A")
	nm.HTTPStatus, nm.NotModified, nm.ETag, nm.LastModified = 304, true, `"e"`, "Sat, 01 Mar 2025 09:00:00 GMT"
	if out, err := s.PutResult(ctx, nm); err != nil || out.Changed || !out.Latest {
		t.Fatalf("put of a 304 on the migrated file: %+v, %v", out, err)
	}
	// Opening the file again (another process, a newer run) migrates nothing twice.
	s2 := newStore(t, openDB(t, path, dsnImmediate))
	got, err := s2.Latest(ctx, "a")
	if err != nil || len(got) != 1 {
		t.Fatalf("Latest: %v, %v", got, err)
	}
	if r := got[0]; !r.NotModified || r.ETag != `"e"` || r.LastModified != nm.LastModified || !reflect.DeepEqual(r.Fields, old.Fields) {
		t.Errorf("latest on the migrated file = %+v, want the 304 with the old fields carried over", r)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = 'localstore/2'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("localstore/2 recorded %d times (%v), want once", n, err)
	}
}

// TestMigrateAttempts opens a file whose attempts are keyed by (run,
// target, attempt), as before localstore/4: New rekeys them by message ID
// too and keeps the rows, after which a replayed message's attempts (the
// same numbers, a new message ID) are kept beside them, in time order.
func TestMigrateAttempts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "local.db")
	db := openDB(t, path, dsnImmediate)
	ctx := t.Context()
	for _, stmt := range []string{
		`CREATE TABLE store_attempts (
			run_id        TEXT    NOT NULL,
			target_id     TEXT    NOT NULL,
			attempt       INTEGER NOT NULL,
			message_id    TEXT    NOT NULL DEFAULT '',
			at            TEXT,
			error_kind    TEXT    NOT NULL DEFAULT '',
			error_message TEXT    NOT NULL DEFAULT '',
			PRIMARY KEY (run_id, target_id, attempt)
		) WITHOUT ROWID`,
		`INSERT INTO store_attempts VALUES
			('` + runID(0) + `', 'a', 2, 'm-1', '2025-03-01T10:02:00.000000000Z', 'timeout', 'second'),
			('` + runID(0) + `', 'a', 1, 'm-1', '2025-03-01T10:01:00.000000000Z', 'timeout', 'first'),
			('` + runID(0) + `', 'b', 1, 'm-2', NULL, 'http_5xx', '')`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("old schema: %v", err)
		}
	}
	s := newStore(t, db)
	attempt := func(target, msg string, n int, at time.Time, kind, message string) store.Attempt {
		return store.Attempt{V: job.Version, RunID: runID(0), TargetID: target, MessageID: msg, Attempt: n, At: at,
			Error: job.Error{Kind: kind, Message: message}}
	}
	replayed := attempt("a", "m-3", 1, tick(0).Add(time.Hour), "timeout", "replayed")
	for _, a := range []store.Attempt{replayed, attempt("a", "m-1", 1, tick(0), "timeout", "a redelivery")} {
		if err := s.RecordAttempt(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	// Opening the file again migrates nothing twice.
	s2 := newStore(t, openDB(t, path, dsnImmediate))
	tests := []struct {
		target string
		want   []store.Attempt
	}{
		{"a", []store.Attempt{
			attempt("a", "m-1", 1, tick(0).Add(time.Minute), "timeout", "first"),
			attempt("a", "m-1", 2, tick(0).Add(2*time.Minute), "timeout", "second"),
			replayed,
		}},
		{"b", []store.Attempt{attempt("b", "m-2", 1, time.Time{}, "http_5xx", "")}},
	}
	for _, tt := range tests {
		got, err := s2.Attempts(ctx, runID(0), tt.target)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Attempts(%s) on the migrated file =\n%+v\nwant\n%+v", tt.target, got, tt.want)
		}
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = 'localstore/4'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("localstore/4 recorded %d times (%v), want once", n, err)
	}
}

// TestMigrateRunTargets opens a file whose store_runs has no targets
// column, as before localstore/5: its runs read without targets, and new
// runs store theirs.
func TestMigrateRunTargets(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "local.db"), dsnImmediate)
	ctx := t.Context()
	for _, stmt := range []string{
		`CREATE TABLE store_runs (
			run_id          TEXT    NOT NULL PRIMARY KEY,
			schedule        TEXT    NOT NULL DEFAULT '',
			scheduled_at    TEXT    NOT NULL,
			planned         INTEGER,
			succeeded       INTEGER NOT NULL DEFAULT 0,
			failed          INTEGER NOT NULL DEFAULT 0,
			created_at      TEXT    NOT NULL,
			first_result_at TEXT,
			last_result_at  TEXT
		) WITHOUT ROWID`,
		`INSERT INTO store_runs (run_id, schedule, scheduled_at, planned, created_at)
		VALUES ('` + runID(0) + `', 'hourly', '2025-03-01T10:00:00.000000000Z', 2, '2025-03-01T10:00:00.000000000Z')`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("old schema: %v", err)
		}
	}
	s := newStore(t, db)
	for _, run := range []store.Run{
		{ID: runID(0), Schedule: "hourly", ScheduledAt: tick(0), Planned: 2, Targets: []string{"a", "b"}}, // planned already: kept
		{ID: runID(1), Schedule: "hourly", ScheduledAt: tick(1), Planned: 2, Targets: []string{"b", "a"}},
	} {
		if _, err := s.PutRun(ctx, run); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		run  int
		want []string
	}{
		{0, nil},
		{1, []string{"b", "a"}},
	}
	for _, tt := range tests {
		got, err := s.Run(ctx, runID(tt.run))
		if err != nil || got.Planned != 2 || !reflect.DeepEqual(got.Targets, tt.want) {
			t.Errorf("Run(tick %d) on the migrated file = %+v, %v; want planned 2, targets %q", tt.run, got, err, tt.want)
		}
	}
}

// TestMigrateRulesHash opens a file as localstore/5 left it (no rules_hash
// column): New adds the column, the old rows read with no rules hash (not
// known: the planner sends no validators for them), a 304 on top of an old
// row is not completed with its fields, and new rows keep theirs.
func TestMigrateRulesHash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "local.db")
	ctx := t.Context()
	// A file of the previous version: today's schema without localstore/6
	// (and with the index of one run's results as it was then, which
	// could not cover rules_hash).
	db := openDB(t, path, dsnImmediate)
	old := result("a", 0, "A")
	old.Fields = map[string]any{"title": "old"}
	put(t, newStore(t, db), old, result("b", 0, "B"))
	for _, stmt := range []string{
		`DROP INDEX store_results_by_run`,
		`CREATE INDEX store_results_by_run ON store_results (run_id, target_id)`,
		`ALTER TABLE store_results DROP COLUMN rules_hash`,
		`DELETE FROM schema_migrations WHERE name = 'localstore/6'`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("make a localstore/5 file: %v", err)
		}
	}

	s := newStore(t, db)
	if got, err := s.Result(ctx, "a", runID(0)); err != nil || got.RulesHash != "" || !reflect.DeepEqual(got.Fields, old.Fields) {
		t.Fatalf("old row after the migration: %+v, %v; want its fields and no rules hash", got, err)
	}
	rules := job.RulesHash(map[string]job.Rule{"title": {CSS: "h1"}})
	nm := result("a", 1, "A")
	nm.HTTPStatus, nm.NotModified, nm.ETag, nm.RulesHash = 304, true, `"e"`, rules
	full := result("b", 1, "B")
	full.RulesHash, full.Fields = rules, map[string]any{"title": "new"}
	put(t, s, nm, full)

	// Opening the file again (another process, a newer run) migrates nothing twice.
	s2 := newStore(t, openDB(t, path, dsnImmediate))
	tests := []struct {
		target     string
		wantRules  string
		wantFields bool
	}{
		{"a", "", false},   // a 304 of known rules on an old row: nothing carried over
		{"b", rules, true}, // a full fetch: stored as sent
	}
	for _, tt := range tests {
		got, err := s2.Result(ctx, tt.target, runID(1))
		if err != nil || got.RulesHash != tt.wantRules || (len(got.Fields) > 0) != tt.wantFields {
			t.Errorf("Result(%s) on the migrated file = %+v, %v; want rules hash %q, fields: %v", tt.target, got, err, tt.wantRules, tt.wantFields)
		}
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = 'localstore/6'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("localstore/6 recorded %d times (%v), want once", n, err)
	}
}

// PutResults stores a batch as PutResult stores its results one after the
// other: the same outcomes (a repeat within the batch is a duplicate) and
// the same stored state.
func TestPutResultsIsPutResultInOrder(t *testing.T) {
	ctx := t.Context()
	notModified := func(target string, i int) job.Result {
		r := result(target, i, "")
		r.Status, r.HTTPStatus, r.Error, r.NotModified = job.StatusOK, 304, nil, true
		return r
	}
	withFields := func(r job.Result, title string) job.Result {
		r.Fields = map[string]any{"title": title}
		return r
	}
	batches := [][]job.Result{
		{withFields(result("a", 1, "A"), "one"), result("b", 1, ""), withFields(result("c", 1, "C"), "c")},
		// Out of order (tick 0 after tick 1), a change, a repeat within the batch.
		{withFields(result("a", 0, "A0"), "zero"), withFields(result("a", 2, "A2"), "two"), result("b", 2, "B"), result("b", 2, "B")},
		// A repeat of a stored result, a 304 without fields, a failure.
		{result("a", 1, "A"), notModified("a", 3), result("c", 2, ""), withFields(result("c", 3, "C3"), "c3")},
	}
	batched, single := newTestStore(t), newTestStore(t)
	for i, batch := range batches {
		outs, err := batched.PutResults(ctx, batch)
		if err != nil {
			t.Fatalf("batch %d: PutResults: %v", i, err)
		}
		for j, r := range batch {
			want, err := single.PutResult(ctx, r)
			if err != nil {
				t.Fatalf("PutResult(%s/%s): %v", r.TargetID, r.RunID, err)
			}
			if outs[j] != want {
				t.Errorf("batch %d, %s/%s: outcome %+v, want %+v (PutResult's)", i, r.TargetID, r.RunID, outs[j], want)
			}
		}
	}
	if outs, _ := batched.PutResults(ctx, batches[1][3:]); len(outs) != 1 || !outs[0].Duplicate {
		t.Errorf("a stored result again: %+v, want a duplicate", outs)
	}
	type view struct {
		Key     string
		Status  job.Status
		Changed bool
		Hash    string
		Fields  map[string]any
	}
	state := func(s *localstore.Store) (views []view, runs []string) {
		for _, target := range []string{"a", "b", "c"} {
			hist, err := s.History(ctx, target, time.Time{}, time.Time{}, 0)
			if err != nil {
				t.Fatalf("History(%s): %v", target, err)
			}
			latest, err := s.Latest(ctx, target)
			if err != nil {
				t.Fatalf("Latest(%s): %v", target, err)
			}
			for _, r := range append(hist, latest...) {
				views = append(views, view{r.TargetID + "@" + r.RunID, r.Status, r.Changed, r.ContentHash, r.Fields})
			}
		}
		for i := range 4 {
			run, err := s.Run(ctx, runID(i))
			if err != nil {
				t.Fatalf("Run(%d): %v", i, err)
			}
			runs = append(runs, fmt.Sprintf("%s: %d ok, %d failed", run.ID, run.Succeeded, run.Failed))
		}
		return views, runs
	}
	gotViews, gotRuns := state(batched)
	wantViews, wantRuns := state(single)
	if !reflect.DeepEqual(gotViews, wantViews) {
		t.Errorf("stored by PutResults:\n%+v\nby PutResult:\n%+v", gotViews, wantViews)
	}
	if !reflect.DeepEqual(gotRuns, wantRuns) {
		t.Errorf("runs by PutResults %v, by PutResult %v", gotRuns, wantRuns)
	}
}

// An invalid result fails its whole batch, and nothing of it is stored.
func TestPutResultsStoresAllOrNone(t *testing.T) {
	s := newTestStore(t)
	bad := result("b", 0, "B")
	bad.TargetID = ""
	if _, err := s.PutResults(t.Context(), []job.Result{result("a", 0, "A"), bad}); !errors.Is(err, job.ErrInvalid) {
		t.Fatalf("PutResults with an invalid result: %v, want job.ErrInvalid", err)
	}
	if _, err := s.Result(t.Context(), "a", runID(0)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the valid result of the failed batch: %v, want not stored", err)
	}
}
