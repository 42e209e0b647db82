package runs

import (
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/sqlite"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/localstore"
)

// BenchmarkRunDetailPlanned measures what runs show does with the store
// for a just-planned run of 100,000 targets on the local backend: read the
// run (with its targets) and its results (none), put the detail together
// and print it as a table. The DLQ is empty.
//
//	go test -run '^$' -bench RunDetailPlanned -benchtime 3x ./cmd/cronless/internal/cmd/runs/
func BenchmarkRunDetailPlanned(b *testing.B) {
	const n = 100_000
	ctx, st := b.Context(), benchStore(b)
	at := time.Date(2025, 3, 1, 11, 0, 0, 0, time.UTC)
	run := store.Run{ID: "hourly-20250301T110000Z", Schedule: "hourly", ScheduledAt: at, Planned: n, CreatedAt: at}
	for i := range n {
		run.Targets = append(run.Targets, fmt.Sprintf("t-%07d", i))
	}
	if _, err := st.PutRun(ctx, run); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		showRun(b, st, run.ID)
	}
}

// BenchmarkRunDetailCompleted measures what runs show does with the store
// for a completed run of 100,000 targets on the local backend, each with
// an ok result and a few fields: read the run and its results, put the
// detail together with the default limit and print it as a table. The DLQ
// is empty.
//
//	go test -run '^$' -bench RunDetailCompleted -benchtime 3x ./cmd/cronless/internal/cmd/runs/
func BenchmarkRunDetailCompleted(b *testing.B) {
	const n = 100_000
	ctx, st := b.Context(), benchStore(b)
	at := time.Date(2025, 3, 1, 11, 0, 0, 0, time.UTC)
	run := store.Run{ID: job.RunID("hourly", at), Schedule: "hourly", ScheduledAt: at, Planned: n, CreatedAt: at}
	for i := range n {
		run.Targets = append(run.Targets, fmt.Sprintf("t-%07d", i))
	}
	if _, err := st.PutRun(ctx, run); err != nil {
		b.Fatal(err)
	}
	batch := make([]job.Result, 0, 1000)
	for i, id := range run.Targets {
		batch = append(batch, job.Result{V: job.Version, RunID: run.ID, Schedule: "hourly", TargetID: id,
			URL: "https://shop-" + id + ".example/products/" + id, ScheduledAt: at, Status: job.StatusOK, HTTPStatus: 200,
			Fields: map[string]any{
				"title": "Product " + id + ", the one you wanted", "price": fmt.Sprintf("%d,99 EUR", i%1000),
				"links": []any{"https://shop.example/a/" + id, "https://shop.example/b/" + id, "https://shop.example/c/" + id},
			},
			ContentHash: fmt.Sprintf("sha256:%064x", i), FetchedAt: at.Add(time.Second), DurationMS: 120, Attempt: 1})
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := st.PutResults(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		showRun(b, st, run.ID)
	}
}

// benchStore is an empty local store in a new SQLite file.
func benchStore(b *testing.B) *localstore.Store {
	b.Helper()
	db, err := sqlite.Open(filepath.Join(b.TempDir(), "local.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	st, err := localstore.New(b.Context(), db)
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// showRun does what runs show does with the store for run runID, with the
// default limit and an empty DLQ, and prints the detail as a table.
func showRun(b *testing.B, st *localstore.Store, runID string) {
	b.Helper()
	ctx := b.Context()
	r, err := st.Run(ctx, runID)
	if err != nil {
		b.Fatal(err)
	}
	rr, err := readRunResults(ctx, st, runID, DefaultMissingLimit)
	if err != nil {
		b.Fatal(err)
	}
	d, err := newRunDetail(ctx, st, r, rr, nil, DefaultMissingLimit)
	if err != nil {
		b.Fatal(err)
	}
	if err := printRunDetail(io.Discard, "table", d); err != nil {
		b.Fatal(err)
	}
}
