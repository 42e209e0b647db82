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
//   - Scheduler invokes the planner once per tick. A schedule of more than
//     targets.ShardSize targets is planned in Shards(n) shards, each one
//     more planner invocation (the tick's planner invokes them
//     asynchronously, ceil(shards/PlannerParallelism) × SendBatchLatency).
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
//   - DynamoDB (on-demand): what shared/store/dynamo measures for a stored
//     result (Measured, written by its meter test, so model and store cannot
//     drift apart; store.go). A result either changed since the target's
//     previous one (its fields are stored) or did not (they are not: its
//     item names the result that holds them). A page changes at random
//     with a mean interval of --change-interval (ChangeInterval, default
//     DefaultChangeInterval; a Poisson process, the model of Cho and
//     Garcia-Molina's crawl studies), so a share 1 − exp(−period/interval)
//     of a schedule's results changed, where period is the month divided by
//     its ticks. A changed result of S bytes stores its fields gzip'd at the
//     measured ratio (S × CompressedFieldsBytes/FieldsBytes) in an item of
//     the measured size otherwise: its writes are the measured ones with the
//     item's units for that size; its strongly consistent neighbour read
//     grows with the item (two items a page). An unchanged result costs the
//     measured units whatever S is. Each tick adds PutRunWRU and the
//     planner's read (PlannerRRUPerTarget per target). A result that holds
//     its fields lives HolderSlackDays (at most retentionDays) longer, and a
//     content unchanged that long has its holder's expiry moved: an update
//     of a changed result's item, for at most a share period/slack of the
//     unchanged results. Storage at steady state (after retentionDays; 0
//     counts as 365): each result's item and its GSI1 entry, plus
//     ItemOverheadBytes each; point-in-time recovery (enabled in
//     serverless.yml) is billed on the table, not the index.
//     Run, target-list and attempt items are left out (small).
//   - CloudWatch Logs: LogLineBytes per line (JSON line plus CloudWatch's
//     26 bytes of event overhead): PlatformLines per invocation (START, END,
//     REPORT), one more per cold start (INIT_START), one per planned tick, one
//     per crawl, one per stored result, two more per retry. Storage is the
//     raw size kept logRetentionDays (AWS bills it compressed, so this is
//     an upper bound). A GB is 2^30 bytes.
//   - CloudWatch: the stack's 5 alarms (Alarms; a test counts them in
//     serverless.yml). Not counted (each well under a cent
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
	"fmt"
	"math"
	"time"

	"github.com/cronless/cronless/shared/targets"
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
	ResultStore        = 50 * time.Millisecond // the DynamoDB calls of one result
	ResultsConcurrency = 10                    // results.WithConcurrency's default

	// SQS.
	MaxBatch           = 10        // messages per SendMessageBatch, ReceiveMessage, DeleteMessageBatch
	ChunkBytes         = 64 * 1024 // a billed request carries up to 64 KiB
	JobBytes           = 600       // a job message with its attributes
	ESMPollers         = 5
	PollsPerMinute     = 3 // 20-second long polls
	EmptyPollsPerMonth = 2 * ESMPollers * PollsPerMinute * MonthMinutes

	// DynamoDB.
	DefaultResultBytes    = 2048
	DefaultChangeInterval = 24 * time.Hour
	ItemOverheadBytes     = 100 // per item and per index entry (DynamoDB's storage overhead)
	WRUBytes              = 1024
	RRUBytes              = 4096
	AttemptWRU            = 1
	// HolderSlackDays is how much longer than the retention a result that
	// holds its fields lives (dynamo.HolderSlack).
	HolderSlackDays = 7.0

	// CloudWatch.
	LogLineBytes  = 300
	PlatformLines = 3
	Alarms        = 5
	GB            = 1 << 30

	// EC2 comparison.
	EBSVolumeGB = 8
)

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
	per := perResult(S)
	var stored, storedTable float64 // bytes at steady state
	retention := float64(p.RetentionDays)
	slack := min(retention, HolderSlackDays) // days a holder of fields outlives its retention
	if retention == 0 {
		retention = 365
	}

	for _, s := range in.Schedules {
		n, T, Tc := s.Targets, float64(s.Ticks), float64(s.ColdTicks)
		r := in.FailureRate * float64(n) // retries per tick
		ticks += T
		crawls += T * (float64(n) + r)
		retries += T * r
		targetsTotal += float64(n)
		resultsPerMonth += T * float64(n)

		// Planner: one invocation per tick; past targets.ShardSize the
		// targets are a stored list, planned in shards, one invocation each.
		if shards := Shards(n); shards == 0 {
			batches := ceilDiv(n, MaxBatch)
			planner.add(T, T*seconds(PlannerBase+time.Duration(ceilDiv(batches, PlannerParallelism))*SendBatchLatency),
				coldStarts(in, T, Tc, 1, 1))
		} else {
			per := ceilDiv(ceilDiv(n, shards), MaxBatch) // SendMessageBatch calls of a shard
			planner.add(T, T*seconds(PlannerBase+time.Duration(ceilDiv(shards, PlannerParallelism))*SendBatchLatency),
				coldStarts(in, T, Tc, 1, 1))
			planner.add(T*float64(shards), T*float64(shards)*seconds(PlannerBase+time.Duration(ceilDiv(per, PlannerParallelism))*SendBatchLatency),
				coldStarts(in, T*float64(shards), Tc, shards, shards))
		}
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
		c := ChangedShare(s, in.ChangeInterval)
		// A content unchanged for HolderSlackDays has its holder's expiry
		// moved (an update of its item): at most once per slack.
		moves := 0.0
		if slack > 0 {
			moves = (1 - c) * math.Min(1, float64(MonthDays)/float64(max(s.Ticks, 1))/slack) * per.holderWRU
		}
		wru += T * (Measured.PutRunWRU + float64(n)*(c*per.changedWRU+(1-c)*Measured.UnchangedWRU+moves) + r*AttemptWRU)
		rru += T * float64(n) * (c*per.changedRRU + (1-c)*per.unchangedRRU + Measured.PlannerRRUPerTarget)
		results := T * float64(n) * retention / MonthDays // kept at steady state
		// A result that holds its fields lives the slack longer.
		item := c*per.changedItem*(retention+slack)/retention + (1-c)*float64(Measured.UnchangedItemBytes+ItemOverheadBytes)
		storedTable += results * item
		stored += results * (item + float64(Measured.IndexEntryBytes+ItemOverheadBytes))
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
	add("DynamoDB", "storage (steady state)", stored/GB, "GB-month", pr.DynamoStorageGBMonth, "dynamo-storage")
	add("DynamoDB", "point-in-time recovery", storedTable/GB, "GB-month", pr.DynamoPITRGBMonth, "")

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

// Shards is how many shards a schedule of n stored targets is planned in
// (targets.PlanList's layout with IDs spread evenly over the hash groups),
// 0 when n is at most targets.ShardSize: one invocation plans it, whether
// the targets are in targets.yaml or stored.
func Shards(n int) int {
	if n <= targets.ShardSize {
		return 0
	}
	return targets.Groups * ceilDiv(ceilDiv(n, targets.Groups), targets.ShardSize)
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

// ChangedShare is the share of a schedule's results whose page changed since
// the previous tick, when pages change at random every interval on average
// (0: every tick): 1 − exp(−period/interval), the period being the month
// over the schedule's ticks.
func ChangedShare(s Schedule, interval time.Duration) float64 {
	if interval <= 0 || s.Ticks == 0 {
		return 1
	}
	period := float64(MonthMinutes) / float64(s.Ticks) // minutes
	return 1 - math.Exp(-period/interval.Minutes())
}

// resultCost is what one stored result costs, by whether its page changed.
type resultCost struct {
	changedWRU, changedRRU, unchangedRRU float64
	// holderWRU is an update of a changed result's item (its expiry moved).
	holderWRU float64
	// changedItem is a changed result's item with its storage overhead.
	changedItem float64
}

// perResult scales the measured figures to results of S bytes: a changed
// result's item holds S bytes of fields gzip'd at the measured ratio, and
// its write and its neighbour read grow by the units that item adds.
func perResult(S int) resultCost {
	m := Measured
	ratio := float64(m.CompressedFieldsBytes) / float64(m.FieldsBytes)
	item := m.ChangedItemBytes - m.CompressedFieldsBytes + int(math.Round(float64(S)*ratio))
	reads := func(item int) float64 { return float64(ceilDiv(2*item, RRUBytes)) } // a page of two, strongly consistent
	grow := reads(item) - reads(m.ChangedItemBytes)
	return resultCost{
		changedWRU:   m.ChangedWRU + float64(ceilDiv(item, WRUBytes)-ceilDiv(m.ChangedItemBytes, WRUBytes)),
		changedRRU:   m.ChangedRRU + grow,
		unchangedRRU: m.UnchangedRRU + grow,
		changedItem:  float64(item + ItemOverheadBytes),
		holderWRU:    float64(ceilDiv(item, WRUBytes)),
	}
}
