package cost

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/schedule"
)

func mustExpr(t *testing.T, s string) schedule.Expr {
	t.Helper()
	e, err := schedule.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("time zone %s: %v", name, err)
	}
	return loc
}

func TestCostCountTicks(t *testing.T) {
	tests := []struct {
		expr, zone  string
		ticks, cold int
	}{
		{"rate(1 minute)", "UTC", 43200, 0},
		{"rate(10 minutes)", "UTC", 4320, 0}, // a gap of exactly IdleGap stays warm
		{"rate(15 minutes)", "UTC", 2880, 2880},
		{"rate(1 hour)", "Asia/Seoul", 720, 720},
		{"rate(1 day)", "UTC", 30, 30},
		// June 2026 starts on a Monday: 4 whole weeks and Mon 29, Tue 30.
		{"cron(0 9 ? * MON-FRI *)", "Asia/Seoul", 22, 22},
		// Every 5 minutes from 09:00 to 17:55: 108 a day, the first cold.
		{"cron(0/5 9-17 * * ? *)", "Europe/London", 30 * 108, 30},
		{"cron(* * * * ? *)", "America/New_York", 43200, 0},
		{"at(2026-06-15T12:00:00)", "UTC", 1, 1},
		{"at(2025-01-01T00:00:00)", "UTC", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			ticks, cold := CountTicks(mustExpr(t, tt.expr), mustZone(t, tt.zone))
			if ticks != tt.ticks || cold != tt.cold {
				t.Errorf("CountTicks = %d ticks, %d cold; want %d, %d", ticks, cold, tt.ticks, tt.cold)
			}
		})
	}
}

func TestCostParseParamsOfTheRepository(t *testing.T) {
	data, err := os.ReadFile("../../serverless.yml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseParams(data)
	if err != nil {
		t.Fatal(err)
	}
	if p != DefaultParams() {
		t.Errorf("serverless.yml's params.default = %+v;\nDefaultParams = %+v; keep them equal", p, DefaultParams())
	}
}

func TestCostParseParams(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       func(*Params)
		err        string
	}{
		{"no params", "service: x\n", func(*Params) {}, ""},
		{"some set", "params:\n  default:\n    workerMemory: 1024\n    workerBatchSize: '5'\n    alertEmail: ''\n",
			func(p *Params) { p.WorkerMemoryMB, p.WorkerBatchSize = 1024, 5 }, ""},
		{"not a number", "params:\n  default:\n    workerMemory: big\n", nil, `line 3: params.default.workerMemory is "big"`},
		{"a list", "params:\n  default:\n    maxReceiveCount: [1]\n", nil, "params.default.maxReceiveCount"},
		{"bad yaml", "params: [\n", nil, "read params.default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseParams([]byte(tt.yaml))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := DefaultParams()
			tt.want(&want)
			if p != want {
				t.Errorf("got %+v, want %+v", p, want)
			}
		})
	}
}

func TestCostValidate(t *testing.T) {
	sched := []Schedule{{Name: "s", Targets: 1, Ticks: 720, ColdTicks: 720}}
	tests := []struct {
		name string
		edit func(*Input)
		want string
	}{
		{"unknown region", func(in *Input) { in.Region = "mars-1" }, `no prices for region "mars-1"`},
		{"no schedules", func(in *Input) { in.Schedules = nil }, "no schedules"},
		{"memory", func(in *Input) { in.Params.WorkerMemoryMB = 64 }, "workerMemory 64"},
		{"batch", func(in *Input) { in.Params.WorkerBatchSize = 0 }, "workerBatchSize 0"},
		{"batch needs window", func(in *Input) { in.Params.WorkerBatchSize = 20 }, "needs workerBatchWindow"},
		{"too slow for the timeout", func(in *Input) { in.PageDuration = 61 * time.Second }, "more than workerTimeout 60 s"},
		{"zero duration", func(in *Input) { in.PageDuration = 0 }, "page duration 0s"},
		{"result size", func(in *Input) { in.ResultBytes = 0 }, "result size 0"},
		{"failure rate", func(in *Input) { in.FailureRate = 1 }, "failure rate 1"},
		{"failure without retries", func(in *Input) { in.FailureRate, in.Params.MaxReceiveCount = 0.1, 1 }, "maxReceiveCount of at least 2"},
		{"cold start rate", func(in *Input) { in.ColdStartRate = 1.5 }, "cold start rate 1.5"},
		{"bad counts", func(in *Input) { in.Schedules = []Schedule{{Name: "s", Ticks: 1, ColdTicks: 2}} }, `schedule "s": bad counts`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := DefaultInput()
			in.Schedules = sched
			tt.edit(&in)
			_, err := Estimate(in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func TestCostSQSRequests(t *testing.T) {
	tests := []struct{ n, size, want int }{
		{0, 600, 0},
		{1, 600, 1},
		{10, 600, 1},
		{11, 600, 2},
		{10, 6554, 2},       // 65,540 bytes: two 64 KiB chunks
		{10, 64 * 1024, 10}, // one chunk per message
		{25, 2048, 3},
	}
	for _, tt := range tests {
		if got := sqsRequests(tt.n, tt.size); got != tt.want {
			t.Errorf("sqsRequests(%d, %d) = %d, want %d", tt.n, tt.size, got, tt.want)
		}
	}
}

// item finds a bill's item.
func item(t *testing.T, b Bill, service, name string) Item {
	t.Helper()
	for _, it := range b.Items {
		if it.Service == service && strings.HasPrefix(it.Item, name) {
			return it
		}
	}
	t.Fatalf("no item %s %q in %+v", service, name, b.Items)
	return Item{}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestCostChangedShare(t *testing.T) {
	tests := []struct {
		name     string
		ticks    int
		interval time.Duration
		want     float64
	}{
		{"hourly, pages changing daily", 720, 24 * time.Hour, 1 - math.Exp(-1.0/24)},
		{"hourly, pages changing hourly", 720, time.Hour, 1 - math.Exp(-1)},
		{"every minute, daily", 43200, 24 * time.Hour, 1 - math.Exp(-1.0/1440)},
		{"daily, weekly", 30, 7 * 24 * time.Hour, 1 - math.Exp(-1.0/7)},
		{"every page at every tick", 720, 0, 1},
		{"no ticks", 0, time.Hour, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ChangedShare(Schedule{Ticks: tt.ticks}, tt.interval); !near(got, tt.want) {
				t.Errorf("ChangedShare = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCostEstimateQuantities(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Input)
		check func(t *testing.T, b Bill)
	}{
		{"idle: no targets still polls and plans", func(in *Input) {
			in.Schedules = []Schedule{{Name: "s", Targets: 0, Ticks: 720, ColdTicks: 720}}
		}, func(t *testing.T, b Bill) {
			if got := item(t, b, "SQS", "empty long polls").Quantity; got != 1_296_000 {
				t.Errorf("empty polls %v", got)
			}
			if got := item(t, b, "Lambda", "planner requests").Quantity; got != 720 {
				t.Errorf("planner requests %v", got)
			}
			if got := item(t, b, "DynamoDB", "writes").Quantity; got != 720*Measured.PutRunWRU {
				t.Errorf("writes %v", got)
			}
			for _, it := range b.Items {
				if strings.HasPrefix(it.Item, "worker") {
					t.Errorf("an idle setup has %s", it.Item)
				}
			}
		}},
		{"partial batch: 25 targets", func(in *Input) {
			in.Schedules = []Schedule{{Name: "s", Targets: 25, Ticks: 1, ColdTicks: 1}}
			in.Params.CrawlConcurrency = 2
		}, func(t *testing.T, b Bill) {
			// 2 full batches of 10 (5 waves of 2 crawls) and one of 5 (3 waves).
			if got := item(t, b, "Lambda", "worker requests").Quantity; got != 3 {
				t.Errorf("worker requests %v", got)
			}
			want := (2*(5*1.0+0.020) + (3*1.0 + 0.020)) * 0.5
			if got := item(t, b, "Lambda", "worker duration").Quantity; !near(got, want) {
				t.Errorf("worker GB-s %v, want %v", got, want)
			}
			// A cold tick: min(3 invocations, 10) cold starts.
			if got := item(t, b, "Lambda", "worker INIT").Quantity; !near(got, 3*0.1*0.5) {
				t.Errorf("worker INIT %v", got)
			}
		}},
		{"big results are chunked", func(in *Input) {
			in.Schedules = []Schedule{{Name: "s", Targets: 10, Ticks: 1}}
			in.ResultBytes = 10 * 1024
		}, func(t *testing.T, b Bill) {
			// 10 results of 10 KiB: 100 KiB, two 64 KiB chunks.
			if got := item(t, b, "SQS", "SendMessageBatch (results)").Quantity; got != 2 {
				t.Errorf("result sends %v", got)
			}
			// One tick a month: every page changed since the last. A changed
			// result's item is the measured one with 10 KiB of fields gzip'd
			// at the measured ratio instead of the measured page's: it takes
			// ceil(item/1 KiB) WRU where the measured item took its own.
			m := Measured
			size := m.ChangedItemBytes - m.CompressedFieldsBytes + int(math.Round(10*1024*float64(m.CompressedFieldsBytes)/float64(m.FieldsBytes)))
			perResult := m.ChangedWRU + math.Ceil(float64(size)/1024) - math.Ceil(float64(m.ChangedItemBytes)/1024)
			if perResult <= m.ChangedWRU {
				t.Fatalf("a 10 KiB result's item of %d B costs %v WRU, not more than the measured %v", size, perResult, m.ChangedWRU)
			}
			if got := item(t, b, "DynamoDB", "writes").Quantity; !near(got, 10*perResult+m.PutRunWRU) {
				t.Errorf("writes %v, want %v", got, 10*perResult+m.PutRunWRU)
			}
		}},
		{"cold start rate override", func(in *Input) {
			in.Schedules = []Schedule{{Name: "s", Targets: 10, Ticks: 100, ColdTicks: 100}}
			in.ColdStartRate = 0.5
		}, func(t *testing.T, b Bill) {
			if got := item(t, b, "Lambda", "worker INIT").Item; got != "worker INIT (50 cold starts)" {
				t.Errorf("item %q", got)
			}
		}},
		{"failures add retries", func(in *Input) {
			in.Schedules = []Schedule{{Name: "s", Targets: 100, Ticks: 10}}
			in.FailureRate = 0.1
		}, func(t *testing.T, b Bill) {
			// 10 retries a tick: each a ChangeMessageVisibility and a
			// one-page invocation.
			if got := item(t, b, "SQS", "ChangeMessageVisibility").Quantity; !near(got, 100) {
				t.Errorf("ChangeMessageVisibility %v", got)
			}
			if got := item(t, b, "Lambda", "worker requests").Quantity; !near(got, 10*(10+10)) {
				t.Errorf("worker requests %v", got)
			}
			// Results: 10 batches and 10/10 = 1 more for the attempt records.
			if got := item(t, b, "Lambda", "results requests").Quantity; !near(got, 10*11) {
				t.Errorf("results requests %v", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := DefaultInput()
			tt.edit(&in)
			b, err := Estimate(in)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, b)
		})
	}
}

func TestCostFreeTier(t *testing.T) {
	b := Bill{Items: []Item{
		{Quantity: 600_000, UnitPrice: 1e-6, pool: "sqs"},
		{Quantity: 600_000, UnitPrice: 1e-6, pool: "sqs"},
		{Quantity: 7, UnitPrice: 0.5, pool: "logs"},
		{Quantity: 1, UnitPrice: 0.03, pool: "logs"},
		{Quantity: 100, UnitPrice: 0.01},
	}}
	for i := range b.Items {
		b.Items[i].USD = b.Items[i].Quantity * b.Items[i].UnitPrice
	}
	applyFreeTier(&b)
	wantFree := []float64{600_000, 400_000, 5, 0, 0}
	for i, w := range wantFree {
		if b.Items[i].Free != w {
			t.Errorf("item %d free %v, want %v", i, b.Items[i].Free, w)
		}
	}
	// Total 0.6 + 0.6 + 3.5 + 0.03 + 1; billable 0.2 + 1 + 0.03 + 1.
	if !near(b.Total, 5.73) || !near(b.TotalWithFreeTier, 0.2+1+0.03+1) || !near(b.FreeTier, b.Total-b.TotalWithFreeTier) {
		t.Errorf("totals %v, %v, free %v", b.Total, b.TotalWithFreeTier, b.FreeTier)
	}
}

func TestCostCompareEC2(t *testing.T) {
	tests := []struct {
		instance    string
		hours, rate float64
		want        float64
		err         string
	}{
		// 730 h × hourly + 8 GB × 0.08 + 730 h × 0.005 (IPv4).
		{"t3.small", 0, 50, 730*0.0208 + 8*0.08 + 730*0.005, ""},
		{"t4g.small", 0, 50, 730*0.0168 + 8*0.08 + 730*0.005, ""},
		{"t3.micro", 2, 50, 730*0.0104 + 8*0.08 + 730*0.005 + 2*50, ""},
		{"m5.huge", 0, 50, 0, `no price for instance type "m5.huge"`},
		{"t3.small", -1, 50, 0, "may be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.instance, func(t *testing.T) {
			e, err := CompareEC2("us-east-1", tt.instance, tt.hours, tt.rate)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !near(e.Total, tt.want) {
				t.Errorf("total %v, want %v", e.Total, tt.want)
			}
		})
	}
}

func TestCostPriceTable(t *testing.T) {
	if _, err := time.Parse(time.DateOnly, PricesAsOf); err != nil {
		t.Errorf("PricesAsOf %q: %v", PricesAsOf, err)
	}
	for _, r := range Regions() {
		p, err := PricesFor(r)
		if err != nil {
			t.Fatal(err)
		}
		for name, v := range map[string]float64{
			"LambdaRequest": p.LambdaRequest, "LambdaGBSecond": p.LambdaGBSecond, "SchedulerInvocation": p.SchedulerInvocation,
			"SQSRequest": p.SQSRequest, "DynamoWRU": p.DynamoWRU, "DynamoRRU": p.DynamoRRU,
			"DynamoStorageGBMonth": p.DynamoStorageGBMonth, "DynamoPITRGBMonth": p.DynamoPITRGBMonth,
			"LogsIngestGB": p.LogsIngestGB, "LogsStorageGBMonth": p.LogsStorageGBMonth, "AlarmMonth": p.AlarmMonth,
			"EBSgp3GBMonth": p.EBSgp3GBMonth, "PublicIPv4Hour": p.PublicIPv4Hour,
		} {
			if v <= 0 {
				t.Errorf("%s: %s is %v", r, name, v)
			}
		}
		for _, it := range []string{"t3.micro", "t3.small", "t4g.small"} {
			if p.EC2Hourly[it] <= 0 {
				t.Errorf("%s: no price for %s", r, it)
			}
		}
	}
}

func TestCostAssumptionsNameTheConstants(t *testing.T) {
	a := Assumptions()
	for _, s := range []string{"1,296,000 requests", "100ms per cold start", "10\n    minutes", "400,000 GB-s", "30 days", "+ 100 B each", "1 - exp(-period/interval)"} {
		if !strings.Contains(a, s) {
			t.Errorf("Assumptions() does not say %q:\n%s", s, a)
		}
	}
}

// The bill counts the stack's alarms: as many as serverless.yml defines.
func TestCostAlarmsAreTheStacks(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "serverless.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "Type: AWS::CloudWatch::Alarm"); n != Alarms {
		t.Errorf("serverless.yml defines %d alarms, the cost model bills %d (Alarms)", n, Alarms)
	}
}

// A schedule past targets.ShardSize is planned in shards, one planner
// invocation each besides the tick's.
func TestCostShardedPlanner(t *testing.T) {
	for _, tt := range []struct{ targets, shards int }{
		{10_000, 0}, {10_001, 8}, {1_000_000, 104}, {80_000, 8}, {80_001, 16},
	} {
		if got := Shards(tt.targets); got != tt.shards {
			t.Errorf("Shards(%d) = %d, want %d", tt.targets, got, tt.shards)
		}
	}
	in := Input{Region: "us-east-1", Params: DefaultParams(), ResultBytes: 2048, PageDuration: time.Second,
		InitDuration: 100 * time.Millisecond, ColdStartRate: -1, ChangeInterval: 24 * time.Hour,
		Schedules: []Schedule{{Name: "hourly", Targets: 1_000_000, Ticks: 720}}}
	b, err := Estimate(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range b.Items {
		if it.Item == "planner requests" && it.Quantity != 720*105 {
			t.Errorf("planner requests %v, want 720 ticks × (1 + 104 shards)", it.Quantity)
		}
	}
}
