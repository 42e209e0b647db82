package runs

import (
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

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
	ctx := b.Context()
	db, err := sqlite.Open(filepath.Join(b.TempDir(), "local.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	st, err := localstore.New(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2025, 3, 1, 11, 0, 0, 0, time.UTC)
	run := store.Run{ID: "hourly-20250301T110000Z", Schedule: "hourly", ScheduledAt: at, Planned: n, CreatedAt: at}
	for i := range n {
		run.Targets = append(run.Targets, fmt.Sprintf("t-%07d", i))
	}
	if _, err := st.PutRun(ctx, run); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		r, err := st.Run(ctx, run.ID)
		if err != nil {
			b.Fatal(err)
		}
		res, err := st.RunResults(ctx, run.ID)
		if err != nil {
			b.Fatal(err)
		}
		d, err := newRunDetail(ctx, st, r, res, nil, DefaultMissingLimit)
		if err != nil {
			b.Fatal(err)
		}
		if err := printRunDetail(io.Discard, "table", d); err != nil {
			b.Fatal(err)
		}
	}
}
