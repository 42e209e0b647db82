package metrics_test

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/emf"
	"github.com/cronless/cronless/shared/metrics"
)

var at = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func TestNilRecorderCountsNothing(t *testing.T) {
	var r *metrics.Recorder
	r.Add(metrics.PagesOK, "hourly", "", 1)
	if err := r.Flush(); err != nil || r.Counts() != nil {
		t.Errorf("nil recorder: Flush %v, Counts %v", err, r.Counts())
	}
}

// Concurrent counts add up; Flush writes them once and Counts keeps the
// sums across flushes.
func TestFlushOncePerInvocation(t *testing.T) {
	var out bytes.Buffer
	r := metrics.New("worker", metrics.WithEMF(&out, "dev"), metrics.WithClock(func() time.Time { return at }))
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			r.Add(metrics.PagesOK, "hourly", "", 1)
			r.Add(metrics.CrawlDuration, "hourly", "", 10)
		})
	}
	wg.Wait()
	r.Add(metrics.PagesFailed, "hourly", "timeout", 1)
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2 (the schedule's, its failures by kind):\n%s", len(lines), out.String())
	}
	for _, l := range lines {
		if err := emf.Validate([]byte(l)); err != nil {
			t.Errorf("%v\n%s", err, l)
		}
	}
	var first map[string]any
	_ = json.Unmarshal([]byte(lines[0]), &first)
	if first["PagesOK"] != 50.0 || len(first["CrawlDuration"].([]any)) != 50 {
		t.Errorf("first line %s, want 50 pages and 50 durations", lines[0])
	}
	out.Reset()
	if err := r.Flush(); err != nil || out.Len() != 0 {
		t.Errorf("a second Flush with nothing new wrote %q (%v)", out.String(), err)
	}
	r.Add(metrics.PagesOK, "hourly", "", 2)
	c := r.Counts()
	if got := c[metrics.Key{Name: metrics.PagesOK, Schedule: "hourly"}]; got != 52 {
		t.Errorf("Counts PagesOK = %v, want 52", got)
	}
	if got := c[metrics.Key{Name: metrics.PagesFailed, Schedule: "hourly", Kind: "timeout"}]; got != 1 {
		t.Errorf("Counts PagesFailed timeout = %v, want 1", got)
	}
}

// Every metric has a unit CloudWatch allows.
func TestUnits(t *testing.T) {
	for _, n := range metrics.Names() {
		if u := metrics.Unit(n); u == "" || !strings.Contains(" "+unitList()+" ", " "+string(u)+" ") {
			t.Errorf("%s: unit %q", n, u)
		}
	}
}

func unitList() string {
	var s []string
	for _, u := range emf.Units {
		s = append(s, string(u))
	}
	return strings.Join(s, " ")
}

// BenchmarkPage is what the worker counts per page crawled ok, from
// concurrent crawls, with a flush every 10 pages (a batch).
func BenchmarkPage(b *testing.B) {
	r := metrics.New("worker", metrics.WithEMF(io.Discard, "bench"))
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Add(metrics.CrawlDuration, "hourly", "", 52)
			r.Add(metrics.PagesOK, "hourly", "", 1)
			r.Add(metrics.Bytes, "hourly", "", 20480)
			if n.Add(1)%10 == 0 {
				_ = r.Flush()
			}
		}
	})
}
