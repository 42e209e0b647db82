// Command crawlbench measures the crawl Fetcher against the fixture site
// (bench/fixture), each in its own process, so each number is the
// Fetcher's alone:
//
//   - CPU per page: one fetch at a time against the fixture with no
//     latency; the Fetcher and a bare colly collector (the same page, the
//     same three rules) in alternating rounds, so both see the same
//     machine; user+system time of the fetching process (getrusage) over
//     the pages it fetched.
//   - Throughput: 64 concurrent fetches against the fixture with 50 ms of
//     latency, spread over 32 host names (2 per host, the default per-host
//     limit); pages per second.
//   - Memory: the peak resident set (VmHWM) of the process running the
//     throughput loop.
//
// Run it with `make bench` or `go run ./bench/crawlbench`. Everything runs
// on 127.0.0.1: the fixture listens there only, and the fetching process
// resolves *.fixture.test to 127.0.0.1 and refuses to dial anything else.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cronless/cronless/bench/contend"
	"github.com/cronless/cronless/bench/fixture"
	"github.com/cronless/cronless/shared/crawl"
	"github.com/cronless/cronless/shared/job"
	"github.com/gocolly/colly/v2"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "crawlbench:", err)
		os.Exit(1)
	}
}

type config struct {
	serve       string // child: serve the fixture with this latency
	loop        bool   // child: run a fetch loop
	impl        string // fetcher or colly
	base        string
	concurrency int
	hosts       int
	latency     time.Duration
	duration    time.Duration
	warmup      time.Duration
	rounds      int
	skipColly   bool
}

func run(ctx context.Context, args []string) error {
	var c config
	fs := flag.NewFlagSet("crawlbench", flag.ContinueOnError)
	fs.StringVar(&c.serve, "serve", "", "internal: serve the fixture with this latency")
	fs.BoolVar(&c.loop, "loop", false, "internal: run one fetch loop")
	fs.StringVar(&c.impl, "impl", "fetcher", "internal: fetcher or colly")
	fs.StringVar(&c.base, "base", "", "internal: the fixture's URL")
	fs.IntVar(&c.concurrency, "concurrency", 64, "concurrent fetches in the throughput run")
	fs.IntVar(&c.hosts, "hosts", 32, "host names the throughput run spreads over")
	fs.DurationVar(&c.latency, "latency", 50*time.Millisecond, "fixture latency in the throughput run")
	fs.DurationVar(&c.duration, "duration", 8*time.Second, "measured time of each round")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured time before each round")
	fs.IntVar(&c.rounds, "rounds", 3, "rounds of each measurement (the median is reported)")
	fs.BoolVar(&c.skipColly, "skip-colly", false, "do not measure bare colly")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case c.serve != "":
		return serve(c.serve)
	case c.loop:
		return loop(ctx, c)
	}
	return orchestrate(ctx, c)
}

// result is what a loop child reports.
type result struct {
	Impl        string  `json:"impl"`
	Concurrency int     `json:"concurrency"`
	Pages       int64   `json:"pages"`
	Errors      int64   `json:"errors"`
	Seconds     float64 `json:"seconds"`
	CPUSeconds  float64 `json:"cpu_seconds"` // user+system over the measured window
	FirstError  string  `json:"first_error,omitempty"`
	// MaxRSSKiB is the loop's VmHWM, read by the loop itself: wait4's
	// ru_maxrss would carry this parent's high-water mark (Go starts a
	// child with vfork+exec, and Linux keeps the larger at exec).
	MaxRSSKiB int64 `json:"peak_rss_kib"`
}

func (r result) pagesPerSec() float64 { return float64(r.Pages) / r.Seconds }
func (r result) cpuMsPerPage() float64 {
	return r.CPUSeconds * 1000 / float64(r.Pages)
}

func orchestrate(ctx context.Context, c config) error {
	fmt.Printf("crawlbench: %s, %d CPUs (GOMAXPROCS %d), %s\n", cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())

	// CPU per page: no latency, one fetch at a time.
	base0, stop0, err := startServer(ctx, 0)
	if err != nil {
		return err
	}
	cpuRounds := map[string][]result{}
	impls := []string{"fetcher", "colly"}
	if c.skipColly {
		impls = impls[:1]
	}
	for i := 0; i < c.rounds; i++ {
		for _, impl := range impls {
			r, err := runLoop(ctx, c, impl, base0, 1, 1)
			if err != nil {
				stop0()
				return err
			}
			cpuRounds[impl] = append(cpuRounds[impl], r)
		}
	}
	stop0()

	// Throughput and memory: latency, many fetches at once.
	baseL, stopL, err := startServer(ctx, c.latency)
	if err != nil {
		return err
	}
	var tput []result
	for i := 0; i < c.rounds; i++ {
		r, err := runLoop(ctx, c, "fetcher", baseL, c.concurrency, c.hosts)
		if err != nil {
			stopL()
			return err
		}
		tput = append(tput, r)
	}
	var collyTput *result
	if !c.skipColly {
		r, err := runLoop(ctx, c, "colly", baseL, c.concurrency, c.hosts)
		if err != nil {
			stopL()
			return err
		}
		collyTput = &r
	}
	stopL()

	fmt.Printf("\nCPU per page (fixture latency 0, 1 fetch at a time, %d rounds of %s; median [min–max]):\n", c.rounds, c.duration)
	med := map[string]float64{}
	for _, impl := range impls {
		ms := mapf(cpuRounds[impl], result.cpuMsPerPage)
		med[impl] = median(ms)
		fmt.Printf("  %-8s %.3f ms/page [%.3f–%.3f]  (%.0f pages/s wall)\n", impl, med[impl], slices.Min(ms), slices.Max(ms), median(mapf(cpuRounds[impl], result.pagesPerSec)))
	}
	if !c.skipColly {
		fmt.Printf("  fetcher/colly = %.2f\n", med["fetcher"]/med["colly"])
	}
	pps := mapf(tput, result.pagesPerSec)
	var rss []float64
	for _, r := range tput {
		rss = append(rss, float64(r.MaxRSSKiB)/1024)
	}
	fmt.Printf("\nThroughput (fixture latency %s, %d concurrent over %d hosts, %d rounds of %s; median [min–max]):\n", c.latency, c.concurrency, c.hosts, c.rounds, c.duration)
	fmt.Printf("  fetcher  %.0f pages/s [%.0f–%.0f]  (ceiling %.0f), CPU %.3f ms/page, peak RSS %.1f MiB [%.1f–%.1f]\n",
		median(pps), slices.Min(pps), slices.Max(pps), float64(c.concurrency)/c.latency.Seconds(),
		median(mapf(tput, result.cpuMsPerPage)), median(rss), slices.Min(rss), slices.Max(rss))
	if collyTput != nil {
		fmt.Printf("  colly    %.0f pages/s (1 round), CPU %.3f ms/page, peak RSS %.1f MiB\n",
			collyTput.pagesPerSec(), collyTput.cpuMsPerPage(), float64(collyTput.MaxRSSKiB)/1024)
	}
	return nil
}

func mapf(rs []result, f func(result) float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// startServer starts the fixture in a child process.
func startServer(ctx context.Context, latency time.Duration) (string, func(), error) {
	cmd := exec.CommandContext(ctx, self(), "-serve", latency.String())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		stdin.Close()
		_ = cmd.Wait()
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "http://127.0.0.1:") {
		stop()
		return "", nil, fmt.Errorf("fixture server: %q: %v", line, err)
	}
	return strings.TrimSpace(line), stop, nil
}

// runLoop runs one fetch loop in a child process and returns its result,
// with the child's peak RSS.
func runLoop(ctx context.Context, c config, impl, base string, conc, hosts int) (result, error) {
	cmd := exec.CommandContext(ctx, self(), "-loop", "-impl", impl, "-base", base,
		"-concurrency", fmt.Sprint(conc), "-hosts", fmt.Sprint(hosts),
		"-duration", c.duration.String(), "-warmup", c.warmup.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("%s loop: %w", impl, err)
	}
	var r result
	if err := json.Unmarshal(out, &r); err != nil {
		return result{}, fmt.Errorf("%s loop: %q: %w", impl, out, err)
	}
	if r.Errors > 0 {
		return r, fmt.Errorf("%s loop: %d errors, the first: %s", impl, r.Errors, r.FirstError)
	}
	if r.Pages == 0 {
		return r, errors.New(impl + " loop: no pages")
	}
	return r, nil
}

func self() string {
	exe, err := os.Executable()
	if err != nil {
		return os.Args[0]
	}
	return exe
}

// serve is the fixture server child: it serves until its stdin closes.
func serve(latency string) error {
	d, err := time.ParseDuration(latency)
	if err != nil {
		return err
	}
	ln, err := fixture.Listen("127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("http://%s\n", ln.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	return fixture.Serve(ctx, ln, d)
}

// fetchFunc fetches one page, for worker w.
type fetchFunc func(ctx context.Context, n int) error

// loop is the fetching child: conc workers fetch for warmup+duration;
// pages, errors and CPU time are counted over the measured duration only.
func loop(ctx context.Context, c config) error {
	port := c.base[strings.LastIndexByte(c.base, ':')+1:]
	workers := make([]fetchFunc, c.concurrency)
	switch c.impl {
	case "fetcher":
		f := crawl.New(crawl.Options{AllowPrivate: true, Resolver: loopbackResolver{}, DialContext: loopbackOnly})
		defer f.CloseIdleConnections()
		rules := fixture.Rules()
		for w := range workers {
			j := job.Job{V: job.Version, RunID: "bench", Schedule: "bench", TargetID: "t", Extract: rules,
				ScheduledAt: time.Unix(0, 0).UTC()}
			host := w % c.hosts // a fixed host per worker: conc/hosts workers per host
			workers[w] = func(ctx context.Context, n int) error {
				j.URL = fmt.Sprintf("http://h%d.fixture.test:%s/page/%d", host, port, n)
				p, err := f.Fetch(ctx, j)
				if err != nil {
					return err
				}
				if l, _ := p.Fields["links"].([]string); len(l) != 20 || p.Fields["name"] == nil || p.Fields["price"] == nil {
					return fmt.Errorf("%s: fields %v", j.URL, p.Fields)
				}
				return nil
			}
		}
	case "colly":
		for w := range workers {
			workers[w] = bareColly(c.base)
		}
	default:
		return fmt.Errorf("unknown -impl %q", c.impl)
	}

	var (
		measuring atomic.Bool
		pages     atomic.Int64
		errs      atomic.Int64
		firstErr  atomic.Value
		next      atomic.Int64
		wg        sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, fetch := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				err := fetch(ctx, int(next.Add(1)))
				if ctx.Err() != nil {
					return
				}
				if !measuring.Load() {
					continue
				}
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				pages.Add(1)
			}
		}()
	}
	sleep(ctx, c.warmup)
	cpu0, t0 := cpuTime(), time.Now()
	measuring.Store(true)
	sleep(ctx, c.duration)
	measuring.Store(false)
	cpu, el := cpuTime()-cpu0, time.Since(t0)
	n, ne := pages.Load(), errs.Load()
	cancel()
	wg.Wait()
	r := result{Impl: c.impl, Concurrency: c.concurrency, Pages: n, Errors: ne, Seconds: el.Seconds(), CPUSeconds: cpu.Seconds(), MaxRSSKiB: contend.PeakRSS()}
	if s, ok := firstErr.Load().(string); ok {
		r.FirstError = s
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// bareColly is colly as its README shows it: one collector, the three
// rules as OnHTML callbacks, colly's own defaults (its transport too).
func bareColly(base string) fetchFunc {
	c := colly.NewCollector(colly.AllowURLRevisit())
	var name, price string
	var links []string
	priceRE := regexp.MustCompile(`([0-9]+\.[0-9]+)`)
	c.OnHTML("h1.name", func(e *colly.HTMLElement) { name = e.Text })
	c.OnHTML("p.price", func(e *colly.HTMLElement) {
		if m := priceRE.FindStringSubmatch(e.Text); m != nil {
			price = m[1]
		}
	})
	c.OnHTML("a.item", func(e *colly.HTMLElement) { links = append(links, e.Request.AbsoluteURL(e.Attr("href"))) })
	return func(ctx context.Context, n int) error {
		name, price, links = "", "", links[:0]
		u := fmt.Sprintf("%s/page/%d", base, n)
		if err := c.Visit(u); err != nil {
			return err
		}
		if name == "" || price == "" || len(links) != 20 {
			return fmt.Errorf("%s: name=%q price=%q links=%d", u, name, price, len(links))
		}
		return nil
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loopbackResolver resolves *.fixture.test to 127.0.0.1 and nothing else.
type loopbackResolver struct{}

func (loopbackResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if !strings.HasSuffix(host, ".fixture.test") {
		return nil, &net.DNSError{Err: "crawlbench resolves *.fixture.test only", Name: host, IsNotFound: true}
	}
	return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
}

// loopbackOnly dials loopback addresses only.
func loopbackOnly(ctx context.Context, network, addr string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().IsLoopback() {
		return nil, fmt.Errorf("crawlbench dials loopback only, not %s", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// cpuModel is the CPU's model name from /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
