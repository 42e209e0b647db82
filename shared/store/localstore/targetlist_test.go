package localstore_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
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
// list, no plan parts, runs without shards, an index of a run's results
// without the validators): New adds them, its runs read with no shards,
// its results are read as a shard's previous ones, and a run planned in
// shards and a list work on it.
func TestMigrateTargetList(t *testing.T) {
	path := filepath.Join(t.TempDir(), "local.db")
	ctx := t.Context()
	db := openDB(t, path, dsnImmediate)
	old := newStore(t, db)
	if _, err := old.PutRun(ctx, store.Run{ID: runID(0), Schedule: "hourly", ScheduledAt: tick(0), Planned: 1, Targets: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	a := result("a", 0, "A")
	a.ETag, a.RulesHash = `"a"`, job.RulesHash(nil)
	put(t, old, a)
	for _, stmt := range []string{
		`DROP INDEX store_results_by_run`,
		`CREATE INDEX store_results_by_run ON store_results (run_id, target_id)`,
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
	sh := targets.Shard{Schedule: "hourly", Group: targets.AllGroups}
	if got, err := s.ShardPrevious(ctx, sh, []string{runID(0)}, []string{"a"}); err != nil || len(got) != 1 || got[0].ETag != a.ETag || got[0].RulesHash != a.RulesHash {
		t.Errorf("ShardPrevious of an old result on the migrated file: %+v, %v; want its validators", got, err)
	}
	var index string
	if err := db.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE name = 'store_results_by_run'`).Scan(&index); err != nil || !strings.Contains(index, "rules_hash") {
		t.Errorf("store_results_by_run on the migrated file: %q, %v; want it to cover the validators", index, err)
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
// about as long as a product catalogue's, in no order of their IDs (as a
// file lists them).
func benchEntries(schedule string, n int) []targets.Entry {
	es := make([]targets.Entry, n)
	for i, k := range rand.New(rand.NewPCG(uint64(n), 16)).Perm(n) {
		id := fmt.Sprintf("%s-sku-%08d", schedule, k)
		es[i] = targets.Entry{ID: id, Schedule: schedule,
			URL: fmt.Sprintf("https://shop%03d.example.com/products/%s?ref=cronless", k%1000, id)}
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
// (half of a hash group of 10,500 targets) with results in two runs, in a
// store holding the results of other groups' targets too, their IDs
// interleaved with the shard's. The results are product pages (about
// 1.7 KB of fields), as a real result's row is large. Setting up takes
// some 20 s.
func BenchmarkShardPrevious(b *testing.B) {
	const group = 0
	s := benchStore(b)
	var all, mine []string
	for i := 0; len(mine) < targets.ShardSize+500; i++ {
		id := fmt.Sprintf("sku-%08d", i)
		switch {
		case targets.Group(id) == group:
			mine = append(mine, id)
		case i%2 == 1:
			continue
		}
		all = append(all, id)
	}
	for i := range 2 {
		rs := make([]job.Result, 0, 1000)
		for j, id := range all {
			r := storetest.ProductPage(id, i, 1)
			r.ETag = `"` + id + `"`
			rs = append(rs, r)
			if len(rs) == cap(rs) || j == len(all)-1 {
				if _, err := s.PutResults(b.Context(), rs); err != nil {
					b.Fatal(err)
				}
				rs = rs[:0]
			}
		}
	}
	var es []targets.Entry
	for _, id := range mine {
		es = append(es, targets.Entry{ID: id, URL: "https://example.com/" + id, Schedule: "hourly"})
	}
	var sh targets.Shard
	for _, c := range targets.PlanList(nil, nil, es).Layouts["hourly"].Shards {
		if c.Group == group && c.From != "" {
			sh = c
		}
	}
	var ids []string
	for _, id := range mine {
		if sh.Holds(id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		b.Fatalf("no range shard of group %d", group)
	}
	runs := []string{storetest.RunID(1), storetest.RunID(0)}
	b.Logf("shard %d [%q, %q): %d targets, %d results in all", sh.Index, sh.From, sh.To, len(ids), 2*len(all))
	for b.Loop() {
		vs, err := s.ShardPrevious(b.Context(), sh, runs, ids)
		if err != nil || len(vs) != len(ids) {
			b.Fatalf("ShardPrevious: %d validators, %v; want %d", len(vs), err, len(ids))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ids)), "ns/target")
}
