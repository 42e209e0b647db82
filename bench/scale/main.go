// Command scale plans one tick of a large stored target list and reports
// what it took: `make bench-scale` runs it for 10,000, 100,000 and
// 1,000,000 targets on the local backend, and for 100,000 on the stand-ins
// (fauxqs and dynalite) for correctness.
//
//	go run ./bench/scale -targets N [-hosts H] [-standins]
//
// It writes a targets.yaml and a CSV list of N targets over H hosts,
// imports the list in a child process (so that the import's memory is not
// the planner's), then plans one tick in this process exactly as the
// planner function does: the tick's invocation, then one invocation per
// shard, at most -parallel at once. It checks that every job was enqueued
// once and the run recorded, and ends with the lines
//
//	planned in <seconds> s
//	peak RSS <n> MiB
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/bits"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/cronless/cronless/bench/benchtb"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/planner"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/queue/localq"
	"github.com/cronless/cronless/shared/queue/sqsq"
	"github.com/cronless/cronless/shared/sqlite"
	"github.com/cronless/cronless/shared/standin"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo"
	"github.com/cronless/cronless/shared/store/dynamo/dynamometer"
	"github.com/cronless/cronless/shared/store/localstore"
	"github.com/cronless/cronless/shared/targets"
)

type config struct {
	Targets   int
	Hosts     int
	Parallel  int
	ShardSize int
	Standins  bool
	Dir       string
	// Previous is how many earlier ticks stored a result of every target
	// (local only): the shards then read their validators.
	Previous int
	// The child's phase: import the list at List into the database at DB.
	Phase, DB, List, TargetsFile string
}

func main() {
	var c config
	flag.IntVar(&c.Targets, "targets", 10_000, "how many targets to plan")
	flag.IntVar(&c.Hosts, "hosts", 0, "over how many hosts (default: one per 100 targets)")
	flag.IntVar(&c.Parallel, "parallel", 2, "shards planned at once (the local planner mapping's concurrency)")
	flag.IntVar(&c.ShardSize, "shard-size", targets.ShardSize, "the most targets a shard holds")
	flag.BoolVar(&c.Standins, "standins", false, "plan on fauxqs and dynalite instead of the local backend")
	flag.IntVar(&c.Previous, "previous", 0, "earlier ticks with a result of every target, whose validators the shards read (local)")
	flag.StringVar(&c.Dir, "dir", "", "work directory (default: a new temporary one, removed at the end)")
	flag.StringVar(&c.Phase, "phase", "", "internal: import (the child process)")
	flag.StringVar(&c.DB, "db", "", "internal: the database the child imports into")
	flag.StringVar(&c.List, "list", "", "internal: the list the child imports")
	flag.StringVar(&c.TargetsFile, "targets-file", "", "internal: the targets.yaml the child validates with")
	flag.Parse()
	if c.Hosts <= 0 {
		c.Hosts = max(1, c.Targets/100)
	}
	var err error
	switch {
	case c.Phase == "import":
		err = importList(context.Background(), c)
	case c.Targets < 1 || c.Parallel < 1 || c.ShardSize < 1:
		err = errors.New("-targets, -parallel and -shard-size must be at least 1")
	case c.Standins:
		err = runStandins(context.Background(), c)
	default:
		err = runLocal(context.Background(), c)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

const schedule = "hourly"

var tickAt = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

// writeInputs writes targets.yaml and the CSV list of c.Targets targets
// into dir.
func writeInputs(dir string, c config, extraYAML string) (tfPath, listPath string, err error) {
	tfPath, listPath = filepath.Join(dir, "targets.yaml"), filepath.Join(dir, "targets.csv")
	yaml := "schedules:\n  " + schedule + ": { expression: \"rate(1 hour)\" }\n" + extraYAML + "targets: []\n"
	if err := os.WriteFile(tfPath, []byte(yaml), 0o644); err != nil {
		return "", "", err
	}
	f, err := os.Create(listPath)
	if err != nil {
		return "", "", err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "id,url,schedule")
	for i := range c.Targets {
		fmt.Fprintf(w, "t-%07d,https://h%05d.example.com/p/%d,%s\n", i, i%c.Hosts, i, schedule)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return "", "", err
	}
	return tfPath, listPath, f.Close()
}

// importList is the child: it imports the list into the local store as
// `cronless targets import` does, and prints its time and peak RSS.
func importList(ctx context.Context, c config) error {
	t0 := time.Now()
	tf, err := targets.Load(c.TargetsFile)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(c.List)
	if err != nil {
		return err
	}
	entries, err := targets.ParseList(c.List, data, tf)
	if err != nil {
		return err
	}
	parsed := time.Since(t0)
	db, err := sqlite.Open(c.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := localstore.New(ctx, db)
	if err != nil {
		return err
	}
	ch := targets.PlanList(nil, nil, entries, targets.WithShardSize(c.ShardSize))
	if err := st.ApplyTargets(ctx, ch, nil); err != nil {
		return err
	}
	fmt.Printf("imported %d targets in %.1f s (parse %.1f s), peak RSS %d MiB\n",
		len(entries), time.Since(t0).Seconds(), parsed.Seconds(), peakRSSMiB())
	if c.Previous > 0 {
		t1 := time.Now()
		if err := storePrevious(ctx, st, entries, c.Previous); err != nil {
			return err
		}
		fmt.Printf("stored %d earlier ticks' results of every target in %.1f s\n", c.Previous, time.Since(t1).Seconds())
	}
	return nil
}

// storePrevious stores n earlier ticks (an hour apart before tickAt) with
// an ok result of every entry, carrying an ETag: validators the next tick's
// shards read and send.
func storePrevious(ctx context.Context, st *localstore.Store, entries []targets.Entry, n int) error {
	rules := job.RulesHash(nil)
	for k := n; k >= 1; k-- {
		at := tickAt.Add(-time.Duration(k) * time.Hour)
		runID := job.RunID(schedule, at)
		if _, err := st.PutRun(ctx, store.Run{ID: runID, Schedule: schedule, ScheduledAt: at, Planned: len(entries), CreatedAt: at}); err != nil {
			return err
		}
		batch := make([]job.Result, 0, 1000)
		for i, e := range entries {
			batch = append(batch, job.Result{V: job.Version, RunID: runID, Schedule: schedule, TargetID: e.ID, URL: e.URL,
				ScheduledAt: at, Status: job.StatusOK, HTTPStatus: 200, ContentHash: fmt.Sprintf("sha256:%064x", i),
				ETag: fmt.Sprintf(`"%d-%d"`, i, k), RulesHash: rules, FetchedAt: at.Add(time.Second), Attempt: 1})
			if len(batch) == cap(batch) || i == len(entries)-1 {
				if _, err := st.PutResults(ctx, batch); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
	}
	return nil
}

// countingSender counts the SendMessageBatch calls and messages of a queue,
// and remembers the largest body and which targets were sent, once or more:
// a bit each (the bench's IDs are t-<n>), so that the bookkeeping does not
// weigh on the planner's peak RSS.
type countingSender struct {
	inner    planner.Sender
	calls    atomic.Int64
	failures atomic.Int64
	mu       sync.Mutex
	largest  int
	once     []uint64 // bit n: t-<n> sent
	twice    []uint64 // bit n: t-<n> sent again
	strange  int      // IDs not of the bench
	previous int      // jobs sent with validators (a conditional request)
}

func newCountingSender(inner planner.Sender, n int) *countingSender {
	return &countingSender{inner: inner, once: make([]uint64, n/64+1), twice: make([]uint64, n/64+1)}
}

func (s *countingSender) mark(id string) {
	n, err := strconv.Atoi(strings.TrimPrefix(id, "t-"))
	if err != nil || n < 0 || n/64 >= len(s.once) {
		s.strange++
		return
	}
	w, b := n/64, uint64(1)<<(n%64)
	if s.once[w]&b != 0 {
		s.twice[w] |= b
	}
	s.once[w] |= b
}

// sent is how many targets were sent, and how many of them more than once.
func (s *countingSender) sent() (targets, duplicates int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.once {
		targets += bits.OnesCount64(s.once[i])
		duplicates += bits.OnesCount64(s.twice[i])
	}
	return targets + s.strange, duplicates
}

func (s *countingSender) SendBatch(ctx context.Context, msgs []queue.Outgoing) error {
	s.calls.Add(1)
	err := s.inner.SendBatch(ctx, msgs)
	bad, _ := queue.FailedIDs(err)
	if err != nil {
		s.failures.Add(1)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range msgs {
		s.largest = max(s.largest, len(m.Body))
		if strings.Contains(m.Body, `"previous":`) {
			s.previous++
		}
		if _, failed := bad[m.ID]; (err == nil || len(bad) > 0) && !failed {
			s.mark(m.Attributes[job.AttrTargetID])
		}
	}
	return err
}

// report is what one run measured.
type report struct {
	Targets, Hosts, Shards, Planned int
	Wall, Tick                      time.Duration
	ShardTimes                      []time.Duration
	SendCalls, SendFailures         int64
	Enqueued, Duplicates            int
	LargestBody                     int
	LargestItem                     int
	LargestItemWhat                 string
	RecordedPlanned, PlannedShards  int
	Reads                           string
	WithValidators                  int
}

func (r report) print() {
	slices.Sort(r.ShardTimes)
	var sum time.Duration
	for _, d := range r.ShardTimes {
		sum += d
	}
	mean, most := time.Duration(0), time.Duration(0)
	if n := len(r.ShardTimes); n > 0 {
		mean, most = sum/time.Duration(n), r.ShardTimes[n-1]
	}
	fmt.Printf("targets %d over %d hosts: %d shards\n", r.Targets, r.Hosts, r.Shards)
	fmt.Printf("tick %.2f s; per shard mean %.2f s, slowest %.2f s\n", r.Tick.Seconds(), mean.Seconds(), most.Seconds())
	fmt.Printf("SendMessageBatch calls %d (ceil(N/10) = %d; %d failed and retried)\n", r.SendCalls, (r.Targets+9)/10, r.SendFailures)
	fmt.Printf("jobs enqueued %d, duplicates %d; run recorded: planned %d, shards %d of %d\n",
		r.Enqueued, r.Duplicates, r.RecordedPlanned, r.PlannedShards, r.Shards)
	fmt.Printf("largest job %d B; largest item written %d B (%s)\n", r.LargestBody, r.LargestItem, r.LargestItemWhat)
	fmt.Printf("jobs with the validators of an earlier result: %d\n", r.WithValidators)
	if r.Reads != "" {
		fmt.Println(r.Reads)
	}
	fmt.Printf("planned in %.1f s\n", r.Wall.Seconds())
	fmt.Printf("peak RSS %d MiB\n", peakRSSMiB())
}

// maxShard is the longest a shard may take (issue 16: on the stand-ins,
// none over 10 s).
const maxShard = 10 * time.Second

// check says what is wrong with a run: a count off, a duplicate, a shard
// slower than maxShard, an item DynamoDB would refuse.
func (r report) check() error {
	var problems []string
	if r.Enqueued != r.Targets {
		problems = append(problems, fmt.Sprintf("%d jobs enqueued, want %d", r.Enqueued, r.Targets))
	}
	if r.Duplicates > 0 {
		problems = append(problems, fmt.Sprintf("%d targets sent twice", r.Duplicates))
	}
	if r.RecordedPlanned != r.Targets || r.PlannedShards != r.Shards {
		problems = append(problems, fmt.Sprintf("the run records %d planned in %d of %d shards, want %d", r.RecordedPlanned, r.PlannedShards, r.Shards, r.Targets))
	}
	if n := len(r.ShardTimes); n > 0 && slices.Max(r.ShardTimes) > maxShard {
		problems = append(problems, fmt.Sprintf("a shard took %s, over %s", slices.Max(r.ShardTimes).Round(time.Millisecond), maxShard))
	}
	if r.LargestItem > 400*1024 {
		problems = append(problems, fmt.Sprintf("an item of %d B, over DynamoDB's 400 KB", r.LargestItem))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// planTick plans the tick and then its shards, at most parallel at once,
// taking the shard events from shards (the ticks queue locally) as the
// planner's invocations would.
func planTick(ctx context.Context, p *planner.Planner, shards queue.Queue, parallel int, r *report) error {
	t0 := time.Now()
	resp, err := p.Handle(ctx, planner.Tick{Schedule: schedule, ScheduledTime: tickAt.Format(time.RFC3339)})
	if err != nil {
		return fmt.Errorf("plan the tick: %w", err)
	}
	r.Tick, r.Shards = time.Since(t0), resp.Shards
	var mu sync.Mutex
	var done atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for range parallel {
		g.Go(func() error {
			for done.Load() < int64(resp.Shards) {
				msgs, err := shards.Receive(gctx, queue.ReceiveOptions{Max: 1, Wait: 100 * time.Millisecond})
				if err != nil {
					return err
				}
				for _, m := range msgs {
					s0 := time.Now()
					if _, err := p.HandleEvent(gctx, json.RawMessage(m.Body)); err != nil {
						return fmt.Errorf("plan a shard: %w", err)
					}
					d := time.Since(s0)
					if err := shards.Delete(gctx, []string{m.ReceiptHandle}); err != nil {
						return err
					}
					mu.Lock()
					r.ShardTimes = append(r.ShardTimes, d)
					mu.Unlock()
					done.Add(1)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	r.Wall = time.Since(t0)
	return nil
}

func runLocal(ctx context.Context, c config) error {
	dir, cleanup, err := workDir(c)
	if err != nil {
		return err
	}
	defer cleanup()
	tfPath, listPath, err := writeInputs(dir, c, "")
	if err != nil {
		return err
	}
	dbPath := filepath.Join(dir, "local.db")
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.CommandContext(ctx, exe, "-phase", "import", "-db", dbPath, "-list", listPath, "-targets-file", tfPath,
		"-shard-size", strconv.Itoa(c.ShardSize), "-previous", strconv.Itoa(c.Previous))
	child.Stdout, child.Stderr = os.Stdout, os.Stderr
	if err := child.Run(); err != nil {
		return fmt.Errorf("import: %w", err)
	}

	db, err := sqlite.Open(dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := localstore.New(ctx, db)
	if err != nil {
		return err
	}
	qb, err := localq.New(db)
	if err != nil {
		return err
	}
	// The local backend's queues, as cmd/cronless names them, so that the
	// CLI reads the database afterwards (-dir; cronless runs show).
	for _, name := range []string{"cronless-targets-dlq", "cronless-results-dlq", "cronless-results"} {
		if _, err := qb.CreateQueue(ctx, name, localq.Config{}); err != nil {
			return err
		}
	}
	jobsQ, err := qb.CreateQueue(ctx, "cronless-targets", localq.Config{})
	if err != nil {
		return err
	}
	ticksQ, err := qb.CreateQueue(ctx, "cronless-ticks", localq.Config{VisibilityTimeout: time.Minute})
	if err != nil {
		return err
	}
	tf, err := targets.Load(tfPath)
	if err != nil {
		return err
	}
	jobs := newCountingSender(jobsQ, c.Targets)
	list := &measuringList{TargetList: st}
	p := planner.New(tf, jobs, st, planner.WithTargetList(list, ticksQ))
	r := report{Targets: c.Targets, Hosts: c.Hosts}
	runtime.GC()
	if err := planTick(ctx, p, ticksQ, c.Parallel, &r); err != nil {
		return err
	}
	if err := finish(ctx, st, jobs, &r); err != nil {
		return err
	}
	d, err := jobsQ.Depth(ctx)
	if err != nil {
		return err
	}
	if d.Total() != r.Enqueued {
		return fmt.Errorf("the targets queue holds %d, the sender counted %d", d.Total(), r.Enqueued)
	}
	r.LargestItem, r.LargestItemWhat = list.largest, "a plan part's target IDs, before gzip"
	r.print()
	return r.check()
}

// finish reads the run back and tallies the jobs sent.
func finish(ctx context.Context, st store.Store, jobs *countingSender, r *report) error {
	run, err := st.Run(ctx, job.RunID(schedule, tickAt))
	if err != nil {
		return fmt.Errorf("read the run: %w", err)
	}
	r.RecordedPlanned, r.PlannedShards, r.Planned = run.Planned, run.PlannedShards, run.Planned
	r.SendCalls, r.SendFailures, r.LargestBody, r.WithValidators = jobs.calls.Load(), jobs.failures.Load(), jobs.largest, jobs.previous
	r.Enqueued, r.Duplicates = jobs.sent()
	return nil
}

// measuringList is a target list that remembers the largest plan part it
// recorded: the largest list of target IDs a run's item holds.
type measuringList struct {
	planner.TargetList
	mu      sync.Mutex
	largest int
}

func (l *measuringList) PutPlanPart(ctx context.Context, part store.PlanPart) (bool, error) {
	n := 0
	for _, id := range part.Targets {
		n += len(id) + 1
	}
	l.mu.Lock()
	l.largest = max(l.largest, n)
	l.mu.Unlock()
	return l.TargetList.PutPlanPart(ctx, part)
}

func workDir(c config) (string, func(), error) {
	if c.Dir != "" {
		return c.Dir, func() {}, os.MkdirAll(c.Dir, 0o755)
	}
	d, err := os.MkdirTemp("", "cronless-scale-")
	return d, func() { os.RemoveAll(d) }, err
}

// peakRSSMiB is this process's peak resident set (VmHWM), in MiB.
func peakRSSMiB() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return kb / 1024
		}
	}
	return -1
}

// sizes is a DynamoDB client that remembers the largest item written.
type sizes struct {
	dynamo.API
	mu      sync.Mutex
	largest int
	what    string
}

func (s *sizes) saw(n int, what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > s.largest {
		s.largest, s.what = n, what
	}
}

func (s *sizes) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	s.saw(dynamometer.ItemSize(in.Item), "PutItem "+keyOf(in.Item))
	return s.API.PutItem(ctx, in, o...)
}

func (s *sizes) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	for _, reqs := range in.RequestItems {
		for _, r := range reqs {
			if r.PutRequest != nil {
				s.saw(dynamometer.ItemSize(r.PutRequest.Item), "BatchWriteItem "+keyOf(r.PutRequest.Item))
			}
		}
	}
	return s.API.BatchWriteItem(ctx, in, o...)
}

// UpdateItem: the item is at least its key and the values set.
func (s *sizes) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	n := dynamometer.ItemSize(in.Key)
	for _, v := range in.ExpressionAttributeValues {
		n += dynamometer.ValueSize(v)
	}
	s.saw(n, "UpdateItem "+keyOf(in.Key))
	return s.API.UpdateItem(ctx, in, o...)
}

func keyOf(it map[string]ddbtypes.AttributeValue) string {
	pk, _ := it[dynamo.AttrPK].(*ddbtypes.AttributeValueMemberS)
	sk, _ := it[dynamo.AttrSK].(*ddbtypes.AttributeValueMemberS)
	if pk == nil || sk == nil {
		return "?"
	}
	return pk.Value + " " + sk.Value
}

// runStandins plans on fauxqs and dynalite: the list imported into the
// table, the shard events on an SQS queue standing in for the planner's
// asynchronous invocations, the jobs on the targets queue. It checks the
// counts and item sizes, and meters the planner's reads.
func runStandins(ctx context.Context, c config) error {
	tb := benchtb.New()
	defer tb.Close()
	var stopped string
	var err error
	benchtb.Section(tb, &stopped, func() { err = standins(ctx, tb, c) })
	if stopped != "" {
		return errors.New(stopped)
	}
	return err
}

func standins(ctx context.Context, tb *benchtb.TB, c config) error {
	dir, cleanup, err := workDir(c)
	if err != nil {
		return err
	}
	defer cleanup()
	tfPath, listPath, err := writeInputs(dir, c, "")
	if err != nil {
		return err
	}
	fq, dl := standin.Fauxqs(tb), standin.Dynalite(tb, "")
	sqsClient, ddb := fq.SQS(tb), dl.DynamoDB(tb)
	const table = "cronless-scale"
	if err := dynamo.CreateTable(ctx, ddb, table); err != nil {
		return err
	}
	tf, err := targets.Load(tfPath)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(listPath)
	if err != nil {
		return err
	}
	entries, err := targets.ParseList(listPath, data, tf)
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := dynamo.New(ddb, table).ApplyTargets(ctx, targets.PlanList(nil, nil, entries, targets.WithShardSize(c.ShardSize)), nil); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	fmt.Printf("imported %d targets into dynalite in %.1f s\n", len(entries), time.Since(t0).Seconds())
	entries = nil

	mkQueue := func(name string) (*sqsq.Queue, error) {
		out, err := sqsClient.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
		if err != nil {
			return nil, err
		}
		return sqsq.New(sqsClient, *out.QueueUrl), nil
	}
	jobsQ, err := mkQueue("cronless-scale-targets")
	if err != nil {
		return err
	}
	shardsQ, err := mkQueue("cronless-scale-shards")
	if err != nil {
		return err
	}
	sz := &sizes{API: ddb}
	meter := dynamometer.New(sz, []*dynamodb.CreateTableInput{dynamo.TableInput(table)})
	st := dynamo.New(meter, table)
	jobs := newCountingSender(jobsQ, c.Targets)
	p := planner.New(tf, jobs, st, planner.WithTargetList(st, shardsQ))
	r := report{Targets: c.Targets, Hosts: c.Hosts}
	if err := planTick(ctx, p, shardsQ, c.Parallel, &r); err != nil {
		return err
	}
	reads := meter.Total().Read
	if err := finish(ctx, st, jobs, &r); err != nil {
		return err
	}
	d, err := jobsQ.Depth(ctx)
	if err != nil {
		return err
	}
	if d.Total() != r.Enqueued {
		return fmt.Errorf("the targets queue holds %d, the sender counted %d", d.Total(), r.Enqueued)
	}
	r.LargestItem, r.LargestItemWhat = sz.largest, sz.what
	r.Reads = fmt.Sprintf("planner reads %.0f RRU: %.4f a target", reads, reads/float64(c.Targets))
	r.print()
	return r.check()
}
