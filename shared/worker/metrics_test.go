package worker_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/crawl"
	"github.com/cronless/cronless/shared/emf"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/metrics"
	"github.com/cronless/cronless/shared/worker"
)

// updateGolden rewrites testdata/*.golden: go test ./shared/worker -run Golden -update
var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/")

// One invocation's EMF records: each line follows the specification
// (emf.Validate), and their shape is pinned by testdata/emf.golden.
func TestMetricsGolden(t *testing.T) {
	fetch := &fakeFetcher{
		pages: map[string]crawl.Page{
			"ok":    {HTTPStatus: 200, Bytes: 2048, ContentHash: "c", BodyHash: "b"},
			"same":  {HTTPStatus: 304, NotModified: true},
			"other": {HTTPStatus: 200, Bytes: 1000, ContentHash: "c", BodyHash: "b"},
		},
		errs: map[string]error{
			"perm":  &crawl.Error{Kind: crawl.KindRobots},
			"retry": &crawl.Error{Kind: crawl.KindHTTP429, Retryable: true, HTTPStatus: 429},
			"busy":  &crawl.Deferred{Host: "busy.example.com", After: 4 * time.Second, Why: "no slot"},
		},
	}
	other := testJob("other")
	other.Schedule = "daily"
	recs := event(jobRecord(t, "ok", 1), jobRecord(t, "same", 1), record("m-other", jobBody(t, other), 1),
		jobRecord(t, "perm", 1), jobRecord(t, "retry", 1), jobRecord(t, "busy", 1), record("m-bad", `{"v":1}`, 1))

	var out bytes.Buffer
	m := metrics.New("worker", metrics.WithEMF(&out, "dev"), metrics.WithClock(func() time.Time { return scheduledAt }))
	w := worker.New(fetch, &fakeSender{}, worker.WithMetrics(m), worker.WithDeadLetters(&fakeSender{}),
		worker.WithRequeue(&fakeSender{}), worker.WithClock(func() time.Time { return scheduledAt }))
	if _, err := w.Handle(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for _, l := range lines {
		if err := emf.Validate([]byte(l)); err != nil {
			t.Errorf("%v\n%s", err, l)
		}
		for _, banned := range []string{"run_id", "target", runID} {
			if strings.Contains(l, banned) {
				t.Errorf("an EMF line carries %q, of unbounded cardinality:\n%s", banned, l)
			}
		}
	}
	golden := filepath.Join("testdata", "emf.golden")
	if *updateGolden {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Errorf("EMF lines differ from %s (rerun with -update if intended):\n%s", golden, out.String())
	}

	// The same counts, read locally; a second invocation adds to them.
	if _, err := w.Handle(context.Background(), event(jobRecord(t, "ok", 1))); err != nil {
		t.Fatal(err)
	}
	c := m.Counts()
	for _, tc := range []struct {
		key  metrics.Key
		want float64
	}{
		{metrics.Key{Name: metrics.PagesOK, Schedule: "hourly"}, 3},
		{metrics.Key{Name: metrics.PagesOK, Schedule: "daily"}, 1},
		{metrics.Key{Name: metrics.Bytes, Schedule: "hourly"}, 2 * 2048},
		{metrics.Key{Name: metrics.NotModified, Schedule: "hourly"}, 1},
		{metrics.Key{Name: metrics.PagesFailed, Schedule: "hourly", Kind: "robots_disallowed"}, 1},
		{metrics.Key{Name: metrics.PagesFailed, Schedule: "hourly", Kind: "http_429"}, 1},
		{metrics.Key{Name: metrics.PagesFailed, Kind: "bad_message"}, 1},
		{metrics.Key{Name: metrics.Retried, Schedule: "hourly"}, 1},
		{metrics.Key{Name: metrics.Deferred, Schedule: "hourly"}, 1},
	} {
		if got := c[tc.key]; got != tc.want {
			t.Errorf("Counts[%+v] = %v, want %v", tc.key, got, tc.want)
		}
	}
}

// A panic and a job deferred too often count as failures of their own kinds.
func TestMetricsPanicAndHostBusy(t *testing.T) {
	busy := testJob("busy")
	busy.Deferrals = 1000
	fetch := &fakeFetcher{
		errs: map[string]error{"busy": &crawl.Deferred{Host: "h", After: time.Second}},
		during: func(_ context.Context, j job.Job) error {
			if j.TargetID == "boom" {
				panic("hostile page")
			}
			return nil
		},
	}
	m := metrics.New("worker")
	w := worker.New(fetch, &fakeSender{}, worker.WithMetrics(m), worker.WithDeadLetters(&fakeSender{}), worker.WithRequeue(&fakeSender{}))
	if _, err := w.Handle(context.Background(), event(jobRecord(t, "boom", 1), record("m-busy", jobBody(t, busy), 1))); err != nil {
		t.Fatal(err)
	}
	c := m.Counts()
	if c[metrics.Key{Name: metrics.PagesFailed, Schedule: "hourly", Kind: worker.KindPanic}] != 1 ||
		c[metrics.Key{Name: metrics.PagesFailed, Schedule: "hourly", Kind: worker.KindHostBusy}] != 1 ||
		c[metrics.Key{Name: metrics.Retried, Schedule: "hourly"}] != 1 {
		t.Errorf("counts %v, want a panic (retried) and a host_busy failure", c)
	}
}
