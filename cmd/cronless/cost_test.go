package main

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	costcmd "github.com/cronless/cronless/cmd/cronless/internal/cmd/cost"

	"github.com/cronless/cronless/shared/cost"
)

// costJSON runs `cronless cost ARGS -o json` and decodes its report.
// costReport is what `cronless cost -o json` prints.
type costReport = costcmd.Report

func costJSON(t *testing.T, args ...string) costReport {
	t.Helper()
	code, out, stderr := cli(t, append([]string{"cost", "-o", "json"}, args...)...)
	if code != exitOK {
		t.Fatalf("cronless cost %v: exit %d: %s", args, code, stderr)
	}
	var rep costReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	return rep
}

// within1Cent fails unless the command's total is the hand-computed one.
func within1Cent(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 0.01 {
		t.Errorf("%s: cronless cost says %.4f USD, the hand calculation %.4f USD", what, got, want)
	}
}

const gb = 1 << 30 // AWS's GB for data

// handMeasured are the store's measured figures the hand calculations below
// (and README's) use: when the store is measured again (shared/cost/
// measured.go changes), they are to be redone.
var handMeasured = cost.StoreMeasure{FieldsBytes: 1443, CompressedFieldsBytes: 746, ChangedItemBytes: 1217, UnchangedItemBytes: 533,
	IndexEntryBytes: 338, ChangedWRU: 3, UnchangedWRU: 2, ChangedRRU: 1.534, UnchangedRRU: 1.5, PlannerRRUPerTarget: 0.046, PutRunWRU: 3}

func TestCostHandMeasured(t *testing.T) {
	if cost.Measured != handMeasured {
		t.Errorf("the store's measured figures are now\n %+v\nthe hand calculations (here and in README's \"What it costs\") use\n %+v",
			cost.Measured, handMeasured)
	}
}

// The seed scenario: one target every minute, about 1 s a crawl, with
// serverless.yml's shipped parameters (the test runs where there is no
// serverless.yml, so the defaults apply; TestCostReadsTheRepositoryFiles
// checks they are the file's).
func TestCostSeedScenario(t *testing.T) {
	rep := costJSON(t, "--targets", "1", "--schedule", "rate(1 minute)", "--duration", "1s")
	p, err := cost.PricesFor("us-east-1")
	if err != nil {
		t.Fatal(err)
	}

	ticks := 30.0 * 24 * 60 // 43,200 ticks; each 1 minute after the last: never idle 10 min
	// One invocation of each function a tick.
	requests := 3 * ticks // 129,600
	// Warm ticks: 1 invocation in 100 is a cold start, 100 ms of INIT.
	cold := 0.01 * ticks                // 432 per function
	gbs := ticks*(0.050+1*0.020)*0.25 + // planner, 256 MB: 50 ms + 1 wave of SendMessageBatch (20 ms): 756
		ticks*(1*1.0+0.020)*0.5 + // worker, 512 MB: 1 page of 1 s + 20 ms: 22,032
		ticks*(0.010+1*0.050)*0.25 + // results, 256 MB: 10 ms + 1 result stored (50 ms): 648
		cold*0.1*(0.25+0.5+0.25) // INIT: 43.2
	scheduler := ticks
	// SQS: send jobs, receive, delete, send results, receive, delete (one each
	// a tick), and the two event sources' idle polls: 2 × 5 × 3 × 43,200.
	sqs := 6*ticks + 2*5*3*43200.0 // 1,555,200
	// DynamoDB (handMeasured: what the store's meter measured). A page
	// changing once a day on average has changed in 1 − e^(−1/1440) of
	// minutely ticks. A 2,048 B result's item is 471 B + 2,048 × 746/1,443
	// = 1,530 B of which 1,059 gzip'd fields: 2 KB of writes, as measured,
	// so 3 WRU changed and 2 unchanged; reads 1.534 and 1.5 RRU; each tick 3
	// WRU for the run and 0.046 RRU a target for the planner. A holder's
	// expiry moves (2 WRU) at most once a week: for (1/1440)/7 of the
	// unchanged results.
	c := 1 - math.Exp(-1.0/1440)
	moves := (1 - c) * (1.0 / 1440 / 7) * 2
	wru := ticks * (3 + c*3 + (1-c)*2 + moves)
	rru := ticks * (c*1.534 + (1-c)*1.5 + 0.046)
	// Storage after 90 days: 3 months of results, each its item (1,530 B
	// changed, kept 7 days longer; 533 B not) and its 338 B index entry, +
	// 100 B each; PITR: the items.
	item := c*(1530+100)*97/90 + (1-c)*(533+100)
	storage := ticks * 3 * (item + 338 + 100) / gb
	pitr := ticks * 3 * item / gb
	// Logs: 3 platform lines an invocation, 1 per cold start, and the
	// planner's, worker's and results' one line each a tick; 300 B a line,
	// kept 30 days.
	logs := (3*requests + 3*cold + 3*ticks) * 300 / gb
	alarms := 5.0 // the stack's: two DLQs, planner failures, two stalled queues

	total := requests*p.LambdaRequest + gbs*p.LambdaGBSecond + scheduler*p.SchedulerInvocation +
		sqs*p.SQSRequest + wru*p.DynamoWRU + rru*p.DynamoRRU + storage*p.DynamoStorageGBMonth +
		pitr*p.DynamoPITRGBMonth + logs*p.LogsIngestGB + logs*p.LogsStorageGBMonth + alarms*p.AlarmMonth
	// Free tier: Lambda (129,600 requests, 23,479 GB-s), Scheduler, storage,
	// logs (0.29 GB) and alarms are all inside it; SQS pays past 1 M.
	withFree := (sqs-1e6)*p.SQSRequest + wru*p.DynamoWRU + rru*p.DynamoRRU + pitr*p.DynamoPITRGBMonth

	within1Cent(t, "total", rep.Bill.Total, total)                             // ≈ 1.77
	within1Cent(t, "with the free tier", rep.Bill.TotalWithFreeTier, withFree) // ≈ 0.38
	if rep.Bill.TotalWithFreeTier >= 1 {
		t.Errorf("the seed scenario costs %.2f USD a month with the free tier, want under 1 (issue 15)", rep.Bill.TotalWithFreeTier)
	}
	if got := rep.Input.Schedules[0]; got.Ticks != 43200 || got.ColdTicks != 0 {
		t.Errorf("schedule %+v: want 43,200 ticks, none after an idle gap", got)
	}
	t.Logf("seed scenario: %.4f USD, %.4f USD with the free tier", total, withFree)
}

// 10,000 targets crawled every hour, 1 s a page.
func TestCost10000TargetsHourly(t *testing.T) {
	rep := costJSON(t, "--targets", "10000", "--schedule", "rate(1 hour)", "--duration", "1s")
	p, err := cost.PricesFor("us-east-1")
	if err != nil {
		t.Fatal(err)
	}

	ticks := 30.0 * 24 // 720, each an hour after the last: every tick starts cold
	results := ticks * 10000
	// Per tick: 1 planner invocation; 10,000/10 = 1,000 worker and 1,000
	// results invocations.
	planner, worker, resultsInv := ticks, ticks*1000, ticks*1000
	requests := planner + worker + resultsInv // 1,440,720
	// Cold starts: per tick min(invocations, max concurrency) (planner 1,
	// worker 10, results 5), then 1 % of the other invocations.
	coldPlanner := ticks * 1                           // 720
	coldWorker := ticks*10 + 0.01*(worker-ticks*10)    // 7,200 + 7,128
	coldResults := ticks*5 + 0.01*(resultsInv-ticks*5) // 3,600 + 7,164
	gbs := planner*(0.050+125*0.020)*0.25 +            // 1,000 SendMessageBatch in 125 waves of 8: 2.55 s: 459
		worker*(1*1.0+0.020)*0.5 + // 10 pages crawled 10 at once: 1.02 s: 367,200
		resultsInv*(0.010+1*0.050)*0.25 + // 10 results stored 10 at once: 60 ms: 10,800
		(coldPlanner*0.25+coldWorker*0.5+coldResults*0.25)*0.1 // INIT: 1,003.5
	// SQS a tick: 1,000 job batches sent, received, deleted; 1,000 result
	// batches (10 × 2 KiB < 64 KiB) sent, received, deleted.
	sqs := ticks*6*1000 + 2*5*3*43200.0 // 5,616,000
	// DynamoDB, as in the seed scenario, with pages changed in
	// 1 − e^(−1/24) of hourly ticks (4.08 %).
	c := 1 - math.Exp(-1.0/24)
	moves := (1 - c) * (1.0 / 24 / 7) * 2
	wru := ticks*3 + results*(c*3+(1-c)*2+moves)                                                 // 14,778,212
	rru := results * (c*1.534 + (1-c)*1.5 + 0.046)                                               // 11,141,190
	item := c*(1530+100)*97/90 + (1-c)*(533+100)                                                 // 679 B
	storage := results * 3 * (item + 338 + 100) / gb                                             // 22.47 GB
	pitr := results * 3 * item / gb                                                              // 13.66 GB
	logs := (3*requests + coldPlanner + coldWorker + coldResults + ticks + 2*results) * 300 / gb // 5.24 GB

	total := requests*p.LambdaRequest + gbs*p.LambdaGBSecond + ticks*p.SchedulerInvocation +
		sqs*p.SQSRequest + wru*p.DynamoWRU + rru*p.DynamoRRU + storage*p.DynamoStorageGBMonth +
		pitr*p.DynamoPITRGBMonth + logs*p.LogsIngestGB + logs*p.LogsStorageGBMonth + 5*p.AlarmMonth
	// Free tier: 1 M Lambda requests, all 379,462 GB-s (< 400,000), the
	// Scheduler, 1 M SQS requests, all the storage (22.47 GB < 25), 5 GB of
	// logs (ingestion first), the alarms.
	withFree := (requests-1e6)*p.LambdaRequest + (sqs-1e6)*p.SQSRequest + wru*p.DynamoWRU + rru*p.DynamoRRU +
		pitr*p.DynamoPITRGBMonth + (logs-5)*p.LogsIngestGB + logs*p.LogsStorageGBMonth
	if storage >= 25 {
		t.Fatalf("storage %.2f GB: the hand calculation takes it to be inside the free tier", storage)
	}

	within1Cent(t, "total", rep.Bill.Total, total)                             // ≈ 29.85
	within1Cent(t, "with the free tier", rep.Bill.TotalWithFreeTier, withFree) // ≈ 15.57
	if rep.Bill.Total > 30 {
		t.Errorf("10,000 targets hourly cost %.2f USD a month, want at most 30 (issue 15)", rep.Bill.Total)
	}
	t.Logf("10,000 targets hourly: %.4f USD, %.4f USD with the free tier", total, withFree)
}

func TestCostReadsTheRepositoryFiles(t *testing.T) {
	rep := costJSON(t, "--targets", "../../targets.yaml", "--serverless", "../../serverless.yml")
	if rep.ParamsSource != "../../serverless.yml" || rep.Input.Params != cost.DefaultParams() {
		t.Errorf("params from %q: %+v; want the file's, which are the defaults", rep.ParamsSource, rep.Input.Params)
	}
	want := []cost.Schedule{
		{Name: "hourly", Expression: "rate(1 hour)", Timezone: "Asia/Seoul", Targets: 2, Ticks: 720, ColdTicks: 720},
		{Name: "weekday-morning", Expression: "cron(0 9 ? * MON-FRI *)", Timezone: "Asia/Seoul", Targets: 1, Ticks: 22, ColdTicks: 22},
	}
	if len(rep.Input.Schedules) != len(want) {
		t.Fatalf("schedules %+v, want %+v", rep.Input.Schedules, want)
	}
	for i, s := range want {
		if rep.Input.Schedules[i] != s {
			t.Errorf("schedule %d: %+v, want %+v", i, rep.Input.Schedules[i], s)
		}
	}
	if rep.Bill.Total <= 0 || rep.Bill.TotalWithFreeTier > rep.Bill.Total {
		t.Errorf("totals %v, %v", rep.Bill.Total, rep.Bill.TotalWithFreeTier)
	}

	// --schedule puts every target of the file on one schedule; flags
	// override the file's parameters.
	rep = costJSON(t, "--targets", "../../targets.yaml", "--serverless", "../../serverless.yml",
		"--schedule", "rate(5 minutes)", "--batch-size", "5", "--memory", "1024")
	if s := rep.Input.Schedules; len(s) != 1 || s[0].Targets != 3 || s[0].Ticks != 8640 {
		t.Errorf("schedules %+v, want 3 targets on 8,640 ticks", s)
	}
	if p := rep.Input.Params; p.WorkerBatchSize != 5 || p.WorkerMemoryMB != 1024 {
		t.Errorf("params %+v: flags did not override", p)
	}
}

// TestCostTickSpread: with a targets file, cost says how long each
// schedule's tick takes to start, in the table and in JSON, and warns on
// stderr when ticks overlap; with --targets N it says nothing of it.
func TestCostTickSpread(t *testing.T) {
	var b strings.Builder
	b.WriteString("schedules:\n  hourly: { expression: \"rate(1 hour)\" }\n  daily: { expression: \"cron(0 9 * * ? *)\" }\n")
	b.WriteString("hosts:\n  big.example: { rate: 2/s }\n")
	b.WriteString("targets:\n")
	for i := range 10000 {
		fmt.Fprintf(&b, "  - { id: big-%d, url: \"https://big.example/%d\", schedule: hourly }\n", i, i)
	}
	b.WriteString("  - { id: one, url: \"https://example.com/\", schedule: daily }\n")
	path := writeFile(t, "targets.yaml", b.String())
	params := "../../serverless.yml"
	warning := "cronless: warning: schedule hourly: a tick needs 1h23m20s to start its 10000 targets on 1 host (slowest host big.example: 10000 at 2/s), " +
		"longer than its period of 1h0m0s: ticks will overlap; raise the host's rate in hosts:, or run the schedule less often\n"

	code, out, stderr := cli(t, "cost", "--targets", path, "--serverless", params, "-o", "table")
	if code != exitOK || stderr != warning {
		t.Fatalf("exit %d, stderr\n%s\nwant\n%s", code, stderr, warning)
	}
	for _, want := range []string{
		"\nschedule hourly: 10000 targets on 1 host start within 1h23m20s (slowest host big.example: 10000 at 2/s)\n",
		"schedule daily: 1 target on 1 host starts within 1s (slowest host example.com: 1 at 1/s)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}

	rep := costJSON(t, "--targets", path, "--serverless", params)
	want := []costcmd.TickSpread{
		{Schedule: "hourly", Targets: 10000, Hosts: 1, StartWithinSeconds: 5000, SlowestHost: "big.example", SlowestHostJobs: 10000,
			SlowestHostRate: 2, PeriodSeconds: 3600, Overlaps: true},
		{Schedule: "daily", Targets: 1, Hosts: 1, StartWithinSeconds: 1, SlowestHost: "example.com", SlowestHostJobs: 1,
			SlowestHostRate: 1, PeriodSeconds: 86400},
	}
	if len(rep.TickSpread) != len(want) {
		t.Fatalf("tick_spread %+v, want %+v", rep.TickSpread, want)
	}
	for i := range want {
		if rep.TickSpread[i] != want[i] {
			t.Errorf("tick_spread[%d] = %+v, want %+v", i, rep.TickSpread[i], want[i])
		}
	}

	// --schedule puts every target on one schedule: 10,001 jobs, the
	// slowest host's 10,000 at 2/s, every 2 hours: no overlap.
	rep = costJSON(t, "--targets", path, "--serverless", params, "--schedule", "rate(2 hours)")
	if s := rep.TickSpread; len(s) != 1 || s[0].Schedule != "flags" || s[0].Targets != 10001 || s[0].Hosts != 2 ||
		s[0].StartWithinSeconds != 5000 || s[0].PeriodSeconds != 7200 || s[0].Overlaps {
		t.Errorf("tick_spread with --schedule: %+v", s)
	}

	// A number of targets has no hosts: no spread, no warning.
	code, out, stderr = cli(t, "cost", "--targets", "10000", "-o", "json")
	if code != exitOK || stderr != "" || strings.Contains(out, "tick_spread") {
		t.Errorf("--targets 10000: exit %d, stderr %q, tick_spread in %s", code, stderr, out)
	}
}

func TestCostCompareEC2(t *testing.T) {
	rep := costJSON(t, "--targets", "1", "--schedule", "rate(1 minute)", "--compare-ec2", "t3.small", "--upkeep-hours", "1", "--upkeep-rate", "40")
	// 730 h × 0.0208 + 8 GB × 0.08 + 730 h × 0.005 (public IPv4) + 1 h × 40.
	want := 730*0.0208 + 8*0.08 + 730*0.005 + 40
	if rep.EC2 == nil || math.Abs(rep.EC2.Total-want) > 1e-9 {
		t.Fatalf("ec2 %+v, want a total of %v", rep.EC2, want)
	}

	code, out, stderr := cli(t, "cost", "--targets", "1", "--schedule", "rate(1 minute)", "--compare-ec2", "t4g.small", "-o", "table")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, s := range []string{"t4g.small on-demand", "public IPv4 address", "16.5540", "cronless: 1.77", "t4g.small server: 16.5540 a month"} {
		if !strings.Contains(out, s) {
			t.Errorf("table output does not say %q:\n%s", s, out)
		}
	}
}

func TestCostOutputs(t *testing.T) {
	args := []string{"cost", "--targets", "10000"}
	code, out, stderr := cli(t, append(args, "-o", "table")...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, s := range []string{"SERVICE", "empty long polls (2 event sources)", "1,296,000", "0.4 per 1M",
		"worker INIT (14,328 cold starts)", "total with free tier", "params: defaults (no serverless.yml)"} {
		if !strings.Contains(out, s) {
			t.Errorf("table does not say %q:\n%s", s, out)
		}
	}
	code, out, stderr = cli(t, append(args, "-o", "csv")...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if lines[0] != "service,item,quantity,unit,unit_price_usd,usd,free_quantity" ||
		!strings.HasPrefix(lines[len(lines)-1], "total with free tier,") {
		t.Errorf("csv:\n%s", out)
	}
	// Not a terminal: JSON by default.
	code, out, _ = cli(t, args...)
	if code != exitOK || !json.Valid([]byte(out)) {
		t.Errorf("default output on a pipe is not JSON: %s", out)
	}
	code, out, _ = cli(t, "cost", "--help")
	for _, s := range []string{"--targets", "--compare-ec2", "--cold-start-rate", "Assumptions", "empty long polls", "Free tier", "prices.go"} {
		if code != exitOK || !strings.Contains(out, s) {
			t.Errorf("cost --help does not say %q", s)
		}
	}
}

func TestCostUsageErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	badParams := writeFile(t, "serverless.yml", "params:\n  default:\n    workerMemory: lots\n")
	badTargets := writeFile(t, "targets.yaml", "schedules: {}\ntargets: []\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"negative targets", []string{"--targets", "-5"}, "--targets -5: must be between 0"},
		{"missing targets file", []string{"--targets", missing}, "--targets takes a targets file or a number of targets"},
		{"bad targets file", []string{"--targets", badTargets}, "targets.yaml"},
		{"bad schedule", []string{"--targets", "10", "--schedule", "every hour"}, "--schedule: every hour"},
		{"bad timezone", []string{"--targets", "10", "--schedule", "rate(1 hour)", "--timezone", "Mars/Olympus"}, `--timezone "Mars/Olympus"`},
		{"timezone alone", []string{"--targets", "10", "--timezone", "UTC"}, "--timezone goes with --schedule"},
		{"batch size 0", []string{"--targets", "10", "--batch-size", "0"}, "--batch-size 0: must be between 1 and 10000"},
		{"batch size needs window", []string{"--targets", "10", "--batch-size", "20"}, "workerBatchSize 20 needs workerBatchWindow"},
		{"memory", []string{"--targets", "10", "--memory", "64"}, "--memory 64: must be between 128 and 10240"},
		{"duration", []string{"--targets", "10", "--duration", "0s"}, "--duration 0s"},
		{"duration over the timeout", []string{"--targets", "10", "--duration", "2m"}, "more than workerTimeout 60 s"},
		{"region", []string{"--targets", "10", "--region", "eu-west-9"}, `no prices for region "eu-west-9"`},
		{"instance type", []string{"--targets", "10", "--compare-ec2", "m5.huge"}, `no price for instance type "m5.huge"`},
		{"upkeep without ec2", []string{"--targets", "10", "--upkeep-hours", "2"}, "go with --compare-ec2"},
		{"failure rate", []string{"--targets", "10", "--failure-rate", "1.5"}, "--failure-rate 1.5"},
		{"cold start rate", []string{"--targets", "10", "--cold-start-rate", "2"}, `--cold-start-rate "2": use a share between 0 and 1`},
		{"result size", []string{"--targets", "10", "--result-kb", "0"}, "--result-kb 0"},
		{"bad serverless.yml", []string{"--targets", "10", "--serverless", badParams}, `params.default.workerMemory is "lots"`},
		{"missing serverless.yml", []string{"--targets", "10", "--serverless", missing}, "--serverless"},
		{"output", []string{"--targets", "10", "-o", "xml"}, "use table, json or csv"},
		{"argument", []string{"10000"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := cli(t, append([]string{"cost"}, tt.args...)...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d; stderr: %s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q does not say %q", stderr, tt.want)
			}
		})
	}
}
