// Command suite is `make bench`: cronless measured side by side with bare
// colly, a hand-written net/http bound, Scrapy and Crawlee, plus the local
// pipeline, the Lambda figures and the AWS-side request counts. It rewrites
// docs/benchmarks.md with the machine, the versions, the commands and the
// tables.
//
//	go run ./bench/suite -out docs/benchmarks.md     # what make bench runs
//	go run ./bench/suite -rounds 1 -pages 200        # a quick look (stdout)
//
// Every contender crawls the same flat list of URLs on the fixture site
// (bench/fixture, in its own process, on 127.0.0.1), as its own child
// process, so its peak RSS and CPU time (wait4's rusage) are its own. The
// contenders run interleaved (A B C … A B C …) for each fixture latency and
// concurrency, so a noisy neighbour hits them all alike; the tables give
// medians and the medians of the same-round ratios.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cronless/cronless/bench/benchtb"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Main(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "suite:", err)
		os.Exit(1)
	}
}

// Config is the suite's command line.
type Config struct {
	Out          string // markdown report ("" or "-": stdout only)
	Pages        int
	Rounds       int
	PeerRounds   int // rounds Scrapy and Crawlee join (the middle ones)
	PipeRounds   int
	Latencies    []time.Duration
	PipeLatency  []time.Duration // latencies of the pipeline runs
	Concurrency  []int
	Only         []string // contenders to run (default all)
	SkipPeers    bool
	LambdaStarts int
	PlannerN     int // targets planned in the SQS count
	ResultsN     int // results stored in the DynamoDB count
	SkipLambda   bool
	// NoMakeBuild skips `make build` and the look into the arm64 worker
	// (the smoke test: it must not rewrite build/).
	NoMakeBuild  bool
	SkipAWS      bool
	SkipPipeline bool
	// The memory section: big pages (MemoryPageBytes) in one batch.
	SkipMemory      bool
	MemoryOnly      bool
	MemoryPageBytes int
	MemoryRounds    int
	Root            string // the repository
	// Bin is where the Go contenders are built ("" builds into a temp dir).
	Bin string
}

func parse(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("suite", flag.ContinueOnError)
	fs.StringVar(&c.Out, "out", "", "write the report (markdown) here; it always goes to stdout too")
	fs.IntVar(&c.Pages, "pages", 2000, "URLs in the flat list")
	fs.IntVar(&c.Rounds, "rounds", 5, "interleaved rounds of every contender")
	fs.IntVar(&c.PeerRounds, "peer-rounds", 1, "of those rounds, how many Scrapy and Crawlee join (the middle ones): they take 10 to 20 s a run")
	fs.IntVar(&c.PipeRounds, "pipeline-rounds", 3, "interleaved rounds of the pipeline and bare colly")
	lat := fs.String("latency", "0,50ms", "fixture latencies")
	conc := fs.String("concurrency", "16,64", "concurrent requests")
	pipeLat := fs.String("pipeline-latency", "50ms", "fixture latencies of the pipeline runs")
	only := fs.String("only", "", "contenders to run, comma-separated (default: all)")
	fs.BoolVar(&c.SkipPeers, "skip-peers", false, "do not run Scrapy and Crawlee even when installed")
	fs.IntVar(&c.LambdaStarts, "lambda-starts", 10, "fresh starts of each function under aws-lambda-rie")
	fs.IntVar(&c.PlannerN, "planner-targets", 10000, "targets the planner plans onto fauxqs")
	fs.IntVar(&c.ResultsN, "results", 100, "results stored through the DynamoDB store on dynalite")
	fs.BoolVar(&c.SkipLambda, "skip-lambda", false, "skip the Lambda figures")
	fs.BoolVar(&c.NoMakeBuild, "no-make-build", false, "skip `make build` (artifact sizes) and the look into the worker's bootstrap")
	fs.BoolVar(&c.SkipAWS, "skip-aws", false, "skip the AWS-side request counts")
	fs.BoolVar(&c.SkipPipeline, "skip-pipeline", false, "skip the local pipeline")
	fs.BoolVar(&c.SkipMemory, "skip-memory", false, "skip the memory section")
	fs.BoolVar(&c.MemoryOnly, "memory-only", false, "run the memory section only")
	fs.IntVar(&c.MemoryPageBytes, "memory-page-bytes", 4<<20, "the size of each page of the memory section's batch")
	fs.IntVar(&c.MemoryRounds, "memory-rounds", 3, "rounds of each case of the memory section")
	serve := fs.String("serve", "", "internal: serve the fixture with this latency")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if *serve != "" {
		if err := serveFixture(*serve); err != nil {
			return c, err
		}
		return c, errServed
	}
	var err error
	if c.Latencies, err = durations(*lat); err != nil {
		return c, fmt.Errorf("-latency: %w", err)
	}
	if c.PipeLatency, err = durations(*pipeLat); err != nil {
		return c, fmt.Errorf("-pipeline-latency: %w", err)
	}
	for _, s := range strings.Split(*conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return c, fmt.Errorf("-concurrency %q", s)
		}
		c.Concurrency = append(c.Concurrency, n)
	}
	if *only != "" {
		c.Only = strings.Split(*only, ",")
	}
	if c.Pages < 1 || c.Rounds < 1 {
		return c, fmt.Errorf("-pages and -rounds must be at least 1")
	}
	root, err := repoRoot()
	if err != nil {
		return c, err
	}
	c.Root = root
	return c, nil
}

func durations(list string) ([]time.Duration, error) {
	var out []time.Duration
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "0" {
			s = "0s"
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// errServed ends Main after serving the fixture (the -serve child).
var errServed = fmt.Errorf("served")

// Main runs the suite with args, printing progress and the report to out.
func Main(ctx context.Context, args []string, out io.Writer) error {
	c, err := parse(args)
	if err == errServed {
		return nil
	}
	if err != nil {
		return err
	}
	tb := benchtb.New()
	defer tb.Close()
	return Run(ctx, tb, c, out)
}

// Run runs every section of the suite. tb starts the stand-ins (a
// *testing.T in the smoke test; otherwise an adapter that turns a missing
// stand-in into a note).
func Run(ctx context.Context, tb testing.TB, c Config, out io.Writer) error {
	start := time.Now()
	r := &Report{Config: c, Started: start}
	logf := func(format string, args ...any) {
		el := time.Since(start).Round(time.Second)
		fmt.Fprintf(out, "[%02d:%02d] "+format+"\n", append([]any{int(el.Minutes()), int(el.Seconds()) % 60}, args...)...)
	}
	r.Machine = machine(ctx, c.Root)
	logf("suite: %s", r.Machine.Summary())

	bin := c.Bin
	if bin == "" {
		d, err := os.MkdirTemp("", "cronless-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		bin = d
	}
	if c.MemoryOnly {
		if err := runMemory(ctx, c, bin, r, logf); err != nil {
			return err
		}
		r.Elapsed = time.Since(start)
		var b strings.Builder
		r.memoryTable(func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) })
		fmt.Fprint(out, "\n"+b.String())
		return nil
	}
	contenders, notes, err := prepareContenders(ctx, c, bin)
	if err != nil {
		return err
	}
	r.Notes = append(r.Notes, notes...)
	for _, ct := range contenders {
		r.Contenders = append(r.Contenders, ct.Name)
	}

	if err := runCrawls(ctx, c, contenders, r, logf); err != nil {
		return err
	}
	if !c.SkipPipeline {
		if err := runPipeline(ctx, c, contenders, r, logf); err != nil {
			return err
		}
	}
	if !c.SkipMemory {
		if err := runMemory(ctx, c, bin, r, logf); err != nil {
			return err
		}
	}
	if !c.SkipLambda {
		benchtb.Section(tb, &r.LambdaSkipped, func() { runLambda(ctx, tb, c, bin, r, logf) })
	}
	if !c.SkipAWS {
		benchtb.Section(tb, &r.AWSSkipped, func() { runAWS(ctx, tb, c, r, logf) })
	}
	r.Elapsed = time.Since(start)
	md := r.Markdown()
	if c.Out != "" && c.Out != "-" {
		path := c.Out
		if !filepath.IsAbs(path) {
			path = filepath.Join(c.Root, path)
		}
		if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
			return err
		}
		logf("suite: wrote %s in %s", c.Out, r.Elapsed.Round(time.Second))
	}
	fmt.Fprint(out, "\n"+md)
	return nil
}

// repoRoot is the directory of the module's go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/cronless/cronless\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no cronless go.mod above %s", dir)
		}
	}
}
