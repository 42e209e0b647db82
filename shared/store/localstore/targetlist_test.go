package localstore_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/sqlite"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/localstore"
	"github.com/cronless/cronless/shared/store/storetest"
	"github.com/cronless/cronless/shared/targets"
)

func TestTargetListContract(t *testing.T) {
	storetest.RunTargetList(t, func(t *testing.T) storetest.ListStore { return newTestStore(t) })
}

// TestMigrateTargetList opens a file as localstore/7 left it (no target
// list, no plan parts, runs without shards): New adds them, its runs read
// with no shards, and a run planned in shards and a list work on it.
func TestMigrateTargetList(t *testing.T) {
	path := filepath.Join(t.TempDir(), "local.db")
	ctx := t.Context()
	db := openDB(t, path, dsnImmediate)
	if _, err := newStore(t, db).PutRun(ctx, store.Run{ID: runID(0), Schedule: "hourly", ScheduledAt: tick(0), Planned: 1, Targets: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`DROP TABLE store_targets`,
		`DROP TABLE store_target_layouts`,
		`DROP TABLE store_plan_parts`,
		`ALTER TABLE store_runs DROP COLUMN shards`,
		`DELETE FROM schema_migrations WHERE name = 'localstore/8'`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("make a localstore/7 file: %v", err)
		}
	}

	s := newStore(t, db)
	if got, err := s.Run(ctx, runID(0)); err != nil || got.Planned != 1 || got.Shards != 0 || got.PlannedShards != 0 {
		t.Fatalf("old run after the migration: %+v, %v; want planned 1, no shards", got, err)
	}
	if _, err := s.PutRun(ctx, store.Run{ID: runID(1), Schedule: "hourly", ScheduledAt: tick(1), Shards: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutPlanPart(ctx, store.PlanPart{RunID: runID(1), Shard: 0, Planned: 1, Targets: []string{"b"}}); err != nil {
		t.Fatal(err)
	}
	ch := targets.PlanList(nil, nil, []targets.Entry{{ID: "b", URL: "https://example.com/b", Schedule: "hourly"}})
	if err := s.ApplyTargets(ctx, ch, nil); err != nil {
		t.Fatal(err)
	}

	// Opening the file again (another process, a newer run) migrates nothing twice.
	s2 := newStore(t, openDB(t, path, dsnImmediate))
	if got, err := s2.Run(ctx, runID(1)); err != nil || got.Planned != 1 || got.Shards != 1 || got.PlannedShards != 1 {
		t.Errorf("run planned in a shard on the migrated file: %+v, %v; want planned 1, shards 1, planned shards 1", got, err)
	}
	if got, err := s2.StoredTarget(ctx, "b"); err != nil || got.URL != "https://example.com/b" {
		t.Errorf("stored target on the migrated file: %+v, %v", got, err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = 'localstore/8'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("localstore/8 recorded %d times (%v), want once", n, err)
	}
}

// benchStore returns a Store on a new file opened as local mode opens it
// (shared/sqlite: WAL, synchronous FULL).
func benchStore(b *testing.B) *localstore.Store {
	b.Helper()
	db, err := sqlite.Open(filepath.Join(b.TempDir(), "local.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	return newStore(b, db)
}

// benchEntries are n targets of schedule, on 1,000 hosts, IDs and URLs
// about as long as a product catalogue's.
func benchEntries(schedule string, n int) []targets.Entry {
	es := make([]targets.Entry, n)
	for i := range es {
		id := fmt.Sprintf("%s-sku-%08d", schedule, i)
		es[i] = targets.Entry{ID: id, Schedule: schedule,
			URL: fmt.Sprintf("https://shop%03d.example.com/products/%s?ref=cronless", i%1000, id)}
	}
	return es
}

// BenchmarkApplyTargets measures importing 100,000 new targets into an
// empty store (the write only: the layout is computed before).
func BenchmarkApplyTargets(b *testing.B) {
	const n = 100_000
	ch := targets.PlanList(nil, nil, benchEntries("hourly", n))
	for b.Loop() {
		b.StopTimer()
		s := benchStore(b)
		b.StartTimer()
		if err := s.ApplyTargets(b.Context(), ch, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/target")
}

// BenchmarkShardTargets measures reading a shard of 10,000 targets from a
// list of 100,000.
func BenchmarkShardTargets(b *testing.B) {
	s := benchStore(b)
	ch := targets.PlanList(nil, nil, append(benchEntries("daily", 90_000), benchEntries("hourly", targets.ShardSize)...))
	if err := s.ApplyTargets(b.Context(), ch, nil); err != nil {
		b.Fatal(err)
	}
	sh := ch.Layouts["hourly"].Shards[0]
	for b.Loop() {
		ts, err := s.ShardTargets(b.Context(), sh)
		if err != nil || len(ts) != targets.ShardSize {
			b.Fatalf("ShardTargets: %d targets, %v", len(ts), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*targets.ShardSize), "ns/target")
}

// BenchmarkShardPrevious measures reading the validators of a range shard
// of a schedule of 80,000 targets with results in two runs: the shard's
// range holds some eight times its own targets' results, as a shard of a
// million-target schedule does.
func BenchmarkShardPrevious(b *testing.B) {
	const n = 80_000
	s := benchStore(b)
	entries := benchEntries("hourly", n)
	for i := range 2 {
		rs := make([]job.Result, 0, 1000)
		for _, e := range entries {
			r := storetest.ProductPage(e.ID, i, 1)
			r.ETag = `"` + e.ID + `"`
			rs = append(rs, r)
			if len(rs) == cap(rs) {
				if _, err := s.PutResults(b.Context(), rs); err != nil {
					b.Fatal(err)
				}
				rs = rs[:0]
			}
		}
	}
	var sh targets.Shard
	for _, c := range targets.PlanList(nil, nil, entries).Layouts["hourly"].Shards {
		if (c.From != "" || c.To != "") && c.Count > sh.Count {
			sh = c
		}
	}
	var ids []string
	for _, e := range entries {
		if sh.Holds(e.ID) {
			ids = append(ids, e.ID)
		}
	}
	runs := []string{storetest.RunID(1), storetest.RunID(0)}
	b.Logf("shard %d of group %d [%q, %q): %d targets", sh.Index, sh.Group, sh.From, sh.To, len(ids))
	for b.Loop() {
		vs, err := s.ShardPrevious(b.Context(), sh, runs, ids)
		if err != nil || len(vs) != len(ids) {
			b.Fatalf("ShardPrevious: %d validators, %v; want %d", len(vs), err, len(ids))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ids)), "ns/target")
}
