package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/cronless/cronless/reliability"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/queue/sqsq"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo"
)

// sizes are the scenario sizes of a mode.
type sizes struct {
	targets        int // targets of a fault scenario on the local backend
	standinTargets int // … on the stand-ins
	load           int // targets of the load scenario
	queueLoad      int // messages of the queue drain
	kills          int // SIGKILLs per CLI scenario
}

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// scenario is one fault class.
type scenario struct {
	class string
	// quick: part of the quick version (else only with -tags reliability).
	quick    bool
	backends []string // default: both
	env      envOpts
	rig      rigOpts
	// failing targets answer 500 until the replay: they end in the DLQ.
	failing int
	// body plans and drains (default: two ticks at once).
	body func(t *testing.T, r *rig) string
	note string
}

func (sc scenario) run(t *testing.T, kind string) {
	e := newEnv(t, kind, sc.env)
	ro := sc.rig
	ro.n = max(size.targets, sc.rig.n)
	if kind == backendStandins {
		ro.n = max(size.standinTargets, sc.rig.n)
	}
	ro.seed = seed(t)
	r := newRig(t, e, ro)
	r.site.fail(r.ids[:min(sc.failing, len(r.ids))]...)
	sampler := reliability.StartSampler(20 * time.Millisecond)
	start := time.Now()
	note := sc.note
	if sc.body != nil {
		if n := sc.body(t, r); n != "" {
			note = strings.TrimSpace(note + " " + n)
		}
	} else {
		stop := r.start()
		r.plan(context.Background(), t0)
		r.plan(context.Background(), t0.Add(time.Hour))
		r.waitDrained(2 * time.Minute)
		stop()
	}
	before := r.check()
	sum := r.replay(2 * time.Minute)
	after := r.check()
	took := time.Since(start)
	heap, rss := sampler.Stop()
	r.settle()
	if after.stored != after.planned || after.deadPairs != 0 {
		t.Errorf("after the replay: %d of %d planned pairs stored, %d still dead-lettered; want all stored",
			after.stored, after.planned, after.deadPairs)
	}
	if before.both > 0 {
		note = strings.TrimSpace(fmt.Sprintf("%s %d pairs were both stored and dead-lettered (a retry after the result was sent); the replay's duplicate was absorbed.", note, before.both))
	}
	if r.replans > 0 {
		note = strings.TrimSpace(fmt.Sprintf("%s planner retried %d× (same run ID).", note, r.replans))
	}
	t.Logf("%s on %s: planned %d, stored %d (+%d after replaying %d), dead %d pairs + %d poison + %d attempts, duplicates %d, faults %d, lost %d, %.1fs",
		sc.class, kind, before.planned, before.stored, after.stored-before.stored, sum.Moved, before.deadPairs, before.poison,
		before.deadAttempts, r.counted.dups.Load(), r.faults(), after.lost, took.Seconds())
	figures.Add(r.row(sc.class, before, after, sum, took, heap, rss, note))
}

func TestFaultClasses(t *testing.T) {
	quickParallel(t)
	scenarios := []scenario{
		{class: "1a worker panics mid-batch", quick: true, failing: 1,
			rig:  rigOpts{faults: faults{fetchPanic: 0.15, handlerPanic: 0.15}},
			note: "a crawl panics in its goroutine (first attempts, 15%), or the handler panics after sending its batch's results (15% of invocations)."},
		{class: "1b worker exceeds its deadline", quick: true, failing: 1,
			rig:  rigOpts{timeout: 500 * time.Millisecond, faults: faults{fetchStall: 0.1, overrun: 0.15}},
			note: "Mapping.Timeout 0.5s: a crawl blocks until the deadline cancels it (10% of first attempts), or the handler returns after it (15%)."},
		{class: "2a results writer errors", quick: true, failing: 1,
			rig:  rigOpts{faults: faults{putBefore: 0.15, putAfter: 0.15}},
			note: "PutResult fails before writing (15%) or after writing (15%, the response lost)."},
		{class: "2b DynamoDB throttling", backends: []string{backendStandins}, quick: false,
			env:  envOpts{maxReceives: 5, wrapDDB: func(a dynamo.API) dynamo.API { return &throttleDDB{API: a, p: 0.03} }},
			note: "3% of GetItem/PutItem/UpdateItem/Query calls answer ProvisionedThroughputExceededException (dynalite never throttles)."},
		{class: "3 SendMessageBatch partially fails", quick: true, failing: 1,
			rig:  rigOpts{faults: faults{sendPartial: 0.15}},
			note: "15% of the entries of the worker's batches, and of the planner's first attempt at a tick, fail (*queue.BatchError); the others are sent. The planner is retried with the same tick, as Lambda does."},
		{class: "3b SQS batch entries fail (adapter retries)", backends: []string{backendStandins}, quick: false,
			env:  envOpts{wrapSQS: func(a sqsq.API) sqsq.API { return &partialSQS{API: a, p: 0.3} }},
			note: "30% of SendMessageBatch entries come back Failed (SenderFault false) from the SQS API; sqsq retries them."},
		{class: "4a same message delivered 3× concurrently", quick: true,
			rig:  rigOpts{batch: 3, concurrency: 4, faults: faults{dupSend: 1}},
			note: "every batch of jobs is sent 3 times at once; batches of 3, 4 invocations at once."},
		{class: "4b older run's results after the newer's", quick: true, body: olderAfterNewer,
			note: "run t1 drained first, then run t0 (different content): latest stays t1's, t1's changed flag is recomputed against t0."},
		{class: "5 poison messages", quick: true, body: poison},
		{class: "9 sharded planning: shard events repeated, invocations dying mid-shard", quick: true, failing: 1,
			rig:  rigOpts{n: 100, shardSize: 12, faults: faults{shardDup: 0.3, shardCrash: 0.3, dupSend: 0.1}},
			note: "at least 100 targets in a stored list, in shards of at most 12 (the tick plans each shard's last count mod 10 targets itself, and the whole of a shard under 10); 30% of shard events sent twice, 30% of shard invocations die (half before reading their targets, half after recording their part and before sending a job) and are delivered again; 10% of job batches sent 3×. Each run's planned count is exactly its targets, every shard's part recorded once."},
		{class: "random: all faults at once", quick: true, failing: 1,
			env: envOpts{maxReceives: 4},
			rig: rigOpts{faults: faults{fetchPanic: 0.05, fetchStall: 0.03, handlerPanic: 0.05, overrun: 0.03,
				putBefore: 0.05, putAfter: 0.05, sendPartial: 0.05, dupSend: 0.1}},
			note: "every injector of classes 1-4 at once at lower rates, seeded."},
	}
	for _, kind := range backends() {
		t.Run(kind, func(t *testing.T) {
			for _, sc := range scenarios {
				if len(sc.backends) > 0 && !contains(sc.backends, kind) {
					continue
				}
				// The quick version runs the stand-ins only for the random mix.
				if !full && (!sc.quick || kind == backendStandins && !strings.HasPrefix(sc.class, "random")) {
					continue
				}
				t.Run(strings.ReplaceAll(sc.class, " ", "_"), func(t *testing.T) { sc.run(t, kind) })
			}
		})
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// olderAfterNewer drains the newer run first, then the older one with
// other content.
func olderAfterNewer(t *testing.T, r *rig) string {
	ctx := context.Background()
	stop := r.start()
	defer stop()
	newer := r.plan(ctx, t0.Add(time.Hour))
	r.waitDrained(time.Minute)
	r.site.version.Add(1)
	older := r.plan(ctx, t0)
	r.waitDrained(time.Minute)
	// The runs in scheduled order (r.runs is in planning order).
	r.runs = []string{older, newer}
	for _, tg := range r.ids {
		o, err1 := r.env.store.Result(ctx, tg, older)
		n, err2 := r.env.store.Result(ctx, tg, newer)
		if err1 != nil || err2 != nil {
			t.Fatalf("results of %s: %v, %v", tg, err1, err2)
		}
		if want := o.ContentHash != n.ContentHash; n.Changed != want {
			t.Errorf("%s: the newer result's changed = %v, want %v (recomputed against the late older result)", tg, n.Changed, want)
		}
		if o.Changed {
			t.Errorf("%s: the older (first) result is marked changed", tg)
		}
	}
	return ""
}

// poison sends malformed jobs and results among good ones, and a 2 MB
// job that must be refused at send.
func poison(t *testing.T, r *rig) string {
	ctx := context.Background()
	stop := r.start()
	defer stop()
	runID := r.plan(ctx, t0)
	good := job.Job{V: 1, RunID: runID, Schedule: "tick", TargetID: r.ids[0], URL: r.site.URL + "/p/" + r.ids[0], ScheduledAt: t0}
	body, err := job.Encode(good)
	if err != nil {
		t.Fatal(err)
	}
	wrongVersion := strings.Replace(body, `"v":1`, `"v":7`, 1)
	missing := strings.Replace(body, `"target_id":"`+r.ids[0]+`",`, "", 1)
	huge := strings.Replace(body, `"schedule":"tick"`, `"schedule":"`+strings.Repeat("x", 2<<20)+`"`, 1)
	poisonJobs := []queue.Outgoing{
		{ID: "notjson", Body: "this is not JSON {"},
		{ID: "version", Body: wrongVersion},
		{ID: "missing", Body: missing},
		{ID: "empty", Body: `{"v":1}`},
		{ID: "huge", Body: huge},
		// A good job in the same batch: a duplicate of target 0's, absorbed.
		{ID: "good", Body: body, Attributes: job.Attributes(runID, r.ids[0])},
	}
	err = r.env.jobs.SendBatch(ctx, poisonJobs)
	failed, partial := queue.FailedIDs(err)
	if !partial || len(failed) != 1 || failed["huge"] == nil {
		t.Fatalf("send of a batch with a 2 MB job: %v; want only that entry refused", err)
	}
	var be *queue.BatchError
	_ = errors.As(err, &be)
	if !be.Failed[0].SenderFault || !strings.Contains(failed["huge"].Error(), "bytes") {
		t.Errorf("the 2 MB job's error %q (sender fault %v) does not say it is too large", failed["huge"], be.Failed[0].SenderFault)
	}
	poisonResults := []queue.Outgoing{
		{ID: "notjson", Body: "\x7fnot a result"},
		{ID: "status", Body: `{"v":1,"status":"ok"}`},
		{ID: "attempt", Body: `{"v":1}`, Attributes: map[string]string{job.AttrType: job.TypeAttempt}},
	}
	if err := r.env.results.SendBatch(ctx, poisonResults); err != nil {
		t.Fatal(err)
	}
	r.waitDrained(time.Minute)
	// Every poison message is in a DLQ, explained.
	jl, rl := r.letters(r.env.jobsDLQ), r.letters(r.env.resultsDLQ)
	if len(jl) != 4 || len(rl) != 3 {
		t.Errorf("DLQs hold %d jobs and %d results, want the 4 malformed jobs and 3 malformed results", len(jl), len(rl))
	}
	for _, l := range append(jl, rl...) {
		if l.LastError == nil || l.LastError.Kind != "bad_message" {
			t.Errorf("dead letter %.40q is not explained as a bad message: %+v", l.Body, l.LastError)
		}
	}
	return fmt.Sprintf("4 malformed jobs (not JSON, v:7, no target_id, {\"v\":1}) and 3 malformed results among good ones; the 2 MB job was refused at send: %q.", failed["huge"])
}

// throttleDDB answers a fraction of DynamoDB calls with a throttling error.
type throttleDDB struct {
	dynamo.API
	paused *atomic.Bool
	p      float64
	n      atomic.Int64
	d      *dice
	o      sync.Once
}

func (t *throttleDDB) count() *atomic.Int64          { return &t.n }
func (t *throttleDDB) pauseWith(paused *atomic.Bool) { t.paused = paused }

func (t *throttleDDB) throttled() error {
	t.o.Do(func() { t.d = newDice(uint64(time.Now().UnixNano())) })
	if t.paused != nil && t.paused.Load() || !t.d.roll(t.p) {
		return nil
	}
	t.n.Add(1)
	return &ddbtypes.ProvisionedThroughputExceededException{Message: aws.String("injected: rate of requests exceeds the allowed throughput")}
}

func (t *throttleDDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if err := t.throttled(); err != nil {
		return nil, err
	}
	return t.API.GetItem(ctx, in, o...)
}

func (t *throttleDDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if err := t.throttled(); err != nil {
		return nil, err
	}
	return t.API.PutItem(ctx, in, o...)
}

func (t *throttleDDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if err := t.throttled(); err != nil {
		return nil, err
	}
	return t.API.UpdateItem(ctx, in, o...)
}

func (t *throttleDDB) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if err := t.throttled(); err != nil {
		return nil, err
	}
	return t.API.Query(ctx, in, o...)
}

// unprocessedDDB writes only part of each BatchWriteItem and returns the
// rest as UnprocessedItems, for the first `times` calls (forever when
// times < 0).
type unprocessedDDB struct {
	dynamo.API
	keep  int
	times int
	calls atomic.Int64
	left  atomic.Int64 // items returned unprocessed
}

func (u *unprocessedDDB) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	n := u.calls.Add(1)
	if u.times >= 0 && n > int64(u.times) {
		return u.API.BatchWriteItem(ctx, in, o...)
	}
	write := map[string][]ddbtypes.WriteRequest{}
	rest := map[string][]ddbtypes.WriteRequest{}
	for table, reqs := range in.RequestItems {
		k := min(u.keep, len(reqs))
		if k > 0 {
			write[table] = reqs[:k]
		}
		if len(reqs) > k {
			rest[table] = reqs[k:]
			u.left.Add(int64(len(reqs) - k))
		}
	}
	if len(write) > 0 {
		out, err := u.API.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: write}, o...)
		if err != nil {
			return nil, err
		}
		for table, reqs := range out.UnprocessedItems {
			rest[table] = append(rest[table], reqs...)
		}
	}
	return &dynamodb.BatchWriteItemOutput{UnprocessedItems: rest}, nil
}

// partialSQS fails a fraction of SendMessageBatch entries the way SQS
// does (Failed entries with SenderFault false) and sends the others.
type partialSQS struct {
	sqsq.API
	paused *atomic.Bool
	p      float64
	n      atomic.Int64
	d      *dice
	o      sync.Once
}

func (s *partialSQS) count() *atomic.Int64          { return &s.n }
func (s *partialSQS) pauseWith(paused *atomic.Bool) { s.paused = paused }

func (s *partialSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, o ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	s.o.Do(func() { s.d = newDice(uint64(time.Now().UnixNano())) })
	var send []sqstypes.SendMessageBatchRequestEntry
	var failed []sqstypes.BatchResultErrorEntry
	for _, e := range in.Entries {
		if (s.paused == nil || !s.paused.Load()) && s.d.roll(s.p) {
			s.n.Add(1)
			failed = append(failed, sqstypes.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"),
				Message: aws.String("injected"), SenderFault: false})
			continue
		}
		send = append(send, e)
	}
	out := &sqs.SendMessageBatchOutput{}
	if len(send) > 0 {
		cp := *in
		cp.Entries = send
		o2, err := s.API.SendMessageBatch(ctx, &cp, o...)
		if err != nil {
			return nil, err
		}
		out.Successful, out.Failed = o2.Successful, o2.Failed
	}
	out.Failed = append(out.Failed, failed...)
	return out, nil
}

// TestUnprocessedItems imports a history through BatchWriteItem while
// DynamoDB leaves items unprocessed: Import retries them until every
// item is written; when they never are, it names every item not written.
func TestUnprocessedItems(t *testing.T) {
	if !full {
		t.Skip("full version only (go test -tags reliability)")
	}
	start := time.Now()
	var wrap *unprocessedDDB
	e := newEnv(t, backendStandins, envOpts{wrapDDB: func(a dynamo.API) dynamo.API {
		wrap = &unprocessedDDB{API: a, keep: 7, times: 40}
		return wrap
	}})
	ctx := context.Background()
	st := e.store.(*dynamo.Store)
	ids := targetIDs(size.standinTargets)
	var runs []store.Run
	var results []job.Result
	for i := range 3 {
		at := t0.Add(time.Duration(i) * time.Hour)
		runID := job.RunID("tick", at)
		runs = append(runs, store.Run{ID: runID, Schedule: "tick", ScheduledAt: at, Planned: len(ids)})
		for _, id := range ids {
			results = append(results, job.Result{V: 1, RunID: runID, Schedule: "tick", TargetID: id, URL: "https://example.com/" + id,
				ScheduledAt: at, Status: job.StatusOK, HTTPStatus: 200, ContentHash: fmt.Sprintf("h%d", i%2), FetchedAt: at.Add(time.Second), Attempt: 1})
		}
	}
	if err := st.Import(ctx, runs, results); err != nil {
		t.Fatalf("import with unprocessed items: %v", err)
	}
	stored := 0
	for _, run := range runs {
		got, err := st.Run(ctx, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := st.RunResults(ctx, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Planned != len(ids) || got.Succeeded != len(ids) || len(rs) != len(ids) {
			t.Errorf("run %s: planned %d ok %d, %d results; want %d each", run.ID, got.Planned, got.Succeeded, len(rs), len(ids))
		}
		stored += len(rs)
	}
	latest, err := st.Latest(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range latest {
		if l.RunID != runs[2].ID {
			t.Errorf("latest of %s is %s, want %s", l.TargetID, l.RunID, runs[2].ID)
		}
	}
	// Never processed: a *dynamo.BatchError names what was not written.
	e2 := newEnv(t, backendStandins, envOpts{wrapDDB: func(a dynamo.API) dynamo.API { return &unprocessedDDB{API: a, keep: 0, times: -1} }})
	err = e2.store.(*dynamo.Store).Import(ctx, runs[:1], results[:len(ids)])
	var be *dynamo.BatchError
	if !errors.As(err, &be) || !errors.Is(err, dynamo.ErrUnprocessed) || len(be.Unwritten) != 2*len(ids)+1 {
		t.Errorf("import that is never processed: %v; want a BatchError naming all %d items", err, 2*len(ids)+1)
	}
	figures.Add(reliability.Row{Class: "2c BatchWriteItem UnprocessedItems", Backend: backendStandins, Planned: len(results), Stored: stored,
		Faults: int(wrap.left.Load()), Took: time.Since(start),
		Note: fmt.Sprintf("Import (dynamo) with 7 of each 25 items written for the first 40 calls (%d items returned unprocessed, retried with backoff); never processed: a BatchError names all %d items (run, results, latest).", wrap.left.Load(), 2*len(ids)+1)})
}
