// Package cost estimates the monthly AWS bill of a cronless deployment: what
// `cronless cost` prints. It is pure arithmetic over the schedules (targets
// and ticks a month), the deployment's parameters (serverless.yml's
// params.default) and one table of list prices (prices.go).
//
// Every assumption, with the constants below:
//
//   - A month is 30 days (43,200 minutes); a schedule's ticks are counted by
//     evaluating its expression in its time zone over June 2026 (30 days, no
//     daylight-saving change in either hemisphere). at() schedules fire at most once
//     and so usually count 0. Hourly prices use AWS's 730 hours a month.
//   - Functions run on arm64 (serverless.yml). GB-seconds are memory/1024 ×
//     seconds. Duration per invocation:
//     planner: PlannerBase + ceil(batches/PlannerParallelism) × SendBatchLatency,
//     where batches = ceil(targets/10) SendMessageBatch calls;
//     worker: ceil(records/crawlConcurrency) × page duration + WorkerOverhead
//     (crawls in a batch run crawlConcurrency at once; the overhead sends
//     the results);
//     results: ResultsOverhead + ceil(records/ResultsConcurrency) × ResultStore.
//   - Batches are full: a tick's n jobs make floor(n/B) worker invocations of B
//     records plus one of the remainder, and its n results the same with the
//     results batch size. Real batches can be smaller (pollers split a queue),
//     which adds requests and INIT time but barely changes GB-seconds.
//   - INIT is billed (provided.al2023 always was; managed runtimes since
//     August 2025): InitDuration per cold start at the function's memory. A
//     tick that follows more than IdleGap without a tick of its schedule
//     starts cold: its first min(invocations in the tick, the function's
//     maximum concurrency) invocations are cold starts (the planner's one
//     invocation is). Of every other invocation, WarmColdStartRate are cold
//     (environments are recycled and scaled out). --cold-start-rate replaces
//     this with one fraction of all invocations.
//   - Scheduler invokes the planner once per tick.
//   - SQS (standard queues): a request per SendMessageBatch, ReceiveMessage
//     and DeleteMessageBatch of up to 10 messages, counted in 64 KiB chunks of
//     payload (jobs are JobBytes, results the result size). Each invocation
//     of an SQS-triggered function is one receive and one delete per 10
//     records. Idle polls: Lambda keeps at least ESMPollers pollers per
//     event source, each long-polling for 20 s (3 ReceiveMessage a minute),
//     so 2 queues × 5 × 3 × 43,200 = EmptyPollsPerMonth requests a month
//     whether or not anything runs (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html,
//     https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html).
//     The polls that do return messages are counted again as receives (an
//     over-count of at most the receives).
//   - Retries (--failure-rate f, default 0): a fraction f of crawls fails
//     once with a retryable error and succeeds on its retry (so
//     maxReceiveCount must be at least 2). Each costs a
//     ChangeMessageVisibility, one more worker invocation of one page with
//     its receive, delete and result send, and an attempt record that rides
//     in the results batches (f×n/batch more results invocations, an
//     average) and is stored with one PutItem of under 1 KB (1 WRU).
//   - DynamoDB (on-demand; what shared/store/dynamo's PutResult does for a
//     result arriving in time order, result size S, c = ceil(S/1 KiB)):
//     UpdateItem of the run (1 WRU), PutItem of the result on the table,
//     GSI1 and LSI1 (3c), PutItem of the latest item on the table and GSI1
//     (2c): 1 + 5c WRU; reads: two strongly consistent LSI1 queries of
//     Limit 4 (ceil(4S/4 KiB) RRU each), one that finds nothing (1 RRU), one
//     strongly consistent GetItem (ceil(S/4 KiB)). Every result is ok (a
//     failed result skips the reads). The planner's PutRun is 2 WRU (table
//     and GSI1). Storage at steady state (after retentionDays; 0 counts as
//     365): each result item is S + 100 bytes of overhead, three times
//     (table, GSI1, LSI1), plus two copies of each target's latest item;
//     point-in-time recovery (enabled in serverless.yml) is billed on the
//     table and LSI1. Run and attempt items are left out (small).
//   - CloudWatch Logs: LogLineBytes per line (JSON line plus CloudWatch's
//     26 bytes of event overhead): PlatformLines per invocation (START, END,
//     REPORT), one more per cold start (INIT_START), one per planned tick, one
//     per crawl, one per stored result, two more per retry. Storage is the
//     raw size kept logRetentionDays (AWS bills it compressed, so this is
//     an upper bound). A GB is 2^30 bytes.
//   - CloudWatch: the stack's 3 alarms. Not counted (each well under a cent
//     or zero): data transfer (the functions run outside a VPC, so there is no
//     NAT gateway), SQS and DynamoDB encryption (AWS-owned keys), the DLQs
//     (empty when all is well), SNS, the deployment bucket, Scheduler's
//     retries, run and attempt items.
//   - Free tier: the always-free allowances (FreeLambdaRequests,
//     FreeLambdaGBSeconds, FreeSQSRequests, FreeSchedulerInvokes,
//     FreeDynamoStorageGB, FreeLogsGB, FreeAlarms); they are per account, so
//     they only apply if nothing else in the account uses them.
package cost

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cronless/cronless/shared/schedule"
)

// The model's constants (see the package comment).
const (
	MonthDays    = 30
	MonthMinutes = MonthDays * 24 * 60
	// HoursPerMonth is AWS's month for hourly prices.
	HoursPerMonth = 730

	// IdleGap: a tick this long or longer after its schedule's previous one
	// finds the function's environments gone.
	IdleGap = 10 * time.Minute
	// WarmColdStartRate is the share of the other invocations that are cold.
	WarmColdStartRate = 0.01
	// DefaultInitDuration is the billed INIT of a Go bootstrap on
	// provided.al2023 (runtime start, configuration, SDK clients).
	DefaultInitDuration = 100 * time.Millisecond

	PlannerBase        = 50 * time.Millisecond
	SendBatchLatency   = 20 * time.Millisecond
	PlannerParallelism = 8 // planner.WithParallelism's default
	WorkerOverhead     = 20 * time.Millisecond
	ResultsOverhead    = 10 * time.Millisecond
	ResultStore        = 50 * time.Millisecond // the seven DynamoDB calls of one result
	ResultsConcurrency = 10                    // results.WithConcurrency's default

	// SQS.
	MaxBatch           = 10        // messages per SendMessageBatch, ReceiveMessage, DeleteMessageBatch
	ChunkBytes         = 64 * 1024 // a billed request carries up to 64 KiB
	JobBytes           = 600       // a job message with its attributes
	ESMPollers         = 5
	PollsPerMinute     = 3 // 20-second long polls
	EmptyPollsPerMonth = 2 * ESMPollers * PollsPerMinute * MonthMinutes

	// DynamoDB.
	DefaultResultBytes = 2048
	ItemOverheadBytes  = 100 // per item and per index entry
	WRUBytes           = 1024
	RRUBytes           = 4096
	NeighbourLimit     = 4 // the Limit of the LSI1 neighbour queries
	PutRunWRU          = 2 // table and GSI1
	AttemptWRU         = 1

	// CloudWatch.
	LogLineBytes  = 300
	PlatformLines = 3
	Alarms        = 3
	GB            = 1 << 30

	// EC2 comparison.
	EBSVolumeGB = 8
)

// Schedule is one schedule of the setup: how many targets it runs and how
// often it ticks in a month.
type Schedule struct {
	Name       string `json:"name"`
	Expression string `json:"expression"`
	Timezone   string `json:"timezone"`
	Targets    int    `json:"targets"`
	// Ticks is the number of ticks in the 30-day month; ColdTicks those
	// that follow an idle gap longer than IdleGap.
	Ticks     int `json:"ticks"`
	ColdTicks int `json:"cold_ticks"`
}

// MonthStart is the start of the month ticks are counted in, in loc.
func MonthStart(loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	return time.Date(2026, time.June, 1, 0, 0, 0, 0, loc)
}

// CountTicks counts expr's ticks in the 30 days from MonthStart(loc), and
// how many of them come more than IdleGap after the tick before (the first
// tick counts when the last one before the month is that far back).
func CountTicks(expr schedule.Expr, loc *time.Location) (ticks, cold int) {
	start := MonthStart(loc)
	end := start.AddDate(0, 0, MonthDays)
	var prev time.Time
	// Start a day early to know the tick before the month; a schedule
	// with none in that day has an idle gap before its first tick anyway.
	for t := expr.Next(start.Add(-24*time.Hour-time.Nanosecond), loc); !t.IsZero() && t.Before(end); t = expr.Next(t, loc) {
		if t.Before(start) {
			prev = t
			continue
		}
		ticks++
		if prev.IsZero() || t.Sub(prev) > IdleGap {
			cold++
		}
		prev = t
	}
	return ticks, cold
}

// NewSchedule is a Schedule of targets on expr in loc, with its ticks counted.
func NewSchedule(name string, expr schedule.Expr, loc *time.Location, targets int) Schedule {
	if loc == nil {
		loc = time.UTC
	}
	ticks, cold := CountTicks(expr, loc)
	return Schedule{Name: name, Expression: expr.String(), Timezone: loc.String(), Targets: targets, Ticks: ticks, ColdTicks: cold}
}

// Input is everything the bill depends on.
type Input struct {
	Region    string     `json:"region"`
	Params    Params     `json:"params"`
	Schedules []Schedule `json:"schedules"`
	// PageDuration is how long one crawl takes.
	PageDuration time.Duration `json:"page_duration"`
	// ResultBytes is the size of a result (its message and its item).
	ResultBytes int `json:"result_bytes"`
	// FailureRate is the share of crawls that fail once and are retried.
	FailureRate float64 `json:"failure_rate"`
	// ColdStartRate, when 0 or more, is the share of all invocations that
	// start cold; below 0 it is derived from the schedules.
	ColdStartRate float64       `json:"cold_start_rate"`
	InitDuration  time.Duration `json:"init_duration"`
}

// MarshalJSON writes the durations as Go duration text ("1s").
func (in Input) MarshalJSON() ([]byte, error) {
	type plain Input
	return json.Marshal(struct {
		plain
		PageDuration string `json:"page_duration"`
		InitDuration string `json:"init_duration"`
	}{plain(in), in.PageDuration.String(), in.InitDuration.String()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (in *Input) UnmarshalJSON(data []byte) error {
	type plain Input
	var v struct {
		*plain
		PageDuration string `json:"page_duration"`
		InitDuration string `json:"init_duration"`
	}
	v.plain = (*plain)(in)
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	var err error
	if in.PageDuration, err = time.ParseDuration(v.PageDuration); err != nil {
		return fmt.Errorf("page_duration: %w", err)
	}
	if in.InitDuration, err = time.ParseDuration(v.InitDuration); err != nil {
		return fmt.Errorf("init_duration: %w", err)
	}
	return nil
}

// DefaultInput is an Input with the shipped parameters and the model's
// defaults, in us-east-1, with no schedules.
func DefaultInput() Input {
	return Input{
		Region: "us-east-1", Params: DefaultParams(), PageDuration: time.Second, ResultBytes: DefaultResultBytes,
		ColdStartRate: -1, InitDuration: DefaultInitDuration,
	}
}

// Validate checks the input; its errors name what to change.
func (in Input) Validate() error {
	var errs []error
	if _, err := PricesFor(in.Region); err != nil {
		errs = append(errs, err)
	}
	if err := in.Params.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(in.Schedules) == 0 {
		errs = append(errs, errors.New("no schedules: give a targets file or a number of targets"))
	}
	for _, s := range in.Schedules {
		if s.Targets < 0 || s.Ticks < 0 || s.ColdTicks < 0 || s.ColdTicks > s.Ticks {
			errs = append(errs, fmt.Errorf("schedule %q: bad counts (targets %d, ticks %d, cold ticks %d)", s.Name, s.Targets, s.Ticks, s.ColdTicks))
		}
	}
	if in.PageDuration <= 0 {
		errs = append(errs, fmt.Errorf("page duration %s: must be above 0", in.PageDuration))
	} else if d := workerDuration(in.Params.WorkerBatchSize, in); d > time.Duration(in.Params.WorkerTimeout)*time.Second {
		errs = append(errs, fmt.Errorf("a full worker batch takes %s (ceil(%d/%d) × %s + %s), more than workerTimeout %d s; lower the duration or the batch size, or raise crawlConcurrency",
			d, in.Params.WorkerBatchSize, in.Params.CrawlConcurrency, in.PageDuration, WorkerOverhead, in.Params.WorkerTimeout))
	}
	if d := resultsDuration(in.Params.ResultsBatchSize); d > time.Duration(in.Params.ResultsTimeout)*time.Second {
		errs = append(errs, fmt.Errorf("a full results batch takes %s, more than resultsTimeout %d s", d, in.Params.ResultsTimeout))
	}
	if in.ResultBytes < 1 || in.ResultBytes > 256*1024 {
		errs = append(errs, fmt.Errorf("result size %d bytes: must be between 1 byte and 256 KiB", in.ResultBytes))
	}
	if in.FailureRate < 0 || in.FailureRate >= 1 || math.IsNaN(in.FailureRate) {
		errs = append(errs, fmt.Errorf("failure rate %g: must be at least 0 and below 1", in.FailureRate))
	} else if in.FailureRate > 0 && in.Params.MaxReceiveCount < 2 {
		errs = append(errs, fmt.Errorf("failure rate %g with maxReceiveCount %d: a failed crawl is dead-lettered, not retried; the model needs maxReceiveCount of at least 2", in.FailureRate, in.Params.MaxReceiveCount))
	}
	if in.ColdStartRate > 1 || math.IsNaN(in.ColdStartRate) {
		errs = append(errs, fmt.Errorf("cold start rate %g: must be between 0 and 1", in.ColdStartRate))
	}
	if in.InitDuration < 0 || in.InitDuration > 10*time.Second {
		errs = append(errs, fmt.Errorf("init duration %s: must be between 0 and 10s (Lambda's INIT limit)", in.InitDuration))
	}
	return errors.Join(errs...)
}

// Item is one line of the bill.
type Item struct {
	Service   string  `json:"service"`
	Item      string  `json:"item"`
	Quantity  float64 `json:"quantity"`
	Unit      string  `json:"unit"`
	UnitPrice float64 `json:"unit_price_usd"`
	USD       float64 `json:"usd"`
	// Free is the part of Quantity the free tier covers.
	Free float64 `json:"free_quantity"`
	pool string  // the free-tier allowance the item draws on
}

// Bill is the itemised monthly bill.
type Bill struct {
	Region     string  `json:"region"`
	PricesAsOf string  `json:"prices_as_of"`
	Items      []Item  `json:"items"`
	Total      float64 `json:"total_usd"`
	// FreeTier is what the free tier takes off Total.
	FreeTier          float64 `json:"free_tier_usd"`
	TotalWithFreeTier float64 `json:"total_with_free_tier_usd"`
}

// fn is one function's monthly usage.
type fn struct {
	invocations, seconds, cold float64
}

// Estimate computes the monthly bill of in.
func Estimate(in Input) (Bill, error) {
	if err := in.Validate(); err != nil {
		return Bill{}, err
	}
	pr, _ := PricesFor(in.Region)
	p := in.Params
	S := in.ResultBytes
	var (
		planner, worker, results                             fn
		ticks, crawls, retries                               float64
		jobSends, wReceives, wDeletes, changeVis, resSends   float64
		rReceives, rDeletes                                  float64
		wru, rru, resultsPerMonth, targetsTotal, extraLogLns float64
	)
	c := float64(ceilDiv(S, WRUBytes))
	wruPerResult := 1 + 5*c
	rruPerResult := 2*float64(ceilDiv(NeighbourLimit*S, RRUBytes)) + 1 + float64(ceilDiv(S, RRUBytes))

	for _, s := range in.Schedules {
		n, T, Tc := s.Targets, float64(s.Ticks), float64(s.ColdTicks)
		r := in.FailureRate * float64(n) // retries per tick
		ticks += T
		crawls += T * (float64(n) + r)
		retries += T * r
		targetsTotal += float64(n)
		resultsPerMonth += T * float64(n)

		// Planner: one invocation per tick.
		batches := ceilDiv(n, MaxBatch)
		planner.add(T, T*seconds(PlannerBase+time.Duration(ceilDiv(batches, PlannerParallelism))*SendBatchLatency),
			coldStarts(in, T, Tc, 1, 1))
		jobSends += T * float64(sqsRequests(n, JobBytes))

		// Worker.
		B := p.WorkerBatchSize
		full, rem := n/B, n%B
		inv := full + sign(rem)
		sec := float64(full)*seconds(workerDuration(B, in)) + float64(sign(rem))*seconds(workerDuration(rem, in))
		worker.add(T*float64(inv)+T*r, T*sec+T*r*seconds(workerDuration(1, in)),
			coldStarts(in, T*float64(inv)+T*r, Tc, inv, p.WorkerMaxConcurrency))
		wReceives += T * (float64(full*sqsRequests(B, JobBytes)+sqsRequests(rem, JobBytes)) + r*float64(sqsRequests(1, JobBytes)))
		wDeletes += T * (float64(full*ceilDiv(B, MaxBatch)+ceilDiv(rem, MaxBatch)) + r)
		changeVis += T * r
		resSends += T * (float64(full*sqsRequests(B, S)+sqsRequests(rem, S)) + r*float64(sqsRequests(1, S)))

		// Results: the n results in full batches; the r attempt records
		// as r/batch more full batches (an average).
		RB := p.ResultsBatchSize
		rfull, rrem := n/RB, n%RB
		extra := r / float64(RB)
		rinv := rfull + sign(rrem)
		rsec := float64(rfull)*seconds(resultsDuration(RB)) + float64(sign(rrem))*seconds(resultsDuration(rrem))
		results.add(T*(float64(rinv)+extra), T*(rsec+extra*seconds(resultsDuration(RB))),
			coldStarts(in, T*(float64(rinv)+extra), Tc, rinv, p.ResultsMaxConcurrency))
		rReceives += T * (float64(rfull*sqsRequests(RB, S)+sqsRequests(rrem, S)) + extra*float64(sqsRequests(RB, S)))
		rDeletes += T * (float64(rfull*ceilDiv(RB, MaxBatch)+ceilDiv(rrem, MaxBatch)) + extra*float64(ceilDiv(RB, MaxBatch)))

		// DynamoDB.
		wru += T * (PutRunWRU + float64(n)*wruPerResult + r*AttemptWRU)
		rru += T * float64(n) * rruPerResult
		// Log lines beyond the platform's: the planner's one per tick, the
		// retry's warning and its attempt record's.
		extraLogLns += T * (1 + 2*r)
	}

	b := Bill{Region: in.Region, PricesAsOf: PricesAsOf}
	add := func(service, item string, qty float64, unit string, price float64, pool string) {
		if qty == 0 {
			return
		}
		b.Items = append(b.Items, Item{Service: service, Item: item, Quantity: qty, Unit: unit, UnitPrice: price, USD: qty * price, pool: pool})
	}

	// Lambda.
	funcs := []struct {
		name string
		use  fn
		mb   int
	}{{"planner", planner, p.PlannerMemoryMB}, {"worker", worker, p.WorkerMemoryMB}, {"results", results, p.ResultsMemoryMB}}
	for _, f := range funcs {
		add("Lambda", f.name+" requests", f.use.invocations, "requests", pr.LambdaRequest, "lambda-requests")
	}
	for _, f := range funcs {
		gb := float64(f.mb) / 1024
		add("Lambda", fmt.Sprintf("%s duration (%d MB)", f.name, f.mb), f.use.seconds*gb, "GB-s", pr.LambdaGBSecond, "lambda-gbs")
		add("Lambda", fmt.Sprintf("%s INIT (%s cold starts)", f.name, thousands(f.use.cold)), f.use.cold*seconds(in.InitDuration)*gb, "GB-s", pr.LambdaGBSecond, "lambda-gbs")
	}

	// EventBridge Scheduler.
	add("EventBridge Scheduler", "invocations", ticks, "invocations", pr.SchedulerInvocation, "scheduler")

	// SQS.
	add("SQS", "SendMessageBatch (jobs)", jobSends, "requests", pr.SQSRequest, "sqs")
	add("SQS", "ReceiveMessage (worker)", wReceives, "requests", pr.SQSRequest, "sqs")
	add("SQS", "DeleteMessageBatch (worker)", wDeletes, "requests", pr.SQSRequest, "sqs")
	add("SQS", "ChangeMessageVisibility (retries)", changeVis, "requests", pr.SQSRequest, "sqs")
	add("SQS", "SendMessageBatch (results)", resSends, "requests", pr.SQSRequest, "sqs")
	add("SQS", "ReceiveMessage (results)", rReceives, "requests", pr.SQSRequest, "sqs")
	add("SQS", "DeleteMessageBatch (results)", rDeletes, "requests", pr.SQSRequest, "sqs")
	add("SQS", "empty long polls (2 event sources)", EmptyPollsPerMonth, "requests", pr.SQSRequest, "sqs")

	// DynamoDB.
	add("DynamoDB", "writes", wru, "WRU", pr.DynamoWRU, "")
	add("DynamoDB", "reads", rru, "RRU", pr.DynamoRRU, "")
	retention := float64(p.RetentionDays)
	if retention == 0 {
		retention = 365
	}
	stored := resultsPerMonth * retention / MonthDays
	entry := float64(S + ItemOverheadBytes)
	add("DynamoDB", "storage (steady state)", (stored*3*entry+targetsTotal*2*entry)/GB, "GB-month", pr.DynamoStorageGBMonth, "dynamo-storage")
	add("DynamoDB", "point-in-time recovery", (stored*2*entry+targetsTotal*entry)/GB, "GB-month", pr.DynamoPITRGBMonth, "")

	// CloudWatch.
	lines := PlatformLines*(planner.invocations+worker.invocations+results.invocations) +
		planner.cold + worker.cold + results.cold + crawls + resultsPerMonth + extraLogLns
	ingest := lines * LogLineBytes / GB
	add("CloudWatch", "Logs ingestion", ingest, "GB", pr.LogsIngestGB, "logs")
	add("CloudWatch", "Logs storage", ingest*float64(p.LogRetentionDays)/MonthDays, "GB-month", pr.LogsStorageGBMonth, "logs")
	add("CloudWatch", "alarms", Alarms, "alarms", pr.AlarmMonth, "alarms")

	applyFreeTier(&b)
	return b, nil
}

// applyFreeTier fills each item's Free quantity, drawing on each allowance
// in item order, and the bill's totals.
func applyFreeTier(b *Bill) {
	left := map[string]float64{
		"lambda-requests": FreeLambdaRequests, "lambda-gbs": FreeLambdaGBSeconds, "sqs": FreeSQSRequests,
		"scheduler": FreeSchedulerInvokes, "dynamo-storage": FreeDynamoStorageGB, "logs": FreeLogsGB, "alarms": FreeAlarms,
	}
	for i := range b.Items {
		it := &b.Items[i]
		if it.pool != "" {
			it.Free = math.Min(it.Quantity, left[it.pool])
			left[it.pool] -= it.Free
		}
		b.Total += it.USD
		b.FreeTier += it.Free * it.UnitPrice
	}
	b.TotalWithFreeTier = b.Total - b.FreeTier
}

// coldStarts is a function's cold starts in a month of inv invocations, in
// ticks of invTick invocations (at most conc at once), Tc of which follow an
// idle gap.
func coldStarts(in Input, inv, Tc float64, invTick, conc int) float64 {
	if in.ColdStartRate >= 0 {
		return in.ColdStartRate * inv
	}
	first := Tc * float64(min(invTick, conc))
	return first + WarmColdStartRate*(inv-first)
}

func (f *fn) add(invocations, seconds, cold float64) {
	f.invocations += invocations
	f.seconds += seconds
	f.cold += cold
}

// workerDuration is one worker invocation of records jobs.
func workerDuration(records int, in Input) time.Duration {
	return time.Duration(ceilDiv(records, in.Params.CrawlConcurrency))*in.PageDuration + WorkerOverhead
}

// resultsDuration is one results invocation of records results.
func resultsDuration(records int) time.Duration {
	return ResultsOverhead + time.Duration(ceilDiv(records, ResultsConcurrency))*ResultStore
}

// sqsRequests is the billed requests of moving n messages of size bytes in
// batches of MaxBatch: per batch, one per started 64 KiB of payload.
func sqsRequests(n, size int) int {
	reqs := 0
	for n > 0 {
		m := min(n, MaxBatch)
		reqs += ceilDiv(m*size, ChunkBytes)
		n -= m
	}
	return reqs
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func sign(n int) int {
	if n > 0 {
		return 1
	}
	return 0
}

func seconds(d time.Duration) float64 { return d.Seconds() }

// EC2 is the cron-server alternative: one on-demand instance all month.
type EC2 struct {
	Instance string  `json:"instance"`
	Items    []Item  `json:"items"`
	Total    float64 `json:"total_usd"`
}

// CompareEC2 prices one on-demand Linux instance of type instance in region
// for HoursPerMonth hours, with an EBSVolumeGB gp3 root volume and a public
// IPv4 address, plus upkeepHours of a person's time at upkeepRate USD an
// hour. The instance's logs, results and backups are not counted, nor CPU
// credits beyond the baseline (a cron job idles), nor any free tier.
func CompareEC2(region, instance string, upkeepHours, upkeepRate float64) (EC2, error) {
	pr, err := PricesFor(region)
	if err != nil {
		return EC2{}, err
	}
	hourly, ok := pr.EC2Hourly[instance]
	if !ok {
		return EC2{}, fmt.Errorf("no price for instance type %q in %s; known: %v", instance, region, InstanceTypes(region))
	}
	if upkeepHours < 0 || upkeepRate < 0 || math.IsNaN(upkeepHours) || math.IsNaN(upkeepRate) {
		return EC2{}, fmt.Errorf("upkeep of %g hours at %g USD an hour: neither may be negative", upkeepHours, upkeepRate)
	}
	e := EC2{Instance: instance}
	add := func(item string, qty float64, unit string, price float64) {
		if qty == 0 {
			return
		}
		e.Items = append(e.Items, Item{Service: "EC2", Item: item, Quantity: qty, Unit: unit, UnitPrice: price, USD: qty * price})
		e.Total += qty * price
	}
	add(instance+" on-demand", HoursPerMonth, "hours", hourly)
	add(fmt.Sprintf("EBS gp3 %d GB", EBSVolumeGB), EBSVolumeGB, "GB-month", pr.EBSgp3GBMonth)
	add("public IPv4 address", HoursPerMonth, "hours", pr.PublicIPv4Hour)
	add("upkeep (your time)", upkeepHours, "hours", upkeepRate)
	return e, nil
}

// Assumptions is the model's assumptions in words, with the constants'
// values, for `cronless cost --help`; the package comment says the same.
func Assumptions() string {
	n := func(x int) string { return thousands(float64(x)) }
	return fmt.Sprintf(`Assumptions (shared/cost):
  - A month is %d days; each schedule's ticks are counted over June 2026 in its
    time zone. Functions run on arm64; hourly prices use %d hours a month.
  - Durations: planner %s + %s per %d SendMessageBatch calls in parallel;
    worker ceil(records/crawlConcurrency) x --duration + %s; results %s + %s
    per %d results at once. Batches are full (the last of a tick holds the
    remainder).
  - INIT is billed (%s per cold start, --init-duration). A tick more than %.0f
    minutes after its schedule's previous one starts cold: its first
    min(invocations, max concurrency) invocations are cold starts; %.0f%% of all
    others are. --cold-start-rate F makes a share F of every invocation cold.
  - SQS: one request per batch call of up to %d messages per started 64 KiB
    (jobs %d B, results --result-kb); one receive and one delete per 10 records
    of each invocation; plus the event source mappings' empty long polls:
    2 queues x %d pollers x %d polls/min x %s min = %s requests a month,
    even idle.
  - --failure-rate F: a share F of crawls fails once, retryably, and succeeds
    on retry: a ChangeMessageVisibility, a one-page worker invocation with its
    receive, delete and send, and an attempt record (1 WRU) in the results
    batches.
  - DynamoDB on-demand, per result of size S (c = ceil(S/1 KiB)), as the dynamo
    adapter's PutResult writes it in time order: 1 + 5c WRU (run UpdateItem;
    result on table, GSI1, LSI1; latest on table, GSI1) and
    2 x ceil(%dS/4 KiB) + 1 + ceil(S/4 KiB) RRU (three strongly consistent LSI1
    queries, one GetItem); %d WRU per tick for the run. Storage at steady state
    after retentionDays: (S + %d B) x 3 per result, and point-in-time recovery
    on the table and LSI1.
  - CloudWatch Logs: %d B a line; %d platform lines an invocation, 1 per cold
    start, 1 per tick, crawl and result, 2 per retry; stored uncompressed for
    logRetentionDays (an upper bound). %d alarms.
  - Not counted: data transfer (no VPC, no NAT gateway), encryption (AWS-owned
    keys), DLQs, SNS, the deployment bucket, run and attempt items.
  - Free tier (always free, per account): Lambda %s requests and %s GB-s,
    SQS %s requests, Scheduler %s invocations, DynamoDB %d GB of storage,
    CloudWatch Logs %d GB, %d alarms. DynamoDB requests and point-in-time
    recovery are not free.
  - --compare-ec2: the instance on demand for %d hours, an %d GB gp3 volume and
    a public IPv4 address, plus --upkeep-hours at --upkeep-rate.
`,
		MonthDays, HoursPerMonth,
		PlannerBase, SendBatchLatency, PlannerParallelism, WorkerOverhead, ResultsOverhead, ResultStore, ResultsConcurrency,
		DefaultInitDuration, IdleGap.Minutes(), WarmColdStartRate*100,
		MaxBatch, JobBytes, ESMPollers, PollsPerMinute, n(MonthMinutes), n(EmptyPollsPerMonth),
		NeighbourLimit, PutRunWRU, ItemOverheadBytes,
		LogLineBytes, PlatformLines, Alarms,
		n(FreeLambdaRequests), n(FreeLambdaGBSeconds), n(FreeSQSRequests), n(FreeSchedulerInvokes), FreeDynamoStorageGB, FreeLogsGB, FreeAlarms,
		HoursPerMonth, EBSVolumeGB)
}

// thousands formats x rounded to a whole number, with thousands separators.
func thousands(x float64) string {
	s := strconv.FormatFloat(math.Round(x), 'f', 0, 64)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
