package cost

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

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
  - DynamoDB on-demand, as the dynamo store's meter measured it for a product
    page of %d B of fields (shared/cost/measured.go): a result whose page
    changed since the previous tick %.0f WRU and %.1f RRU; one whose page did
    not %.0f WRU and %.1f RRU (its fields are not stored again). A changed
    result of S bytes keeps S x %.2f bytes of gzip'd fields beside %d B of
    item. Pages change at random, once every --change-interval on average,
    so 1 - exp(-period/interval) of a schedule's results changed. Per tick
    %.0f WRU for the run and %.3f RRU a target for the planner's read.
    A result that holds its fields lives %.0f days past retentionDays, and a
    content unchanged that long has its holder's expiry moved (an update).
    Storage at steady state after retentionDays: each result's item (%d B
    when unchanged) and its %d B index entry, + %d B each; point-in-time
    recovery on the table.
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
		Measured.FieldsBytes, Measured.ChangedWRU, Measured.ChangedRRU, Measured.UnchangedWRU, Measured.UnchangedRRU,
		float64(Measured.CompressedFieldsBytes)/float64(Measured.FieldsBytes), Measured.ChangedItemBytes-Measured.CompressedFieldsBytes,
		Measured.PutRunWRU, Measured.PlannerRRUPerTarget, HolderSlackDays, Measured.UnchangedItemBytes, Measured.IndexEntryBytes, ItemOverheadBytes,
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
