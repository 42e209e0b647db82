package migrate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/migrate"
	"github.com/cronless/cronless/shared/standin"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo"
	"github.com/cronless/cronless/shared/store/dynamov1"
)

// reader is what both schemas' stores answer, and what the tests compare.
type reader interface {
	Runs(ctx context.Context, limit int) ([]store.Run, error)
	Run(ctx context.Context, runID string) (store.Run, error)
	RunResults(ctx context.Context, runID string) ([]job.Result, error)
	Latest(ctx context.Context, targetID string) ([]job.Result, error)
	History(ctx context.Context, targetID string, since, until time.Time, limit int) ([]job.Result, error)
}

var tables atomic.Int64

func dynalite(t *testing.T) *dynamodb.Client {
	t.Helper()
	return standin.Dynalite(t, "").DynamoDB(t)
}

// migratedAt is the v2 stores' clock (what Import stamps the run items it
// creates with), so two migrations of the same data compare equal item for
// item; results keep the times v1 stored them.
var migratedAt = time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)

// newV1 creates a v1 table and returns its name and store.
func newV1(t *testing.T, client *dynamodb.Client) (string, *dynamov1.Store) {
	t.Helper()
	name := fmt.Sprintf("cronless-v1-%d", tables.Add(1))
	if err := dynamov1.CreateTable(t.Context(), client, name); err != nil {
		t.Fatal(err)
	}
	return name, dynamov1.New(client, name)
}

// newV2 creates a v2 table and returns its name and store.
func newV2(t *testing.T, client *dynamodb.Client) (string, *dynamo.Store) {
	t.Helper()
	name := fmt.Sprintf("cronless-v2-%d", tables.Add(1))
	if err := dynamo.CreateTable(t.Context(), client, name); err != nil {
		t.Fatal(err)
	}
	return name, dynamo.New(client, name, dynamo.WithClock(func() time.Time { return migratedAt }))
}

var base = time.Date(2025, 3, 1, 10, 0, 0, 123456789, time.UTC)

func tick(i int) time.Time { return base.Add(time.Duration(i) * time.Hour) }

const (
	ticks   = 6
	targets = 12
)

func targetID(j int) string { return fmt.Sprintf("t%02d", j) }

// fixtureResult is target j's result of tick i, and whether it has one:
// ok results whose content changes every other tick, failures, a 304
// without fields every other tick (t03), truncated fields (t04), a target
// whose results stop early (t07: its latest is old) and one with a gap
// (t08).
func fixtureResult(i, j int) (job.Result, bool) {
	if (j == 7 && i >= 2) || (j == 8 && i == 4) {
		return job.Result{}, false
	}
	r := job.Result{
		V: job.Version, RunID: job.RunID("hourly", tick(i)), Schedule: "hourly", TargetID: targetID(j),
		URL: "https://example.com/" + targetID(j), ScheduledAt: tick(i), FetchedAt: tick(i).Add(time.Duration(j) * time.Second),
		DurationMS: int64(100 + j), Attempt: 1,
	}
	if (i+j)%5 == 0 {
		r.Status, r.HTTPStatus, r.Attempt = job.StatusFailed, 500, 3
		r.Error = &job.Error{Kind: "http_5xx", Message: "500 Internal Server Error"}
		return r, true
	}
	r.Status, r.HTTPStatus, r.RulesHash = job.StatusOK, 200, "rules1"
	hash := fmt.Sprintf("h%d-%d", j, i/2)
	r.ContentHash, r.BodyHash, r.ETag = hash, "body-"+hash, `"`+hash+`"`
	r.Fields = map[string]any{"title": "title " + hash, "n": float64(i / 2)}
	switch {
	case j == 3 && i%2 == 1:
		r.HTTPStatus, r.NotModified, r.Fields, r.ContentHash = 304, true, nil, ""
	case j == 4:
		r.Fields["items"] = []any{"a", "b"}
		r.Truncated = map[string]job.Truncation{"items": {Bytes: 9000, Items: 90, KeptBytes: 9, KeptItems: 2}}
	}
	return r, true
}

// seed writes the fixture into a v1 store through its live path (PutRun,
// PutResult): every tick's run but tick 2's is planned (tick 2's run only
// results create), and target t05's result of tick 5 arrives before its
// result of tick 4.
func seed(t *testing.T, s *dynamov1.Store) {
	t.Helper()
	ctx := t.Context()
	var ids []string
	for j := range targets {
		ids = append(ids, targetID(j))
	}
	var rs []job.Result
	for i := range ticks {
		if i != 2 {
			run := store.Run{ID: job.RunID("hourly", tick(i)), Schedule: "hourly", ScheduledAt: tick(i), Planned: targets, Targets: ids}
			if _, err := s.PutRun(ctx, run); err != nil {
				t.Fatal(err)
			}
		}
		for j := range targets {
			if r, ok := fixtureResult(i, j); ok {
				rs = append(rs, r)
			}
		}
	}
	late := slices.IndexFunc(rs, func(r job.Result) bool { return r.TargetID == "t05" && r.ScheduledAt.Equal(tick(4)) })
	rs = append(append(rs[:late:late], rs[late+1:]...), rs[late])
	for _, r := range rs {
		if _, err := s.PutResult(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
}

// snapshot is everything a store answers about the fixture, normalised
// (times in UTC), so that two stores' snapshots compare with DeepEqual.
type snapshot struct {
	Runs       []store.Run             // Runs, then each with Run's targets
	RunResults map[string][]job.Result // by run ID
	Latest     []job.Result
	History    map[string][]job.Result // by target ID, all of it
}

func take(t *testing.T, s reader) snapshot {
	t.Helper()
	ctx := t.Context()
	runs, err := s.Runs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	snap := snapshot{RunResults: map[string][]job.Result{}, History: map[string][]job.Result{}}
	for _, r := range runs {
		full, err := s.Run(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if full.Succeeded != r.Succeeded || full.Failed != r.Failed {
			t.Errorf("run %s: Runs counts %d/%d, Run %d/%d", r.ID, r.Succeeded, r.Failed, full.Succeeded, full.Failed)
		}
		snap.Runs = append(snap.Runs, normRun(full))
		rs, err := s.RunResults(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		snap.RunResults[r.ID] = normResults(rs)
	}
	latest, err := s.Latest(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	snap.Latest = normResults(latest)
	for _, l := range latest {
		h, err := s.History(ctx, l.TargetID, time.Time{}, time.Time{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		snap.History[l.TargetID] = normResults(h)
	}
	return snap
}

func normRun(r store.Run) store.Run {
	r.ScheduledAt, r.CreatedAt = r.ScheduledAt.UTC(), r.CreatedAt.UTC()
	r.FirstResultAt, r.LastResultAt = r.FirstResultAt.UTC(), r.LastResultAt.UTC()
	return r
}

func normResults(rs []job.Result) []job.Result {
	out := make([]job.Result, len(rs))
	for i, r := range rs {
		r.ScheduledAt, r.FetchedAt = r.ScheduledAt.UTC(), r.FetchedAt.UTC()
		out[i] = r
	}
	return out
}

// same fails the test where got and want differ, naming the first
// differences.
func same(t *testing.T, what string, got, want snapshot) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	diff := func(name string, g, w any) {
		if !reflect.DeepEqual(g, w) {
			gb, _ := json.Marshal(g)
			wb, _ := json.Marshal(w)
			t.Errorf("%s: %s differ:\n got  %s\n want %s", what, name, gb, wb)
		}
	}
	diff("runs", got.Runs, want.Runs)
	diff("latest", got.Latest, want.Latest)
	for id, w := range want.RunResults {
		diff("results of run "+id, got.RunResults[id], w)
	}
	for id, w := range want.History {
		diff("history of "+id, got.History[id], w)
	}
	if len(got.History) != len(want.History) || len(got.RunResults) != len(want.RunResults) {
		t.Errorf("%s: %d targets and %d runs; want %d and %d", what, len(got.History), len(got.RunResults), len(want.History), len(want.RunResults))
	}
}

// seeded returns a client and a seeded v1 store, with the table's name.
func seeded(t *testing.T) (*dynamodb.Client, string, *dynamov1.Store) {
	t.Helper()
	client := dynalite(t)
	name, v1 := newV1(t, client)
	seed(t, v1)
	return client, name, v1
}

func TestMigrateCopiesEverything(t *testing.T) {
	client, _, v1 := seeded(t)
	want := take(t, v1)
	if len(want.Runs) != ticks || len(want.History) != targets {
		t.Fatalf("fixture: %d runs, %d targets; want %d and %d", len(want.Runs), len(want.History), ticks, targets)
	}
	for _, tt := range []struct {
		name string
		opts migrate.Options
	}{
		{"one target a batch, one at a time", migrate.Options{Batch: 1, Parallel: 1, RunBatch: 1}},
		{"defaults", migrate.Options{}},
		{"batches split into several imports", migrate.Options{Batch: 5, Parallel: 3, MaxResults: 7, RunBatch: 4}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, v2 := newV2(t, client)
			sum, err := migrate.Run(t.Context(), v1, v2, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			results := 0
			for _, h := range want.History {
				results += len(h)
			}
			if sum.Runs != ticks || sum.Targets != targets || sum.Results != results {
				t.Errorf("summary %+v; want %d runs, %d targets, %d results", sum, ticks, targets, results)
			}
			got := take(t, v2)
			// Everything, the runs' result times (the results' stored
			// times, kept) included.
			same(t, "v2 against v1", got, want)
		})
	}
}

func TestMigrateSince(t *testing.T) {
	client, _, v1 := seeded(t)
	all := take(t, v1)
	_, v2 := newV2(t, client)
	since := tick(3)
	sum, err := migrate.Run(t.Context(), v1, v2, migrate.Options{Since: since, Batch: 3})
	if err != nil {
		t.Fatal(err)
	}
	got := take(t, v2)

	if len(got.Runs) != ticks {
		t.Errorf("%d runs copied; want every one of the %d", len(got.Runs), ticks)
	}
	for i, r := range got.Runs {
		w := all.Runs[i]
		if r.ID != w.ID || r.Planned != w.Planned || !slices.Equal(r.Targets, w.Targets) {
			t.Errorf("run %s: planned %d, targets %v; want %s planned %d, targets %v", r.ID, r.Planned, r.Targets, w.ID, w.Planned, w.Targets)
		}
	}
	results := 0
	for id, h := range all.History {
		var want []job.Result
		for _, r := range h { // newest first
			if !r.ScheduledAt.Before(since) {
				want = append(want, r)
			}
		}
		if len(want) == 0 { // t07: only its latest, older than --since
			want = h[:1]
		}
		// The oldest copied ok result has no ok result before it in v2:
		// it is not changed there.
		for i := len(want) - 1; i >= 0; i-- {
			if want[i].Status == job.StatusOK {
				want[i].Changed = false
				break
			}
		}
		if g := got.History[id]; !reflect.DeepEqual(g, want) {
			gb, _ := json.Marshal(g)
			wb, _ := json.Marshal(want)
			t.Errorf("history of %s:\n got  %s\n want %s", id, gb, wb)
		}
		results += len(want)
	}
	if _, ok := got.History["t07"]; !ok || len(got.History["t07"]) != 1 {
		t.Errorf("t07 (latest older than --since): history %v; want its latest result alone", got.History["t07"])
	}
	if len(got.Latest) != targets {
		t.Errorf("%d latest results; want one of each of %d targets", len(got.Latest), targets)
	}
	for i, l := range got.Latest {
		w := all.Latest[i]
		if l.TargetID != w.TargetID || l.RunID != w.RunID {
			t.Errorf("latest of %s is of run %s; want %s of %s", l.TargetID, l.RunID, w.TargetID, w.RunID)
		}
	}
	if sum.Results != results || sum.Targets != targets {
		t.Errorf("summary %+v; want %d targets, %d results", sum, targets, results)
	}
}

// failing is a Dest that fails its nth Import (counting from 1) and passes
// the others on to the real one, recording the targets each import got.
type failing struct {
	to   migrate.Dest
	mode string // "fail", "partial" (writes the first target, then fails) or "cancel"
	n    int64

	calls  atomic.Int64
	cancel context.CancelFunc

	mu       sync.Mutex
	imported []string // target IDs of the imports passed on, in call order
}

var errInjected = errors.New("injected import failure")

func (f *failing) ImportStored(ctx context.Context, runs []store.Run, rs []store.StoredResult) error {
	if f.calls.Add(1) == f.n {
		switch f.mode {
		case "partial":
			first := rs[:1]
			for len(first) < len(rs) && rs[len(first)].Result.TargetID == rs[0].Result.TargetID {
				first = rs[:len(first)+1]
			}
			if err := f.to.ImportStored(ctx, runs, first); err != nil {
				return err
			}
			return errInjected
		case "cancel":
			f.cancel()
			return f.to.ImportStored(ctx, runs, rs)
		}
		return errInjected
	}
	f.mu.Lock()
	for _, r := range rs {
		if len(f.imported) == 0 || f.imported[len(f.imported)-1] != r.Result.TargetID {
			f.imported = append(f.imported, r.Result.TargetID)
		}
	}
	f.mu.Unlock()
	return f.to.ImportStored(ctx, runs, rs)
}

func TestMigrateResumesAfterInterruption(t *testing.T) {
	client, _, v1 := seeded(t)
	// The reference: an uninterrupted migration.
	_, ref := newV2(t, client)
	if _, err := migrate.Run(t.Context(), v1, ref, migrate.Options{}); err != nil {
		t.Fatal(err)
	}
	want := take(t, ref)

	// Runs take 2 imports (RunBatch 4); then batches of 2 targets, 2 at a
	// time: the 6th import is the 4th batch's.
	opts := migrate.Options{Batch: 2, Parallel: 2, RunBatch: 4}
	for _, tt := range []struct {
		mode string
		n    int64
	}{
		{"fail", 6}, {"partial", 6}, {"cancel", 5}, {"fail", 1},
	} {
		t.Run(fmt.Sprintf("%s import %d", tt.mode, tt.n), func(t *testing.T) {
			_, v2 := newV2(t, client)
			opts := opts
			opts.Checkpoint = filepath.Join(t.TempDir(), "checkpoint.json")
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			f := &failing{to: v2, mode: tt.mode, n: tt.n, cancel: cancel}
			_, err := migrate.Run(ctx, v1, f, opts)
			if err == nil {
				t.Fatal("the interrupted migration reported no error")
			}
			if tt.mode == "cancel" && !errors.Is(err, context.Canceled) || tt.mode != "cancel" && !errors.Is(err, errInjected) {
				t.Errorf("error %v; want the interruption's", err)
			}
			cp, found, err := migrate.LoadCheckpoint(opts.Checkpoint)
			if err != nil || found != (tt.n > 2) {
				t.Fatalf("checkpoint: %v, found %v; want one once the runs were copied", err, found)
			}
			if cp.Done || (tt.n > 2) != cp.RunsDone || cp.LastTarget >= targetID(targets-1) {
				t.Errorf("checkpoint after the interruption %+v; want runs done %v, not every target", cp, tt.n > 2)
			}

			// Resume: the targets up to the checkpoint are not imported again.
			f2 := &failing{to: v2}
			sum, err := migrate.Run(t.Context(), v1, f2, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !sum.Resumed && cp.RunsDone {
				t.Error("the second run did not resume")
			}
			for _, id := range f2.imported {
				if id <= cp.LastTarget {
					t.Errorf("target %s imported again; the checkpoint had every target to %s", id, cp.LastTarget)
				}
			}
			if sum.Before.Targets+sum.Targets != targets {
				t.Errorf("targets copied: %d before, %d on resuming; want %d in all", sum.Before.Targets, sum.Targets, targets)
			}
			same(t, "resumed against uninterrupted", take(t, v2), want)
			cp, _, _ = migrate.LoadCheckpoint(opts.Checkpoint)
			if !cp.Done || cp.Runs != ticks || cp.Targets != targets {
				t.Errorf("final checkpoint %+v; want done, %d runs and %d targets", cp, ticks, targets)
			}
		})
	}
}

func TestMigrateAgainChangesNothing(t *testing.T) {
	client, _, v1 := seeded(t)
	_, v2 := newV2(t, client)
	opts := migrate.Options{Batch: 4, Checkpoint: filepath.Join(t.TempDir(), "migrate.json")}
	if _, err := migrate.Run(t.Context(), v1, v2, opts); err != nil {
		t.Fatal(err)
	}
	want := take(t, v2)

	f := &failing{to: v2}
	sum, err := migrate.Run(t.Context(), v1, f, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.AlreadyDone || f.calls.Load() != 0 {
		t.Errorf("second run: %+v, %d imports; want already done and none", sum, f.calls.Load())
	}
	opts.Restart = true
	sum, err = migrate.Run(t.Context(), v1, f, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.AlreadyDone || sum.Targets != targets {
		t.Errorf("--restart: %+v; want every target copied again", sum)
	}
	same(t, "after copying everything again", take(t, v2), want)
}

func TestMigrateDryRunWritesNothing(t *testing.T) {
	client, _, v1 := seeded(t)
	_, v2 := newV2(t, client)
	cp := filepath.Join(t.TempDir(), "migrate.json")
	dry, err := migrate.Run(t.Context(), v1, v2, migrate.Options{DryRun: true, Checkpoint: cp})
	if err != nil {
		t.Fatal(err)
	}
	if runs, err := v2.Runs(t.Context(), 0); err != nil || len(runs) != 0 {
		t.Errorf("after a dry run, v2 has runs %v (%v); want none", runs, err)
	}
	if _, found, _ := migrate.LoadCheckpoint(cp); found {
		t.Error("a dry run wrote a checkpoint")
	}
	real, err := migrate.Run(t.Context(), v1, v2, migrate.Options{Checkpoint: cp})
	if err != nil {
		t.Fatal(err)
	}
	if !dry.DryRun || dry.Runs != real.Runs || dry.Targets != real.Targets || dry.Results != real.Results {
		t.Errorf("dry run counted %+v; the migration copied %+v", dry, real)
	}
}

func TestMigrateRefusesAnotherMigrationsCheckpoint(t *testing.T) {
	client, _, v1 := seeded(t)
	_, v2 := newV2(t, client)
	cp := filepath.Join(t.TempDir(), "migrate.json")
	opts := migrate.Options{FromTable: "a", ToTable: "b", Checkpoint: cp, Batch: 2}
	f := &failing{to: v2, n: 3}
	if _, err := migrate.Run(t.Context(), v1, f, opts); !errors.Is(err, errInjected) {
		t.Fatalf("error %v; want the injected one", err)
	}
	opts.Since = tick(3)
	_, err := migrate.Run(t.Context(), v1, v2, opts)
	if !errors.Is(err, migrate.ErrCheckpointMismatch) || !strings.Contains(err.Error(), "--restart") {
		t.Errorf("error %v; want ErrCheckpointMismatch, saying what to do", err)
	}
	opts.Restart = true
	if _, err := migrate.Run(t.Context(), v1, v2, opts); err != nil {
		t.Errorf("--restart: %v", err)
	}
}

func TestCheckTables(t *testing.T) {
	client := dynalite(t)
	v1, _ := newV1(t, client)
	v2, _ := newV2(t, client)
	for _, tt := range []struct {
		from, to string
		want     error
		says     string
	}{
		{v1, v2, nil, ""},
		{"cronless-gone", v2, migrate.ErrNoSource, "nothing to migrate"},
		{v1, "cronless-gone-v2", migrate.ErrNoDest, "deploy"},
		{v2, v1, migrate.ErrWrongTable, "not a v1 table"},
		{v1, v1, migrate.ErrWrongTable, "both"},
		{v1, v1 + "x", migrate.ErrNoDest, "deploy"},
	} {
		err := migrate.CheckTables(t.Context(), client, tt.from, tt.to)
		if !errors.Is(err, tt.want) || (err != nil && !strings.Contains(err.Error(), tt.says)) {
			t.Errorf("CheckTables(%s, %s) = %v; want %v saying %q", tt.from, tt.to, err, tt.want, tt.says)
		}
	}
	// A v1 table as the destination.
	other, _ := newV1(t, client)
	if err := migrate.CheckTables(t.Context(), client, v1, other); !errors.Is(err, migrate.ErrWrongTable) || !strings.Contains(err.Error(), "not a v2 table") {
		t.Errorf("CheckTables(v1, v1 table) = %v; want ErrWrongTable", err)
	}
}
