package cost

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/cmd/cronless/internal/iostreams"
	costmodel "github.com/cronless/cronless/shared/cost"
	"github.com/cronless/cronless/shared/schedule"
	"github.com/cronless/cronless/shared/targets"
)

// CostOptions are the options of `cronless cost`: the Factory's streams,
// the --region, the flag set (which flags were given), and the flags.
type CostOptions struct {
	IO     *iostreams.IOStreams
	Region string
	flags  *pflag.FlagSet

	targets        string // a number of targets, or the targets file
	serverless     string
	schedule       string
	timezone       string
	batchSize      int
	memory         int
	duration       time.Duration
	resultKB       float64
	changeInterval time.Duration
	failureRate    float64
	coldStartRate  string
	initDuration   time.Duration
	compareEC2     string
	upkeepHours    float64
	upkeepRate     float64
	output         string
}

// Report is what `cronless cost` prints (whole, with -o json).
type Report struct {
	Input        costmodel.Input `json:"input"`
	ParamsSource string          `json:"params_source"`
	Bill         costmodel.Bill  `json:"bill"`
	EC2          *costmodel.EC2  `json:"ec2,omitempty"`
	// TickSpread is, when a targets file was read, how long each
	// schedule's tick takes to start every job at its hosts' rates.
	TickSpread []TickSpread `json:"tick_spread,omitempty"`
	spreads    []targets.Spread
}

// TickSpread is a targets.Spread as -o json writes it.
type TickSpread struct {
	Schedule           string  `json:"schedule"`
	Targets            int     `json:"targets"`
	Hosts              int     `json:"hosts"`
	StartWithinSeconds float64 `json:"start_within_seconds"`
	SlowestHost        string  `json:"slowest_host,omitempty"`
	SlowestHostJobs    int     `json:"slowest_host_jobs,omitempty"`
	SlowestHostRate    float64 `json:"slowest_host_rate,omitempty"` // jobs a second
	// PeriodSeconds is the shortest time between two ticks, 0 for a
	// schedule that fires once.
	PeriodSeconds float64 `json:"period_seconds"`
	Overlaps      bool    `json:"overlaps"`
}

// NewCmdCost estimates the monthly AWS bill of a setup; runF, when set,
// runs instead of costRun (tests).
func NewCmdCost(f *cmdutil.Factory, runF func(*CostOptions) error) *cobra.Command {
	o := &CostOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "cost",
		Short: "Estimate the monthly AWS bill of a setup",
		Long: `Estimates the monthly AWS bill of a cronless deployment, itemised, with and
without the free tier, from targets.yaml (targets per schedule; ticks a month
from each schedule's expression in its time zone) and serverless.yml
(params.default: memory, timeouts, batch sizes and windows, concurrency,
maxReceiveCount, log and result retention), or from flags. Flags override the
files; with --targets N no targets file is read, and serverless.yml is read only
if it exists (else its shipped defaults apply).

With a targets file, it also says how long each schedule's tick takes to start
every job when each host's jobs start at its rate (host_rate, hosts:), and warns
on stderr when that is longer than the time between two ticks.

Prices are public list prices of ` + strings.Join(costmodel.Regions(), " and ") + `, recorded ` + costmodel.PricesAsOf + `
(shared/cost/prices.go, with the pricing pages to check them against). Choose
the region with --region (default us-east-1).

` + costmodel.Assumptions(),
		Example: `  cronless cost                                   # targets.yaml and serverless.yml here
  cronless cost --targets 1 --schedule "rate(1 minute)" --duration 1s
  cronless cost --targets 10000 --schedule "rate(1 hour)" --compare-ec2 t4g.small
  cronless cost -o json | jq .bill.total_with_free_tier_usd`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Region, o.flags = f.Region, cmd.Flags()
			return cmdutil.RunOr(o, runF, costRun)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.targets, "targets", "targets.yaml", "a number of targets (then no targets file is read), or the targets file")
	fs.StringVar(&o.serverless, "serverless", "serverless.yml", "the deployment whose params.default to read")
	fs.StringVar(&o.schedule, "schedule", "", `one schedule expression for every target (default with --targets N: "rate(1 hour)")`)
	fs.StringVar(&o.timezone, "timezone", "UTC", "the IANA time zone of --schedule")
	fs.IntVar(&o.batchSize, "batch-size", 0, "the worker's batch size (default: workerBatchSize)")
	fs.IntVar(&o.memory, "memory", 0, "the worker's memory in MB (default: workerMemory)")
	fs.DurationVar(&o.duration, "duration", time.Second, "how long one page's crawl takes")
	fs.Float64Var(&o.resultKB, "result-kb", float64(costmodel.DefaultResultBytes)/1024, "the size of a result message and of its fields, KiB")
	fs.DurationVar(&o.changeInterval, "change-interval", costmodel.DefaultChangeInterval, "how often a page's content changes, on average (0: at every tick); an unchanged page's result does not store its fields again")
	fs.Float64Var(&o.failureRate, "failure-rate", 0, "share of crawls that fail once, retryably, and are retried (0 to 0.99)")
	fs.StringVar(&o.coldStartRate, "cold-start-rate", "auto", `share of all invocations that start cold, 0 to 1, or "auto" (derived from the schedules)`)
	fs.DurationVar(&o.initDuration, "init-duration", costmodel.DefaultInitDuration, "the billed INIT time of a cold start")
	fs.StringVar(&o.compareEC2, "compare-ec2", "", "also price a cron server: an EC2 instance type ("+strings.Join(costmodel.InstanceTypes("us-east-1"), ", ")+")")
	fs.Float64Var(&o.upkeepHours, "upkeep-hours", 0, "with --compare-ec2: hours a month spent looking after the server")
	fs.Float64Var(&o.upkeepRate, "upkeep-rate", 50, "with --compare-ec2: USD an hour of upkeep")
	fs.StringVarP(&o.output, "output", "o", "", "table, json or csv (default: table on a terminal, json otherwise)")
	return cmd
}

func costRun(o *CostOptions) error {
	format, err := cmdutil.OutputFormat(o.IO, o.output)
	if err != nil {
		return err
	}
	in, source, spreads, err := costInput(o)
	if err != nil {
		return err
	}
	bill, err := costmodel.Estimate(in)
	if err != nil {
		return cmdutil.UsageError{Err: err}
	}
	rep := Report{Input: in, ParamsSource: source, Bill: bill, spreads: spreads}
	for _, sp := range spreads {
		rep.TickSpread = append(rep.TickSpread, TickSpread{
			Schedule: sp.Schedule, Targets: sp.Targets, Hosts: sp.Hosts, StartWithinSeconds: sp.Duration.Seconds(),
			SlowestHost: sp.SlowestHost, SlowestHostJobs: sp.SlowestJobs, SlowestHostRate: sp.SlowestRate,
			PeriodSeconds: sp.Period.Seconds(), Overlaps: sp.Overlaps(),
		})
	}
	if o.compareEC2 != "" {
		e, err := costmodel.CompareEC2(in.Region, o.compareEC2, o.upkeepHours, o.upkeepRate)
		if err != nil {
			return cmdutil.Usagef("--compare-ec2: %v", err)
		}
		rep.EC2 = &e
	} else if o.flags.Changed("upkeep-hours") || o.flags.Changed("upkeep-rate") {
		return cmdutil.Usagef("--upkeep-hours and --upkeep-rate go with --compare-ec2")
	}
	for _, sp := range spreads {
		if w := sp.Warning(); w != "" {
			fmt.Fprintf(o.IO.ErrOut, "cronless: warning: %s\n", w)
		}
	}
	switch format {
	case "json":
		return json.NewEncoder(o.IO.Out).Encode(rep)
	case "csv":
		return costCSV(o.IO.Out, rep)
	}
	return costTable(o.IO.Out, rep)
}

// costInput builds the model's input from the files and the flags, and,
// when a targets file is read, how long each schedule's tick takes to start.
func costInput(o *CostOptions) (costmodel.Input, string, []targets.Spread, error) {
	flags, region := o.flags, o.Region
	in := costmodel.DefaultInput()
	if region != "" {
		in.Region = region
	}
	if _, err := costmodel.PricesFor(in.Region); err != nil {
		return in, "", nil, cmdutil.Usagef("--region: %v", err)
	}

	// The flags' own ranges first, so their errors name the flag.
	if flags.Changed("batch-size") {
		if err := cmdutil.RangeFlag("batch-size", o.batchSize, costmodel.BatchSize); err != nil {
			return in, "", nil, err
		}
	}
	if flags.Changed("memory") {
		if err := cmdutil.RangeFlag("memory", o.memory, costmodel.LambdaMemoryMB); err != nil {
			return in, "", nil, err
		}
	}
	if err := cmdutil.DurationFlag("duration", o.duration, time.Millisecond, 15*time.Minute); err != nil {
		return in, "", nil, err
	}
	if err := cmdutil.DurationFlag("init-duration", o.initDuration, 0, 10*time.Second); err != nil {
		return in, "", nil, err
	}
	if o.resultKB <= 0 || o.resultKB > 256 || math.IsNaN(o.resultKB) {
		return in, "", nil, cmdutil.Usagef("--result-kb %g: must be above 0 and at most 256", o.resultKB)
	}
	if o.failureRate < 0 || o.failureRate > 0.99 || math.IsNaN(o.failureRate) {
		return in, "", nil, cmdutil.Usagef("--failure-rate %g: must be between 0 and 0.99", o.failureRate)
	}
	coldRate := -1.0 // derived
	if o.coldStartRate != "auto" {
		r, err := strconv.ParseFloat(o.coldStartRate, 64)
		if err != nil || r < 0 || r > 1 || math.IsNaN(r) {
			return in, "", nil, cmdutil.Usagef(`--cold-start-rate %q: use a share between 0 and 1, or "auto"`, o.coldStartRate)
		}
		coldRate = r
	}
	if o.changeInterval < 0 {
		return in, "", nil, cmdutil.Usagef("--change-interval %s: must be 0 (pages change at every tick) or more", o.changeInterval)
	}
	if flags.Changed("timezone") && o.schedule == "" {
		return in, "", nil, cmdutil.Usagef("--timezone goes with --schedule")
	}

	// Parameters: serverless.yml's, or the shipped defaults when there is
	// none and it was not asked for.
	source := o.serverless
	data, err := os.ReadFile(o.serverless)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !flags.Changed("serverless"):
		source = "defaults (no " + o.serverless + ")"
	case err != nil:
		return in, "", nil, cmdutil.Usagef("--serverless: %v", err)
	default:
		p, err := costmodel.ParseParams(data)
		if err != nil {
			return in, "", nil, cmdutil.Usagef("%s: %v", o.serverless, err)
		}
		in.Params = p
	}
	if flags.Changed("batch-size") {
		in.Params.WorkerBatchSize = o.batchSize
	}
	if flags.Changed("memory") {
		in.Params.WorkerMemoryMB = o.memory
	}
	if err := in.Params.Validate(); err != nil {
		return in, "", nil, cmdutil.Usagef("%s: %v", source, err)
	}

	// Schedules.
	var spreads []targets.Spread
	var expr schedule.Expr
	loc := time.UTC
	if o.schedule != "" {
		if expr, err = schedule.Parse(o.schedule); err != nil {
			return in, "", nil, cmdutil.Usagef("--schedule: %v", err)
		}
		if loc, err = time.LoadLocation(o.timezone); err != nil {
			return in, "", nil, cmdutil.Usagef("--timezone %q: not an IANA time zone (e.g. UTC, Asia/Seoul)", o.timezone)
		}
	}
	if n, err := strconv.Atoi(o.targets); err == nil {
		if n < 0 || n > 10_000_000 {
			return in, "", nil, cmdutil.Usagef("--targets %d: must be between 0 and 10000000", n)
		}
		if expr.IsZero() {
			expr, _ = schedule.Parse("rate(1 hour)")
		}
		in.Schedules = []costmodel.Schedule{costmodel.NewSchedule("flags", expr, loc, n)}
	} else {
		tf, err := cmdutil.LoadTargets(o.targets)
		if err != nil {
			return in, "", nil, fmt.Errorf("%w (--targets takes a targets file or a number of targets)", err)
		}
		if !expr.IsZero() {
			in.Schedules = []costmodel.Schedule{costmodel.NewSchedule("flags", expr, loc, len(tf.Targets))}
			s := targets.Schedule{Name: "flags", Expression: expr.String(), Expr: expr, Timezone: loc.String(), Location: loc}
			spreads = append(spreads, targets.TickSpread(s, tf.Targets, costmodel.MonthStart(loc)))
		} else {
			for _, name := range tf.ScheduleNames {
				s := tf.Schedules[name]
				in.Schedules = append(in.Schedules, costmodel.NewSchedule(name, s.Expr, s.Location, len(tf.TargetsFor(name))))
				spreads = append(spreads, tf.TickSpread(name, costmodel.MonthStart(s.Location)))
			}
		}
	}

	in.PageDuration = o.duration
	in.ResultBytes = int(math.Round(o.resultKB * 1024))
	in.FailureRate = o.failureRate
	in.ChangeInterval = o.changeInterval
	in.ColdStartRate = coldRate
	in.InitDuration = o.initDuration
	return in, source, spreads, nil
}

// costTable prints the report for a person.
func costTable(w io.Writer, rep Report) error {
	in, b := rep.Input, rep.Bill
	p := in.Params
	fmt.Fprintf(w, "Monthly AWS bill in %s (list prices of %s; a 30-day month)\n\n", b.Region, b.PricesAsOf)
	st := cmdutil.NewTable("SCHEDULE", "EXPRESSION", "TIMEZONE", "TARGETS", "TICKS", "AFTER IDLE GAP")
	for _, s := range in.Schedules {
		st.Add(s.Name, s.Expression, s.Timezone, number(float64(s.Targets)), number(float64(s.Ticks)), number(float64(s.ColdTicks)))
	}
	if err := st.Write(w); err != nil {
		return err
	}
	if len(rep.spreads) > 0 {
		fmt.Fprintln(w)
		for _, sp := range rep.spreads {
			fmt.Fprintln(w, sp)
		}
	}
	cold := "derived"
	if in.ColdStartRate >= 0 {
		cold = fmt.Sprint(in.ColdStartRate)
	}
	fmt.Fprintf(w, "\nparams: %s; memory planner/worker/results %d/%d/%d MB; worker batch %d (window %d s, %d crawls at once); results batch %d (window %d s)\n",
		rep.ParamsSource, p.PlannerMemoryMB, p.WorkerMemoryMB, p.ResultsMemoryMB, p.WorkerBatchSize, p.WorkerBatchWindow, p.CrawlConcurrency,
		p.ResultsBatchSize, p.ResultsBatchWindow)
	fmt.Fprintf(w, "model: %s a page, results of %s B, pages changing every %s, failure rate %g, cold starts %s, INIT %s, logs kept %d days, results %d days\n\n",
		in.PageDuration, number(float64(in.ResultBytes)), changeInterval(in.ChangeInterval), in.FailureRate, cold, in.InitDuration, p.LogRetentionDays, p.RetentionDays)

	t := cmdutil.NewTable("SERVICE", "ITEM", "QUANTITY", "UNIT", "PRICE (USD)", "MONTHLY (USD)")
	for _, it := range b.Items {
		t.Add(it.Service, it.Item, number(it.Quantity), it.Unit, price(it.UnitPrice), usd(it.USD))
	}
	t.Add("", "", "", "", "", "")
	t.Add("total", "", "", "", "", usd(b.Total))
	t.Add("free tier", "", "", "", "", usd(-b.FreeTier))
	t.Add("total with free tier", "", "", "", "", usd(b.TotalWithFreeTier))
	if err := t.Write(w); err != nil {
		return err
	}
	if rep.EC2 != nil {
		fmt.Fprintf(w, "\nThe cron-server alternative (%s, on demand, all month):\n\n", rep.EC2.Instance)
		e := cmdutil.NewTable("SERVICE", "ITEM", "QUANTITY", "UNIT", "PRICE (USD)", "MONTHLY (USD)")
		for _, it := range rep.EC2.Items {
			e.Add(it.Service, it.Item, number(it.Quantity), it.Unit, price(it.UnitPrice), usd(it.USD))
		}
		e.Add("", "", "", "", "", "")
		e.Add("total", "", "", "", "", usd(rep.EC2.Total))
		if err := e.Write(w); err != nil {
			return err
		}
		fmt.Fprintf(w, "\ncronless: %s a month (%s with the free tier); %s server: %s a month\n",
			usd(b.Total), usd(b.TotalWithFreeTier), rep.EC2.Instance, usd(rep.EC2.Total))
	}
	fmt.Fprintf(w, "\nThe assumptions: cronless cost --help. Check the prices against AWS's pricing pages.\n")
	return nil
}

// costCSV prints the bill's items (and the EC2 alternative's) as CSV.
func costCSV(w io.Writer, rep Report) error {
	t := cmdutil.NewTable("service", "item", "quantity", "unit", "unit_price_usd", "usd", "free_quantity")
	// 12 significant digits: no float noise (756.0000000000001), in plain notation.
	f := func(x float64) string {
		r, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 12, 64), 64)
		return strconv.FormatFloat(r, 'f', -1, 64)
	}
	for _, it := range rep.Bill.Items {
		t.Add(it.Service, it.Item, f(it.Quantity), it.Unit, f(it.UnitPrice), f(it.USD), f(it.Free))
	}
	t.Add("total", "", "", "", "", f(rep.Bill.Total), "")
	t.Add("total with free tier", "", "", "", "", f(rep.Bill.TotalWithFreeTier), "")
	if rep.EC2 != nil {
		for _, it := range rep.EC2.Items {
			t.Add(it.Service, it.Item, f(it.Quantity), it.Unit, f(it.UnitPrice), f(it.USD), "0")
		}
		t.Add("EC2 total", "", "", "", "", f(rep.EC2.Total), "")
	}
	return t.WriteCSV(w)
}

// usd formats dollars to a hundredth of a cent.
// changeInterval is --change-interval for the report: "tick" for 0.
func changeInterval(d time.Duration) string {
	if d <= 0 {
		return "tick"
	}
	return d.String()
}

func usd(x float64) string {
	if math.Abs(x) < 0.00005 {
		x = 0 // no "-0.0000"
	}
	return strconv.FormatFloat(x, 'f', 4, 64)
}

// price formats a unit price: per million units when it is that small.
func price(p float64) string {
	if p < 1e-5 {
		return strconv.FormatFloat(math.Round(p*1e12)/1e6, 'f', -1, 64) + " per 1M"
	}
	return strconv.FormatFloat(p, 'f', -1, 64)
}

// number formats a quantity with thousands separators: whole numbers as
// such, others with two decimals (four below 1).
func number(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return commas(strconv.FormatFloat(x, 'f', 0, 64))
	}
	if math.Abs(x) < 1 {
		return strconv.FormatFloat(x, 'f', 4, 64)
	}
	return commas(strconv.FormatFloat(x, 'f', 2, 64))
}

// commas puts thousands separators in the integer part of a formatted number.
func commas(s string) string {
	intPart, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(intPart, "-")
	intPart = strings.TrimPrefix(intPart, "-")
	var b strings.Builder
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	out := b.String()
	if neg {
		out = "-" + out
	}
	if frac != "" {
		out += "." + frac
	}
	return out
}
