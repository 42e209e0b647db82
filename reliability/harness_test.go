package reliability_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/cronless/cronless/reliability"
	"github.com/cronless/cronless/shared/crawl"
	"github.com/cronless/cronless/shared/dlq"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/local"
	"github.com/cronless/cronless/shared/planner"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/queue/localq"
	"github.com/cronless/cronless/shared/queue/sqsq"
	"github.com/cronless/cronless/shared/sqlite"
	"github.com/cronless/cronless/shared/standin"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo"
	"github.com/cronless/cronless/shared/store/localstore"
	"github.com/cronless/cronless/shared/targets"
	"github.com/cronless/cronless/shared/worker"
)

// figures collects one row per scenario; the full run writes them to
// docs/reliability.md.
var figures reliability.Table

var seedFlag = flag.Uint64("reliability.seed", 0, "seed of the random faults and kill points (0: from the clock)")

func TestMain(m *testing.M) {
	flag.Parse()
	start := time.Now()
	code := m.Run()
	if cli.dir != "" {
		_ = os.RemoveAll(cli.dir)
	}
	if len(figures.Rows()) > 0 {
		fmt.Print(figures.Markdown(fmt.Sprintf("\nreliability figures (%s mode, %.0fs):\n", mode, time.Since(start).Seconds())))
	}
	if full && code == 0 {
		if err := writeDoc(time.Since(start)); err != nil {
			fmt.Fprintln(os.Stderr, "reliability: write docs/reliability.md:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// quickParallel runs the test in parallel with the others in the quick
// version (most of its time is spent waiting); the full version runs them
// one at a time, so that each scenario's peak memory is its own.
func quickParallel(t *testing.T) {
	if !full {
		t.Parallel()
	}
}

// seed returns the seed of a scenario's randomness and logs it, so a
// failure can be replayed with -reliability.seed.
func seed(t *testing.T) uint64 {
	t.Helper()
	s := *seedFlag
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -args -reliability.seed=%d)", s, s)
	return s
}

// dice is a goroutine-safe source of random choices.
type dice struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newDice(seed uint64) *dice {
	return &dice{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// roll reports true with probability p.
func (d *dice) roll(p float64) bool {
	if p <= 0 {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.r.Float64() < p
}

func (d *dice) intN(n int) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.r.IntN(n)
}

// ---------------------------------------------------------------------------
// The site the targets point at.

// site is an httptest site with a page per target: /p/<id> has a title that
// carries the site's version (so a new version changes every content hash).
// Targets in failing answer 500 until they are cleared.
type site struct {
	*httptest.Server
	version atomic.Int64
	latency time.Duration

	mu      sync.Mutex
	failing map[string]bool
	hits    map[string]int
}

func newSite(t *testing.T, latency time.Duration) *site {
	t.Helper()
	s := &site{latency: latency, failing: map[string]bool{}, hits: map[string]int{}}
	s.version.Store(1)
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *site) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/robots.txt" {
		fmt.Fprint(w, "User-agent: *\nAllow: /\n")
		return
	}
	id, ok := strings.CutPrefix(r.URL.Path, "/p/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	if s.latency > 0 {
		time.Sleep(s.latency)
	}
	s.mu.Lock()
	s.hits[id]++
	failing := s.failing[id]
	s.mu.Unlock()
	if failing {
		http.Error(w, "injected outage", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<html><head><title>%s v%d</title></head><body><h1>%s</h1></body></html>", id, s.version.Load(), id)
}

func (s *site) fail(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.failing[id] = true
	}
}

func (s *site) heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.failing)
}

// pageHits is how many times pages (not robots.txt) were served.
func (s *site) pageHits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, h := range s.hits {
		n += h
	}
	return n
}

// targetIDs names n targets t0000, t0001, ...
func targetIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("t%04d", i)
	}
	return ids
}

// targetsYAML is a targets file of one schedule "tick" with a target per id.
func targetsYAML(base string, ids []string) string {
	var b strings.Builder
	b.WriteString("schedules:\n  tick: { expression: \"rate(1 hour)\" }\ndefaults: { host_rate: 1000/s }\ntargets:\n")
	for _, id := range ids {
		fmt.Fprintf(&b, "  - { id: %s, url: \"%s/p/%s\", schedule: tick, extract: { title: { css: title } } }\n", id, base, id)
	}
	return b.String()
}

// ---------------------------------------------------------------------------
// Backends.

const (
	backendLocal    = "local"
	backendStandins = "stand-ins"
)

// envOpts configures a backend.
type envOpts struct {
	// vis is the visibility timeout of the targets and results queues
	// (whole seconds on SQS); maxReceives their maxReceiveCount.
	vis         time.Duration
	maxReceives int
	// persist keeps the stand-ins' data on disk, so it survives a restart.
	persist bool
	// wrapSQS and wrapDDB put fault injectors between the adapters and the
	// SDK clients (stand-ins only).
	wrapSQS func(sqsq.API) sqsq.API
	wrapDDB func(dynamo.API) dynamo.API
}

// env is a backend: four queues and a store, with the stand-ins behind
// them when kind is backendStandins.
type env struct {
	kind                               string
	vis                                time.Duration
	jobs, jobsDLQ, results, resultsDLQ queue.Queue
	// ticks carries a sharded rig's shard events, as Lambda's asynchronous
	// invocation queue carries the planner's on AWS.
	ticks  queue.Queue
	store  store.Store
	fq, dl *standin.Server
	// closeIdle closes the SDK clients' idle connections.
	closeIdle func()
	// listWait is the wait of the receives that list a DLQ.
	listWait time.Duration
	pollWait time.Duration
	// injected counts the faults of the API wrappers; paused stops them
	// (for the checks and the replay).
	injected []*atomic.Int64
	paused   *atomic.Bool
}

// injector is an API wrapper that counts the faults it injects, and
// injects none while paused is set.
type injector interface {
	count() *atomic.Int64
	pauseWith(paused *atomic.Bool)
}

func newEnv(t *testing.T, kind string, o envOpts) *env {
	t.Helper()
	if o.vis == 0 {
		o.vis = time.Second // SQS's least
		if kind == backendStandins {
			o.vis = 2 * time.Second // every result costs several dynalite calls
		}
	}
	if o.maxReceives == 0 {
		o.maxReceives = 3
	}
	var e *env
	if kind == backendLocal {
		e = localEnv(t, o)
	} else {
		e = standinEnv(t, o)
	}
	e.vis = o.vis
	return e
}

func localEnv(t *testing.T, o envOpts) *env {
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
	mk := func(name string, cfg localq.Config) queue.Queue {
		q, err := qb.CreateQueue(ctx, name, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	e := &env{kind: backendLocal, closeIdle: func() {}, pollWait: 50 * time.Millisecond}
	e.jobsDLQ = mk("targets-dlq", localq.Config{})
	e.resultsDLQ = mk("results-dlq", localq.Config{})
	e.jobs = mk("targets", localq.Config{VisibilityTimeout: o.vis, MaxReceiveCount: o.maxReceives, DeadLetterQueue: "targets-dlq"})
	e.results = mk("results", localq.Config{VisibilityTimeout: o.vis, MaxReceiveCount: o.maxReceives, DeadLetterQueue: "results-dlq"})
	e.ticks = mk("ticks", localq.Config{VisibilityTimeout: o.vis})
	if e.store, err = localstore.New(ctx, db); err != nil {
		t.Fatal(err)
	}
	return e
}

var tableSeq atomic.Int64

func standinEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	ctx := context.Background()
	var fq, dl *standin.Server
	if o.persist {
		// fauxqs's dataDir (SQLite) and dynalite's --path: queues, messages
		// and items survive a restart.
		dataDir := t.TempDir()
		fq = standin.FauxqsData(t, filepath.Join(dataDir, "fauxqs"))
		dl = standin.Dynalite(t, filepath.Join(dataDir, "dynalite"))
	} else {
		fq, dl = standin.Fauxqs(t), standin.Dynalite(t, "")
	}
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	cfg := standin.AWSConfig(t)
	cfg.HTTPClient = &http.Client{Transport: tr}
	sc := sqs.NewFromConfig(cfg, func(so *sqs.Options) { so.BaseEndpoint = aws.String(fq.Endpoint) })
	dc := dynamodb.NewFromConfig(cfg, func(do *dynamodb.Options) { do.BaseEndpoint = aws.String(dl.Endpoint) })

	var injected []*atomic.Int64
	paused := new(atomic.Bool)
	var sapi sqsq.API = sc
	if o.wrapSQS != nil {
		sapi = o.wrapSQS(sc)
		if i, ok := sapi.(injector); ok {
			injected = append(injected, i.count())
			i.pauseWith(paused)
		}
	}
	backoff := sqsq.WithBackoff(sqsq.Backoff{Attempts: 4, Base: 20 * time.Millisecond, Max: 200 * time.Millisecond, MaxElapsed: 3 * time.Second})
	mk := func(name string, dlqURL string) queue.Queue {
		attrs := map[string]string{"VisibilityTimeout": strconv.Itoa(int((o.vis + time.Second - 1) / time.Second))}
		if dlqURL != "" {
			arn, err := sqsq.New(sc, dlqURL).ResolveARN(ctx)
			if err != nil {
				t.Fatal(err)
			}
			attrs["RedrivePolicy"] = fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"%d"}`, arn, o.maxReceives)
		}
		out, err := sc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
		if err != nil {
			t.Fatal(err)
		}
		return sqsq.New(sapi, aws.ToString(out.QueueUrl), backoff)
	}
	e := &env{kind: backendStandins, fq: fq, dl: dl, closeIdle: tr.CloseIdleConnections, listWait: time.Second, pollWait: time.Second}
	defer func() { e.injected, e.paused = injected, paused }()
	e.jobsDLQ = mk("targets-dlq", "")
	e.resultsDLQ = mk("results-dlq", "")
	e.jobs = mk("targets", e.jobsDLQ.(*sqsq.Queue).URL())
	e.results = mk("results", e.resultsDLQ.(*sqsq.Queue).URL())
	e.ticks = mk("ticks", "")
	table := fmt.Sprintf("cronless-rel-%d", tableSeq.Add(1))
	if err := dynamo.CreateTable(ctx, dc, table); err != nil {
		t.Fatal(err)
	}
	var dapi dynamo.API = dc
	if o.wrapDDB != nil {
		dapi = o.wrapDDB(dc)
		if i, ok := dapi.(injector); ok {
			injected = append(injected, i.count())
			i.pauseWith(paused)
		}
	}
	e.store = dynamo.New(dapi, table, dynamo.WithRetry(8, 5*time.Millisecond, 100*time.Millisecond))
	return e
}

// serverLogs is what the stand-ins printed, for failure messages.
func (e *env) serverLogs() string {
	if e.fq == nil {
		return ""
	}
	return fmt.Sprintf("\nfauxqs log:\n%s\ndynalite log:\n%s", e.fq.Log(), e.dl.Log())
}

// backends returns the backends a scenario runs on: the local one, and the
// stand-ins (skipped without them unless CRONLESS_STANDINS=required).
func backends() []string { return []string{backendLocal, backendStandins} }

// ---------------------------------------------------------------------------
// The pipeline and its fault injectors.

// faults says what a rig injects; every probability is per call (or per
// first attempt of a job, for the fetch faults).
type faults struct {
	fetchPanic   float64 // a crawl panics (in the worker's goroutine of that job)
	fetchStall   float64 // a crawl blocks until the invocation's deadline
	handlerPanic float64 // the worker handler panics after doing its work
	overrun      float64 // the worker handler returns only after its deadline
	putBefore    float64 // PutResult fails before writing
	putAfter     float64 // PutResult writes, then fails (the response is lost)
	sendPartial  float64 // each entry of a SendBatch (planner's and worker's) fails
	dupSend      float64 // a batch of jobs is sent 3 times at once
	shardDup     float64 // a shard's event is sent twice (delivered at least once)
	shardCrash   float64 // a shard's invocation dies: before reading its targets, or after recording its part and before sending its jobs
}

// rigOpts configures a pipeline.
type rigOpts struct {
	n           int // targets (a scenario's: at least, over the mode's size)
	batch       int
	concurrency int
	timeout     time.Duration
	latency     time.Duration
	hostConc    int
	faults      faults
	seed        uint64
	// shardSize, when set, puts the targets in a stored list laid out in
	// shards of at most shardSize, planned shard by shard.
	shardSize int
}

// rig is a pipeline on an env, with its fault injectors.
type rig struct {
	t       *testing.T
	env     *env
	site    *site
	tf      *targets.File
	ids     []string
	p       *local.Pipeline
	counted *countingStore
	dice    *dice
	f       faults
	calm    atomic.Bool // faults off (for the replay)
	nFaults atomic.Int64
	replans int
	// planAttempt is the attempt of the tick being planned.
	planAttempt atomic.Int64

	wm, rm *local.Mapping
	pm     *local.Mapping // the planner's, over the shard events (sharded rigs)
	runs   []string       // run IDs, oldest scheduled first
	label  string

	mu       sync.Mutex
	attempts map[string]int // fetches per run/target
}

var rigSeq atomic.Int64

func newRig(t *testing.T, e *env, o rigOpts) *rig {
	t.Helper()
	if o.batch == 0 {
		o.batch = 10
	}
	if o.concurrency == 0 {
		o.concurrency = 3
	}
	if o.timeout == 0 {
		o.timeout = e.vis // as Lambda requires: timeout ≤ visibility timeout
	}
	if o.hostConc == 0 {
		o.hostConc = 16
	}
	r := &rig{t: t, env: e, f: o.faults, dice: newDice(o.seed), attempts: map[string]int{},
		label: fmt.Sprintf("%s#%d", t.Name(), rigSeq.Add(1))}
	r.site = newSite(t, o.latency)
	r.ids = targetIDs(o.n)
	file := targetsYAML(r.site.URL, r.ids)
	if o.shardSize > 0 {
		file = targetsYAML(r.site.URL, nil) + " []\n" // every target in the stored list
	}
	tf, err := targets.Parse("targets.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	r.tf = tf
	r.counted = &countingStore{Store: e.store}
	var st store.Store = r.counted
	if o.faults.putBefore > 0 || o.faults.putAfter > 0 {
		st = &faultStore{Store: st, r: r}
	}
	jobs, results := e.jobs, e.results
	if o.faults.sendPartial > 0 || o.faults.dupSend > 0 {
		jobs = &faultQueue{Queue: jobs, r: r, dup: o.faults.dupSend, partial: o.faults.sendPartial, planner: true}
		results = &faultQueue{Queue: results, r: r, partial: o.faults.sendPartial}
	}
	fetch := crawl.New(crawl.Options{AllowPrivate: true, Timeout: 3 * time.Second, HostConcurrency: o.hostConc})
	r.p = &local.Pipeline{
		Targets: tf, TargetsQueue: jobs, TargetsDLQ: e.jobsDLQ, Results: results, ResultsDLQ: e.resultsDLQ, Store: st,
		Fetcher: &faultFetcher{inner: fetch, r: r}, PollWait: e.pollWait,
		RetryDelay: func(int, time.Duration) time.Duration { return 0 },
	}
	if o.shardSize > 0 {
		list := importList(t, e, r.site.URL, r.ids, o.shardSize)
		r.p.Ticks, r.p.TargetList = &shardEvents{Queue: e.ticks, r: r}, &faultList{TargetList: list, r: r}
		r.pm = &local.Mapping{Function: "planner", Queue: e.ticks, Handler: r.shardHandler,
			BatchSize: 1, MaxConcurrency: 2, Timeout: 10 * time.Second, PollWait: e.pollWait}
	}
	r.wm = &local.Mapping{Function: "worker", Queue: e.jobs, Handler: r.workerHandler(r.p.Worker().Handle),
		BatchSize: o.batch, MaxConcurrency: o.concurrency, Timeout: o.timeout, PollWait: e.pollWait}
	r.rm = &local.Mapping{Function: "results", Queue: e.results, Handler: r.p.ResultsHandler().Handle,
		BatchSize: 10, MaxConcurrency: o.concurrency, Timeout: 10 * time.Second, PollWait: e.pollWait}
	return r
}

func (r *rig) inject(p float64) bool {
	if r.calm.Load() || !r.dice.roll(p) {
		return false
	}
	r.nFaults.Add(1)
	return true
}

// workerHandler wraps the worker core with the handler-level faults.
func (r *rig) workerHandler(h local.SQSHandler) local.SQSHandler {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		panicking, overrun := r.inject(r.f.handlerPanic), r.inject(r.f.overrun)
		resp, err := h(ctx, ev)
		if panicking {
			panic("injected: worker handler panics after crawling its batch")
		}
		if overrun {
			<-ctx.Done() // past the function timeout: Lambda discards the response
			time.Sleep(20 * time.Millisecond)
		}
		return resp, err
	}
}

// firstAttempt counts a fetch of j and reports whether it is its first.
// importList puts the targets in the env's store as a stored list, laid out
// in shards of at most size.
func importList(t *testing.T, e *env, base string, ids []string, size int) store.TargetList {
	t.Helper()
	list, ok := e.store.(store.TargetList)
	if !ok {
		t.Fatalf("the %s store holds no target list", e.kind)
	}
	entries := make([]targets.Entry, len(ids))
	for i, id := range ids {
		entries[i] = targets.Entry{ID: id, URL: base + "/p/" + id, Schedule: "tick",
			Rules: map[string]job.Rule{"title": {CSS: "title"}}}
	}
	if err := list.ApplyTargets(context.Background(), targets.PlanList(nil, nil, entries, targets.WithShardSize(size)), nil); err != nil {
		t.Fatal(err)
	}
	return list
}

// shardHandler is the planner's handler for the shard events: each failed
// one comes back after the visibility timeout, as Lambda retries an
// asynchronous invocation.
func (r *rig) shardHandler(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, rec := range ev.Records {
		if _, err := r.p.Planner().HandleEvent(ctx, json.RawMessage(rec.Body)); err != nil {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		}
	}
	return resp, nil
}

// shardEvents is the planner's sender of shard events: some are sent twice.
type shardEvents struct {
	queue.Queue
	r *rig
}

func (s *shardEvents) SendBatch(ctx context.Context, msgs []queue.Outgoing) error {
	if err := s.Queue.SendBatch(ctx, msgs); err != nil {
		return err
	}
	var again []queue.Outgoing
	for _, m := range msgs {
		if s.r.inject(s.r.f.shardDup) {
			again = append(again, m)
		}
	}
	if len(again) == 0 {
		return nil
	}
	return s.Queue.SendBatch(ctx, again)
}

// faultList is the stored list as a shard's invocation sees it: some die
// before reading their targets, some after recording their part and before
// sending a job.
type faultList struct {
	store.TargetList
	r *rig
}

func (f *faultList) ShardTargets(ctx context.Context, sh targets.Shard) ([]targets.Stored, error) {
	if f.r.inject(f.r.f.shardCrash / 2) {
		return nil, errors.New("injected: the shard's invocation died before reading its targets")
	}
	return f.TargetList.ShardTargets(ctx, sh)
}

func (f *faultList) PutPlanPart(ctx context.Context, p store.PlanPart) (bool, error) {
	created, err := f.TargetList.PutPlanPart(ctx, p)
	if err == nil && f.r.inject(f.r.f.shardCrash/2) {
		return false, errors.New("injected: the shard's invocation died after recording its part")
	}
	return created, err
}

func (r *rig) firstAttempt(j job.Job) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := j.RunID + "/" + j.TargetID
	r.attempts[k]++
	return r.attempts[k] == 1
}

// faultFetcher injects panics and stalls into first attempts.
type faultFetcher struct {
	inner worker.Fetcher
	r     *rig
}

func (f *faultFetcher) Fetch(ctx context.Context, j job.Job) (crawl.Page, error) {
	if f.r.firstAttempt(j) {
		if f.r.inject(f.r.f.fetchPanic) {
			panic(fmt.Sprintf("injected: crawl of %s panics", j.TargetID))
		}
		if f.r.inject(f.r.f.fetchStall) {
			<-ctx.Done() // the invocation's deadline cancels the crawl
			return crawl.Page{}, ctx.Err()
		}
	}
	return f.inner.Fetch(ctx, j)
}

// countingStore counts the duplicate puts the store absorbed.
type countingStore struct {
	store.Store
	puts, dups atomic.Int64
}

func (c *countingStore) PutResult(ctx context.Context, res job.Result) (store.Outcome, error) {
	out, err := c.Store.PutResult(ctx, res)
	if err == nil {
		c.puts.Add(1)
		if out.Duplicate {
			c.dups.Add(1)
		}
	}
	return out, err
}

// faultStore fails PutResult before or after the write.
type faultStore struct {
	store.Store
	r *rig
}

func (f *faultStore) PutResult(ctx context.Context, res job.Result) (store.Outcome, error) {
	if f.r.inject(f.r.f.putBefore) {
		return store.Outcome{}, fmt.Errorf("injected: store unavailable")
	}
	out, err := f.Store.PutResult(ctx, res)
	if err == nil && f.r.inject(f.r.f.putAfter) {
		return store.Outcome{}, fmt.Errorf("injected: response lost after the write")
	}
	return out, err
}

// faultQueue sends some entries of a batch and reports the others failed
// (a *queue.BatchError), or sends a batch three times at once.
type faultQueue struct {
	queue.Queue
	r       *rig
	partial float64
	dup     float64
	// planner: the planner's queue, whose partial failures hit only the
	// first attempt of a tick (a tick's retry re-sends all its jobs, so
	// failures on every attempt would almost never let a large tick through).
	planner bool
}

func (f *faultQueue) SendBatch(ctx context.Context, msgs []queue.Outgoing) error {
	partial := f.partial
	if f.planner && f.r.planAttempt.Load() > 1 {
		partial = 0 // the retry of a tick goes through
	}
	if f.r.inject(f.dup) {
		errs := make([]error, 3)
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() { errs[i] = f.Queue.SendBatch(ctx, msgs) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}
	var send []queue.Outgoing
	var failed []queue.EntryError
	for _, m := range msgs {
		if f.r.inject(partial) {
			failed = append(failed, queue.EntryError{ID: m.ID, Err: fmt.Errorf("injected: InternalError")})
			continue
		}
		send = append(send, m)
	}
	if len(failed) == 0 {
		return f.Queue.SendBatch(ctx, msgs)
	}
	if len(send) > 0 {
		if err := f.Queue.SendBatch(ctx, send); err != nil {
			return err
		}
	}
	return fmt.Errorf("send batch to %s: %w", f.Name(), &queue.BatchError{Failed: failed})
}

// plan fires a tick of "tick" at at. A failed plan is retried with the same
// tick, as Lambda's asynchronous invocation and EventBridge Scheduler retry
// the planner (the run ID is the same, so that is safe).
func (r *rig) plan(ctx context.Context, at time.Time) string {
	r.t.Helper()
	for attempt := 1; ; attempt++ {
		var resp planner.Response
		var err error
		r.planAttempt.Store(int64(attempt))
		pprof.Do(ctx, pprof.Labels("rig", r.label), func(ctx context.Context) {
			resp, err = r.p.Planner().Handle(ctx, local.NewTick("tick", at))
		})
		if err == nil {
			if !slices.Contains(r.runs, resp.RunID) {
				r.runs = append(r.runs, resp.RunID)
			}
			return resp.RunID
		}
		if attempt == 20 {
			r.t.Fatalf("plan %s: %v", at, err)
		}
		r.replans++
		time.Sleep(20 * time.Millisecond)
	}
}

// start runs the mappings (labelled, so their goroutines can be counted)
// until the returned stop is called.
func (r *rig) start() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	pprof.Do(ctx, pprof.Labels("rig", r.label), func(ctx context.Context) {
		wg.Go(func() { _ = r.wm.Run(ctx) })
		wg.Go(func() { _ = r.rm.Run(ctx) })
		if r.pm != nil {
			wg.Go(func() { _ = r.pm.Run(ctx) })
		}
	})
	return func() { cancel(); wg.Wait() }
}

func (r *rig) waitDrained(limit time.Duration) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	if err := r.p.WaitDrained(ctx, nil, nil); err != nil {
		pr, _ := r.p.Snapshot(context.Background(), r.runs)
		r.t.Fatalf("the pipeline did not drain within %s: %v (%+v)", limit, err, pr)
	}
}

// ---------------------------------------------------------------------------
// The invariants.

// tally is the state of the system after it drained.
type tally struct {
	planned, stored, ok, deadPairs, poison, deadAttempts, both, lost int
	dead                                                             map[string]int // run/target -> dead letters
}

// check verifies conservation and no double counting, and returns the
// tally. Results of the given runs only.
func (r *rig) check() tally {
	t := r.t
	t.Helper()
	ctx := context.Background()
	if r.env.paused != nil {
		r.env.paused.Store(true) // the checks read through the same clients
	}
	tl := tally{dead: map[string]int{}}
	planned := map[string]bool{}
	stored := map[string]bool{}
	at := map[string]time.Time{}
	for _, id := range r.runs {
		run, err := r.env.store.Run(ctx, id)
		if err != nil {
			t.Fatalf("run %s: %v", id, err)
		}
		at[id] = run.ScheduledAt
		if run.Planned != len(r.ids) {
			t.Errorf("run %s planned %d, want %d", id, run.Planned, len(r.ids))
		}
		if run.PlannedShards != run.Shards || (r.pm != nil && run.Shards == 0) {
			t.Errorf("run %s recorded %d of its %d shards' parts", id, run.PlannedShards, run.Shards)
		}
		for _, tg := range r.ids {
			planned[id+"/"+tg] = true
		}
		res, err := r.env.store.RunResults(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		ok := 0
		for _, x := range res {
			k := x.RunID + "/" + x.TargetID
			if stored[k] {
				t.Errorf("double counting: %s stored twice", k)
			}
			if !planned[k] {
				t.Errorf("result %s was never planned", k)
			}
			stored[k] = true
			if x.Status == job.StatusOK {
				ok++
			}
		}
		tl.ok += ok
		// No double counting: the counters are the stored results.
		if run.Succeeded != ok || run.Done() != len(res) {
			t.Errorf("double counting: run %s counts ok %d failed %d, but %d results (%d ok) are stored",
				id, run.Succeeded, run.Failed, len(res), ok)
		}
	}
	tl.planned, tl.stored = len(planned), len(stored)

	// Latest per target is the newest run's that has a result for it.
	if len(r.runs) > 0 {
		latest, err := r.env.store.Latest(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, x := range latest {
			got[x.TargetID] = x.RunID
		}
		for _, tg := range r.ids {
			want := ""
			for _, id := range r.runs {
				if stored[id+"/"+tg] && (want == "" || at[id].After(at[want])) {
					want = id
				}
			}
			if got[tg] != want {
				t.Errorf("latest of %s is run %q, want the newest run with a result, %q", tg, got[tg], want)
			}
		}
	}

	// Dead letters, by (run, target).
	for _, q := range []queue.Queue{r.env.jobsDLQ, r.env.resultsDLQ} {
		for _, l := range r.letters(q) {
			k := l.RunID + "/" + l.TargetID
			switch {
			case l.LastError != nil && l.LastError.Source == dlq.SourceAttributes && l.LastError.Kind == "bad_message":
				tl.poison++ // dead-lettered by a handler: it never decoded
			case l.Attributes[job.AttrType] == job.TypeAttempt:
				tl.deadAttempts++
			case planned[k]:
				tl.dead[k]++
			default:
				tl.poison++
			}
		}
	}
	tl.deadPairs = len(tl.dead)
	for k := range planned {
		_, d := tl.dead[k]
		switch {
		case stored[k] && d:
			tl.both++
		case !stored[k] && !d:
			tl.lost++
			t.Errorf("lost: %s is neither a stored result nor a dead letter", k)
		}
	}
	// Boundedness: nothing left in the queues, nothing in flight anywhere.
	for _, q := range []queue.Queue{r.env.jobs, r.env.results} {
		if d := depth(t, q); d.Total() != 0 {
			t.Errorf("%s still holds %+v after draining", q.Name(), d)
		}
	}
	return tl
}

// letters lists a DLQ (and leaves its messages visible).
func (r *rig) letters(q queue.Queue) []dlq.Letter {
	r.t.Helper()
	ls, err := dlq.List(context.Background(), q, dlq.Options{Wait: r.env.listWait, Visibility: 5 * time.Second})
	if err != nil {
		r.t.Fatalf("list %s: %v", q.Name(), err)
	}
	return ls
}

func depth(t *testing.T, q queue.Queue) queue.Depth {
	t.Helper()
	d, err := q.Depth(context.Background())
	if err != nil {
		t.Fatalf("depth of %s: %v", q.Name(), err)
	}
	return d
}

// replay turns off the faults and the site's outages, replays both DLQs
// and drains again: what was dead-lettered becomes a result (poison
// messages go back to the DLQ).
func (r *rig) replay(limit time.Duration) dlq.Summary {
	r.t.Helper()
	r.calm.Store(true)
	r.site.heal()
	var total dlq.Summary
	// The pipeline is stopped while the DLQs are replayed: a poison message
	// that the worker dead-letters again while a replay scans its DLQ is
	// received by that same scan and replayed again, without end (see
	// docs/reliability.md, "Findings").
	for _, pair := range [][2]queue.Queue{{r.env.jobsDLQ, r.env.jobs}, {r.env.resultsDLQ, r.env.results}} {
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		sum, err := dlq.Replay(ctx, pair[0], pair[1], dlq.ReplayOptions{
			Options: dlq.Options{Wait: r.env.listWait, Visibility: 5 * time.Second}})
		cancel()
		if err != nil || sum.Failed > 0 {
			r.t.Fatalf("replay %s: %+v: %v%s", pair[0].Name(), sum, err, r.env.serverLogs())
		}
		total.Moved += sum.Moved
		total.Failed += sum.Failed
	}
	stop := r.start()
	defer stop()
	r.waitDrained(limit)
	return total
}

// settle checks boundedness once the pipeline is stopped: the rig's
// goroutines end, and no message of any queue stays in flight once the
// visibility timeout has passed.
func (r *rig) settle() {
	t := r.t
	t.Helper()
	r.site.CloseClientConnections()
	r.env.closeIdle()
	deadline := time.Now().Add(10 * time.Second)
	n := 0
	for {
		n = labelled(r.label)
		if n == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
		r.site.CloseClientConnections()
		r.env.closeIdle()
	}
	if n != 0 {
		var b bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
		t.Errorf("%d goroutines of the pipeline still running after it stopped:\n%s", n, b.String())
	}
	for _, q := range []queue.Queue{r.env.jobs, r.env.jobsDLQ, r.env.results, r.env.resultsDLQ} {
		if d := depth(t, q); d.InFlight != 0 {
			t.Errorf("%s: %d messages in flight after everything stopped", q.Name(), d.InFlight)
		}
	}
}

var labelsLine = regexp.MustCompile(`^# labels: (\{.*\})$`)

// labelled counts the goroutines that carry the label rig=label.
func labelled(label string) int {
	var b bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
	n := 0
	count := 0
	for line := range strings.Lines(b.String()) {
		line = strings.TrimRight(line, "\n")
		if c, rest, ok := strings.Cut(line, " @ "); ok && rest != "" {
			count, _ = strconv.Atoi(c)
			continue
		}
		if m := labelsLine.FindStringSubmatch(line); m != nil {
			var labels map[string]string
			if json.Unmarshal([]byte(m[1]), &labels) == nil && labels["rig"] == label {
				n += count
			}
		}
	}
	return n
}

// faults is how many faults were injected, by the rig and the API wrappers.
func (r *rig) faults() int {
	n := r.nFaults.Load()
	for _, c := range r.env.injected {
		n += c.Load()
	}
	return int(n)
}

// row makes the figures of a scenario from its tallies before and after
// the replay.
func (r *rig) row(class string, before, after tally, sum dlq.Summary, took time.Duration, heap, rss uint64, note string) reliability.Row {
	return reliability.Row{
		Class: class, Backend: r.env.kind, Planned: before.planned, Stored: after.stored,
		DeadLettered: before.deadPairs + before.poison, Replayed: after.stored - before.stored, Poison: before.poison,
		Duplicates: int(r.counted.dups.Load()), Faults: r.faults(), Lost: after.lost,
		PeakHeap: heap, PeakRSS: rss, Took: took, Note: note,
	}
}
