package local_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/crawl"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/local"
	"github.com/cronless/cronless/shared/metrics"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/queue/localq"
	"github.com/cronless/cronless/shared/sqlite"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/localstore"
	"github.com/cronless/cronless/shared/targets"
)

const maxReceives = 3

// site is an httptest site that counts the requests of each path.
type site struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func newSite(t *testing.T) *site {
	t.Helper()
	s := &site{hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		s.mu.Unlock()
		switch r.URL.Path {
		case "/robots.txt":
			fmt.Fprint(w, "User-agent: *\nAllow: /\n")
		case "/a", "/b", "/c":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, "<html><head><title>page %s</title></head><body><h1>%s</h1></body></html>", r.URL.Path, r.URL.Path)
		case "/boom":
			http.Error(w, "down", http.StatusInternalServerError)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *site) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// env is a pipeline on a fresh local backend.
type env struct {
	p     *local.Pipeline
	store *localstore.Store
	ticks *localq.Queue
	jobs  *localq.Queue
	dlq   *localq.Queue
	res   *localq.Queue
	rdlq  *localq.Queue
	tf    *targets.File
	qb    *localq.Backend
}

func newEnv(t *testing.T, base string) *env {
	t.Helper()
	return newEnvYAML(t, fmt.Sprintf(`schedules:
  tick: { expression: "rate(1 hour)" }
defaults: { host_rate: 1000/s } # not a pacing test: the local host at full speed
targets:
  - { id: a, url: "%[1]s/a", schedule: tick, extract: { title: { css: title } } }
  - { id: b, url: "%[1]s/b", schedule: tick }
  - { id: c, url: "%[1]s/c", schedule: tick }
  - { id: gone, url: "%[1]s/gone", schedule: tick }
  - { id: boom, url: "%[1]s/boom", schedule: tick }
`, base))
}

// newEnvYAML is a pipeline on a fresh local backend for the targets file
// yaml.
func newEnvYAML(t *testing.T, yaml string) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "local.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	qb, err := localq.New(db)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(name string, cfg localq.Config) *localq.Queue {
		q, err := qb.CreateQueue(ctx, name, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	e := &env{qb: qb}
	e.dlq = mk("targets-dlq", localq.Config{})
	e.rdlq = mk("results-dlq", localq.Config{})
	e.ticks = mk("ticks", localq.Config{VisibilityTimeout: time.Second})
	e.jobs = mk("targets", localq.Config{VisibilityTimeout: 5 * time.Second, MaxReceiveCount: maxReceives, DeadLetterQueue: "targets-dlq"})
	e.res = mk("results", localq.Config{VisibilityTimeout: 5 * time.Second, MaxReceiveCount: maxReceives, DeadLetterQueue: "results-dlq"})
	if e.store, err = localstore.New(ctx, db); err != nil {
		t.Fatal(err)
	}
	if e.tf, err = targets.Parse("targets.yaml", []byte(yaml)); err != nil {
		t.Fatal(err)
	}
	m := local.MappingConfig{BatchSize: 10, MaxConcurrency: 2, Timeout: 5 * time.Second}
	e.p = &local.Pipeline{
		Targets: e.tf, Ticks: e.ticks, TargetsQueue: e.jobs, TargetsDLQ: e.dlq, Results: e.res, ResultsDLQ: e.rdlq, Store: e.store,
		Fetcher:        crawl.New(crawl.Options{AllowPrivate: true, Timeout: 2 * time.Second}),
		PlannerMapping: m, WorkerMapping: m, ResultsMapping: m, PollWait: 50 * time.Millisecond,
		RetryDelay: func(int, time.Duration) time.Duration { return 0 },
	}
	return e
}

// drain runs the mappings until the queues are empty.
func (e *env) drain(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mctx, stop := context.WithCancel(ctx)
	wait := e.p.StartMappings(mctx)
	err := e.p.WaitDrained(ctx, nil, nil)
	stop()
	wait()
	if err != nil {
		t.Fatalf("pipeline did not drain: %v", err)
	}
}

// deadLetters receives every message in q (and leaves them in flight).
func deadLetters(t *testing.T, q queue.Queue) []queue.Message {
	t.Helper()
	var all []queue.Message
	for {
		msgs, err := q.Receive(context.Background(), queue.ReceiveOptions{Max: 10, Visibility: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			return all
		}
		all = append(all, msgs...)
	}
}

func TestPipelineRunOnce(t *testing.T) {
	s := newSite(t)
	e := newEnv(t, s.URL)
	ctx := context.Background()

	reports, err := e.p.RunOnce(ctx, nil, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 1 {
		t.Fatalf("%d runs, want 1", len(reports))
	}
	run := reports[0]
	if run.Planned != 5 || run.Succeeded != 3 || run.Failed != 1 || run.DeadLettered != 1 {
		t.Errorf("run = planned %d, ok %d, failed %d, dead-lettered %d; want 5, 3, 1, 1",
			run.Planned, run.Succeeded, run.Failed, run.DeadLettered)
	}

	results, err := e.store.RunResults(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]job.Result{}
	for _, r := range results {
		if _, dup := got[r.TargetID]; dup {
			t.Errorf("target %s has two results", r.TargetID)
		}
		got[r.TargetID] = r
	}
	for _, id := range []string{"a", "b", "c"} {
		if r, ok := got[id]; !ok || r.Status != job.StatusOK || r.HTTPStatus != 200 {
			t.Errorf("target %s: %+v, want an ok result", id, r)
		}
	}
	if got["a"].Fields["title"] != "page /a" {
		t.Errorf("a's title = %v, want the extracted title", got["a"].Fields["title"])
	}
	// The 404 is a failed result, crawled once, not retried, not dead-lettered.
	if r := got["gone"]; r.Status != job.StatusFailed || r.HTTPStatus != 404 || r.Error == nil || r.Error.Kind != string(crawl.KindHTTP4xx) {
		t.Errorf("gone: %+v, want a failed http_4xx result", r)
	}
	if n := s.count("/gone"); n != 1 {
		t.Errorf("/gone fetched %d times, want 1 (permanent failures are not retried)", n)
	}
	// The 500 has no result: it was tried maxReceiveCount times and dead-lettered.
	if _, ok := got["boom"]; ok {
		t.Errorf("boom has a result; want none (dead-lettered)")
	}
	if n := s.count("/boom"); n != maxReceives {
		t.Errorf("/boom fetched %d times, want %d (maxReceiveCount)", n, maxReceives)
	}
	dl := deadLetters(t, e.dlq)
	if len(dl) != 1 || dl[0].Attributes[job.AttrTargetID] != "boom" {
		t.Fatalf("targets DLQ holds %+v, want boom's job", dl)
	}
	if dl[0].ReceiveCount < maxReceives {
		t.Errorf("dead letter received %d times, want ≥ %d", dl[0].ReceiveCount, maxReceives)
	}
	attempts, err := e.store.Attempts(ctx, run.ID, "boom")
	if err != nil {
		t.Fatal(err)
	}
	if len(attempts) != maxReceives {
		t.Fatalf("%d attempts recorded for boom, want %d", len(attempts), maxReceives)
	}
	last := attempts[len(attempts)-1]
	if last.Attempt != maxReceives || last.Error.Kind != string(crawl.KindHTTP5xx) || !strings.Contains(last.Error.Message, "500") {
		t.Errorf("last attempt = %+v, want attempt %d, http_5xx mentioning 500", last, maxReceives)
	}
	if d, _ := e.rdlq.Depth(ctx); d.Total() != 0 {
		t.Errorf("results DLQ holds %d messages, want 0", d.Total())
	}

	// The counts the functions would write as EMF on Lambda, read locally.
	sum := func(fn string, name metrics.Name, kind string) float64 {
		var n float64
		for k, v := range e.p.Metrics(fn).Counts() {
			if k.Name == name && k.Kind == kind {
				n += v
			}
		}
		return n
	}
	for _, tc := range []struct {
		fn   string
		name metrics.Name
		kind string
		want float64
	}{
		{"planner", metrics.JobsPlanned, "", 5},
		{"worker", metrics.PagesOK, "", 3},
		{"worker", metrics.PagesFailed, string(crawl.KindHTTP4xx), 1},
		{"worker", metrics.PagesFailed, string(crawl.KindHTTP5xx), maxReceives},
		{"worker", metrics.Retried, "", maxReceives},
		{"results", metrics.ResultsStored, "", 4},
	} {
		if got := sum(tc.fn, tc.name, tc.kind); got != tc.want {
			t.Errorf("%s %s %s = %v, want %v", tc.fn, tc.name, tc.kind, got, tc.want)
		}
	}
}

func TestPipelineRepeatedTickIsOneRun(t *testing.T) {
	s := newSite(t)
	e := newEnv(t, s.URL)
	ctx := context.Background()
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for range 2 { // Scheduler delivers at least once
		if _, err := e.p.Planner().Handle(ctx, local.NewTick("tick", at)); err != nil {
			t.Fatal(err)
		}
	}
	e.drain(t)
	runs, err := e.store.Runs(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 {
		t.Fatalf("%d runs, want 1", len(runs))
	}
	r := runs[0]
	if r.Planned != 5 || r.Succeeded != 3 || r.Failed != 1 {
		t.Errorf("run counters = planned %d ok %d failed %d, want 5 3 1 despite every job delivered twice", r.Planned, r.Succeeded, r.Failed)
	}
	results, _ := e.store.RunResults(ctx, r.ID)
	if len(results) != 4 {
		t.Errorf("%d results, want 4 (one per target that did not dead-letter)", len(results))
	}
}

func TestPipelineDuplicateResultDelivery(t *testing.T) {
	s := newSite(t)
	e := newEnv(t, s.URL)
	ctx := context.Background()
	reports, err := e.p.RunOnce(ctx, nil, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := e.store.Run(ctx, reports[0].ID)
	stored, err := e.store.Result(ctx, "a", reports[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := job.Encode(stored)
	// The same result delivered twice more, in one batch and in another.
	for _, batch := range [][]string{{body, body}, {body}} {
		var out []queue.Outgoing
		for i, b := range batch {
			out = append(out, queue.Outgoing{ID: fmt.Sprint(i), Body: b})
		}
		if err := e.res.SendBatch(ctx, out); err != nil {
			t.Fatal(err)
		}
	}
	e.drain(t)
	after, _ := e.store.Run(ctx, reports[0].ID)
	if after.Succeeded != before.Succeeded || after.Failed != before.Failed {
		t.Errorf("counters moved from %d/%d to %d/%d on duplicate results", before.Succeeded, before.Failed, after.Succeeded, after.Failed)
	}
	results, _ := e.store.RunResults(ctx, reports[0].ID)
	if len(results) != 4 {
		t.Errorf("%d results, want 4", len(results))
	}
}

func TestPipelineMalformedMessages(t *testing.T) {
	s := newSite(t)
	e := newEnv(t, s.URL)
	ctx := context.Background()
	valid := job.Job{V: 1, RunID: "tick-x", TargetID: "a", URL: s.URL + "/a", ScheduledAt: time.Now().UTC()}
	wrongVersion := strings.Replace(mustEncode(t, valid), `"v":1`, `"v":9`, 1)
	noURL := strings.Replace(mustEncode(t, valid), `"url":"`+s.URL+`/a",`, ``, 1)
	bodies := []string{"not json at all", wrongVersion, noURL, `{"v":1}`}
	var out []queue.Outgoing
	for i, b := range bodies {
		out = append(out, queue.Outgoing{ID: fmt.Sprint(i), Body: b})
	}
	if err := e.jobs.SendBatch(ctx, out); err != nil {
		t.Fatal(err)
	}
	if err := e.res.SendBatch(ctx, []queue.Outgoing{{ID: "r", Body: `{"v":1,"status":"ok"}`}}); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	if n := s.count("/a"); n != 0 {
		t.Errorf("a malformed job was crawled (%d requests)", n)
	}
	dl := deadLetters(t, e.dlq)
	if len(dl) != len(bodies) {
		t.Fatalf("targets DLQ holds %d messages, want %d", len(dl), len(bodies))
	}
	seen := map[string]bool{}
	for _, m := range dl {
		seen[m.Body] = true
		if m.Attributes["error_kind"] != "bad_message" || m.Attributes["error_message"] == "" {
			t.Errorf("dead letter %q lacks its reason: %v", m.Body, m.Attributes)
		}
		if m.ReceiveCount > 1 {
			// received once by the worker is fine; it must not have been retried maxReceiveCount times
			t.Logf("dead letter %q received %d times", m.Body, m.ReceiveCount)
		}
	}
	for _, b := range bodies {
		if !seen[b] {
			t.Errorf("malformed body %q is not in the DLQ", b)
		}
	}
	if rdl := deadLetters(t, e.rdlq); len(rdl) != 1 {
		t.Errorf("results DLQ holds %d messages, want the malformed result", len(rdl))
	}
	if runs, _ := e.store.Runs(ctx, 10); len(runs) != 0 {
		t.Errorf("malformed messages created runs: %+v", runs)
	}
}

func mustEncode(t *testing.T, v any) string {
	t.Helper()
	s, err := job.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var _ store.Store = (*localstore.Store)(nil)

// loopbackOnly is a crawl.Resolver that knows no names and a dialer that
// refuses anything but loopback, so a test crawl never leaves the machine.
type loopbackOnly struct{ t *testing.T }

func (loopbackOnly) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	return nil, fmt.Errorf("test resolver: no name %q", host)
}

func (l loopbackOnly) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Unmap().IsLoopback() {
		l.t.Errorf("dial of non-loopback address %s", addr)
		return nil, fmt.Errorf("test dialer: refusing non-loopback %s", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// TestPipelineConditionalRequests runs a schedule twice against a site that
// answers a matching If-None-Match with 304: the second run's result of that
// page is not modified, unchanged, and has the first run's fields.
func TestPipelineConditionalRequests(t *testing.T) {
	var (
		mu            sync.Mutex
		full, notMod  int
		conditionalOn = map[string]string{} // path -> If-None-Match of its last request
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		conditionalOn[r.URL.Path] = r.Header.Get("If-None-Match")
		switch r.URL.Path {
		case "/robots.txt":
			fmt.Fprint(w, "User-agent: *\nAllow: /\n")
			return
		case "/page":
			w.Header().Set("ETag", `"v1"`)
			w.Header().Set("Last-Modified", "Fri, 20 Nov 2026 08:00:00 GMT")
			if r.Header.Get("If-None-Match") == `"v1"` {
				notMod++
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		full++
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<html><head><title>%s</title><script type="application/ld+json">{"@type":"Thing"}</script></head><body><p class="price">12</p></body></html>`, r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	e := newEnvYAML(t, fmt.Sprintf(`schedules:
  tick: { expression: "rate(1 hour)" }
defaults: { host_rate: 1000/s } # not a pacing test: the local host at full speed
targets:
  - { id: page, url: "%[1]s/page", schedule: tick, extract: { price: { css: .price, required: true } } }
  - { id: plain, url: "%[1]s/plain", schedule: tick }
`, srv.URL))
	guard := loopbackOnly{t}
	e.p.Fetcher = crawl.New(crawl.Options{AllowPrivate: true, Timeout: 2 * time.Second, Resolver: guard, DialContext: guard.DialContext})
	ctx := context.Background()
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

	runOnce := func(at time.Time) map[string]job.Result {
		t.Helper()
		reports, err := e.p.RunOnce(ctx, nil, at, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(reports) != 1 || reports[0].Succeeded != 2 {
			t.Fatalf("run at %s: %+v, want one run with 2 ok results", at, reports)
		}
		rs, err := e.store.RunResults(ctx, reports[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]job.Result{}
		for _, r := range rs {
			out[r.TargetID] = r
		}
		return out
	}

	first := runOnce(t0)
	p1 := first["page"]
	if p1.HTTPStatus != 200 || p1.NotModified || p1.ETag != `"v1"` || p1.Fields["price"] != "12" || p1.Fields["jsonld"] == nil {
		t.Fatalf("first run's page = %+v, want a 200 with its etag and fields", p1)
	}

	second := runOnce(t0.Add(time.Hour))
	p2 := second["page"]
	if p2.Status != job.StatusOK || p2.HTTPStatus != 304 || !p2.NotModified || p2.Changed {
		t.Errorf("second run's page = %+v, want ok, 304, not modified, not changed", p2)
	}
	if p2.ContentHash != p1.ContentHash || p2.ETag != `"v1"` || !reflect.DeepEqual(p2.Fields, p1.Fields) {
		t.Errorf("second run's page: hash %q etag %q fields %v; want the first run's hash %q, etag \"v1\" and fields %v",
			p2.ContentHash, p2.ETag, p2.Fields, p1.ContentHash, p1.Fields)
	}
	if pl := second["plain"]; pl.HTTPStatus != 200 || pl.NotModified {
		t.Errorf("page without validators = %+v, want a full 200 again", pl)
	}
	latest, err := e.store.Latest(ctx, "page")
	if err != nil || len(latest) != 1 || latest[0].RunID != p2.RunID || !reflect.DeepEqual(latest[0].Fields, p1.Fields) {
		t.Errorf("Latest(page) = %+v, %v; want the 304's result with the first run's fields", latest, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if notMod != 1 || conditionalOn["/plain"] != "" {
		t.Errorf("304s served %d, /plain sent If-None-Match %q; want one 304, and no validators for /plain",
			notMod, conditionalOn["/plain"])
	}
	if full != 3 {
		t.Errorf("full pages served %d, want 3 (page once, plain twice)", full)
	}
}

// TestPipelineConditionalRequestsRulesChange: editing a target's extract
// rules makes its next request unconditional, although the server would
// answer 304, so the new rules' fields are stored at once; and with the
// new rules the requests are conditional again.
func TestPipelineConditionalRequestsRulesChange(t *testing.T) {
	var (
		mu          sync.Mutex
		ifNoneMatch []string // of each request of /page, in order
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			fmt.Fprint(w, "User-agent: *\nAllow: /\n")
			return
		}
		mu.Lock()
		ifNoneMatch = append(ifNoneMatch, r.Header.Get("If-None-Match"))
		mu.Unlock()
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<html><head><title>Shop</title></head><body><h1>Widget</h1><p class="price">12</p><p class="stock">3 left</p></body></html>`)
	}))
	t.Cleanup(srv.Close)
	targetsYAML := func(extract string) string {
		return fmt.Sprintf(`schedules:
  tick: { expression: "rate(1 hour)" }
defaults: { host_rate: 1000/s } # not a pacing test: the local host at full speed
targets:
  - { id: page, url: "%s/page", schedule: tick, extract: %s }
`, srv.URL, extract)
	}
	const (
		rulesA = `{ price: { css: .price } }`
		rulesB = `{ price: { css: p.price, regex: "[0-9]+" }, name: { css: h1 }, stock: { css: .stock } }`
	)
	e := newEnvYAML(t, targetsYAML(rulesA))
	guard := loopbackOnly{t}
	e.p.Fetcher = crawl.New(crawl.Options{AllowPrivate: true, Timeout: 2 * time.Second, Resolver: guard, DialContext: guard.DialContext})
	ctx := context.Background()
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

	// restart is the pipeline as `cronless run` starts it again after the
	// targets file was edited: the same backend, the new targets.
	restart := func(yaml string) (*local.Pipeline, *targets.File) {
		t.Helper()
		tf, err := targets.Parse("targets.yaml", []byte(yaml))
		if err != nil {
			t.Fatal(err)
		}
		return &local.Pipeline{
			Targets: tf, Ticks: e.p.Ticks, TargetsQueue: e.p.TargetsQueue, TargetsDLQ: e.p.TargetsDLQ, Results: e.p.Results, ResultsDLQ: e.p.ResultsDLQ,
			Store: e.p.Store, Fetcher: e.p.Fetcher, PlannerMapping: e.p.PlannerMapping, WorkerMapping: e.p.WorkerMapping,
			ResultsMapping: e.p.ResultsMapping, PollWait: e.p.PollWait, RetryDelay: e.p.RetryDelay,
		}, tf
	}
	runOnce := func(p *local.Pipeline, at time.Time) job.Result {
		t.Helper()
		reports, err := p.RunOnce(ctx, nil, at, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(reports) != 1 || reports[0].Succeeded != 1 {
			t.Fatalf("run at %s: %+v, want one run with 1 ok result", at, reports)
		}
		r, err := e.store.Result(ctx, "page", reports[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	hashOf := func(tf *targets.File) string { return job.RulesHash(tf.TargetsFor("tick")[0].Extract) }
	fieldsA := map[string]any{"price": "12", "title": "Shop"}
	fieldsB := map[string]any{"price": "12", "name": "Widget", "stock": "3 left", "title": "Shop"}

	pB, tfB := restart(targetsYAML(rulesB))
	hashA, hashB := hashOf(e.tf), hashOf(tfB)
	if hashA == hashB {
		t.Fatal("rules A and B have the same hash")
	}
	tests := []struct {
		name        string
		p           *local.Pipeline
		ifNoneMatch string // sent by the worker
		status      int
		fields      map[string]any
		rulesHash   string
		changed     bool
	}{
		{"tick 1, rules A: full page", e.p, "", 200, fieldsA, hashA, false},
		{"tick 2, rules A: 304 keeps A's fields", e.p, `"v1"`, 304, fieldsA, hashA, false},
		{"tick 3, rules B: full page with B's fields", pB, "", 200, fieldsB, hashB, true},
		{"tick 4, rules B: 304 keeps B's fields", pB, `"v1"`, 304, fieldsB, hashB, false},
	}
	for i, tt := range tests {
		r := runOnce(tt.p, t0.Add(time.Duration(i)*time.Hour))
		mu.Lock()
		sent := ifNoneMatch[len(ifNoneMatch)-1]
		requests := len(ifNoneMatch)
		mu.Unlock()
		if requests != i+1 || sent != tt.ifNoneMatch {
			t.Errorf("%s: request %d sent If-None-Match %q, want request %d with %q", tt.name, requests, sent, i+1, tt.ifNoneMatch)
		}
		if r.HTTPStatus != tt.status || r.NotModified != (tt.status == 304) || !reflect.DeepEqual(r.Fields, tt.fields) ||
			r.RulesHash != tt.rulesHash || r.Changed != tt.changed {
			t.Errorf("%s: result http %d, not_modified %v, fields %v, rules_hash %q, changed %v;\nwant http %d, fields %v, rules_hash %q, changed %v",
				tt.name, r.HTTPStatus, r.NotModified, r.Fields, r.RulesHash, r.Changed, tt.status, tt.fields, tt.rulesHash, tt.changed)
		}
		if l, err := e.store.Latest(ctx, "page"); err != nil || len(l) != 1 || l[0].RunID != r.RunID || !reflect.DeepEqual(l[0].Fields, tt.fields) {
			t.Errorf("%s: Latest(page) = %+v, %v; want this run's result with fields %v", tt.name, l, err, tt.fields)
		}
	}
}

// flakySender fails the first n SendBatch calls, as a queue that is briefly
// unavailable does.
type flakySender struct {
	queue.Queue
	mu    sync.Mutex
	fails int
}

func (f *flakySender) SendBatch(ctx context.Context, msgs []queue.Outgoing) error {
	f.mu.Lock()
	fail := f.fails > 0
	if fail {
		f.fails--
	}
	f.mu.Unlock()
	if fail {
		return fmt.Errorf("send to %s: service unavailable", f.Name())
	}
	return f.Queue.SendBatch(ctx, msgs)
}

// A tick whose planning fails at first is retried, as on AWS, and the run
// completes once: no lost run, no second run.
func TestPipelineRetriesFailedPlanning(t *testing.T) {
	s := newSite(t)
	e := newEnv(t, s.URL)
	e.p.TargetsQueue = &flakySender{Queue: e.jobs, fails: 2}
	reports, err := e.p.RunOnce(context.Background(), nil, time.Now(), nil)
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if len(reports) != 1 || reports[0].Succeeded != 3 || reports[0].Failed != 1 {
		t.Fatalf("reports = %+v, want one run with 3 ok and 1 failed", reports)
	}
	if runs, _ := e.store.Runs(context.Background(), 10); len(runs) != 1 {
		t.Errorf("%d runs, want 1", len(runs))
	}
}

// dyingSender sends the first `after` batches, then behaves as a process
// killed in the middle of planning: kill is called, and no send happens
// any more.
type dyingSender struct {
	queue.Queue
	mu    sync.Mutex
	after int
	kill  func()
}

func (d *dyingSender) SendBatch(ctx context.Context, msgs []queue.Outgoing) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.after == 0 {
		d.kill()
		return fmt.Errorf("send to %s: the process is dead", d.Name())
	}
	d.after--
	return d.Queue.SendBatch(ctx, msgs)
}

// A process killed while its planner is sending a tick's jobs leaves the
// tick in the ticks queue; the next start on the same database plans that
// run again, with the same run ID, and every one of its jobs gets a result.
// (Regression: locally a killed tick used to be lost, leaving its run
// half-planned; on AWS, Lambda retries the tick.)
func TestPipelineKilledPlanningIsReplannedOnRestart(t *testing.T) {
	s := newSite(t)
	var yaml strings.Builder
	yaml.WriteString("schedules:\n  tick: { expression: \"rate(1 hour)\" }\ndefaults: { host_rate: 1000/s }\ntargets:\n")
	const n = 35 // four batches of jobs
	for i := range n {
		fmt.Fprintf(&yaml, "  - { id: t%02d, url: \"%s/a?%d\", schedule: tick }\n", i, s.URL, i)
	}
	e := newEnvYAML(t, yaml.String())
	first := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

	// The first start dies after two of the four batches were sent.
	ctx, kill := context.WithTimeout(context.Background(), 30*time.Second)
	defer kill()
	dead := &local.Pipeline{
		Targets: e.p.Targets, Ticks: e.ticks, TargetsQueue: &dyingSender{Queue: e.jobs, after: 2, kill: kill},
		TargetsDLQ: e.dlq, Results: e.res, ResultsDLQ: e.rdlq, Store: e.store, Fetcher: e.p.Fetcher,
		PlannerMapping: e.p.PlannerMapping, WorkerMapping: e.p.WorkerMapping, ResultsMapping: e.p.ResultsMapping,
		PollWait: e.p.PollWait,
	}
	if _, err := dead.RunOnce(ctx, nil, first, nil); err == nil {
		t.Fatal("RunOnce of the killed start returned no error")
	}
	runID := job.RunID("tick", first)
	if d, _ := e.ticks.Depth(context.Background()); d.Total() != 1 {
		t.Fatalf("ticks queue after the kill: %+v, want the killed tick kept", d)
	}

	// The restart fires its own tick; the killed one comes back after its
	// visibility timeout and is planned again.
	rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reports, err := e.p.RunOnce(rctx, nil, first.Add(time.Hour), nil)
	if err != nil {
		t.Fatalf("RunOnce after the restart: %v", err)
	}
	if len(reports) != 1 || reports[0].Succeeded != n {
		t.Fatalf("restart's own run: %+v, want %d ok", reports, n)
	}
	run, err := e.store.Run(context.Background(), runID)
	if err != nil {
		t.Fatalf("the killed run: %v", err)
	}
	if run.Planned != n || run.Succeeded != n {
		t.Errorf("killed run %s: planned %d, succeeded %d; want %d and %d", runID, run.Planned, run.Succeeded, n, n)
	}
	if runs, _ := e.store.Runs(context.Background(), 10); len(runs) != 2 {
		t.Errorf("%d runs, want 2 (the killed run planned again is the same run)", len(runs))
	}
}

// A tick that cannot be planned (its schedule left the targets file while
// it waited) is dropped with an error logged, not retried forever.
func TestPipelineDropsBadTick(t *testing.T) {
	s := newSite(t)
	e := newEnv(t, s.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.p.Fire(ctx, local.NewTick("removed", time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := e.ticks.SendBatch(ctx, []queue.Outgoing{{ID: "x", Body: "not json"}}); err != nil {
		t.Fatal(err)
	}
	reports, err := e.p.RunOnce(ctx, nil, time.Now(), nil)
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if len(reports) != 1 || reports[0].Succeeded != 3 {
		t.Fatalf("reports = %+v, want the run of tick with 3 ok", reports)
	}
	if d, _ := e.ticks.Depth(ctx); d.Total() != 0 {
		t.Errorf("ticks queue: %+v, want the bad ticks dropped", d)
	}
}
