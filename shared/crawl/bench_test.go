package crawl

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cronless/cronless/bench/fixture"
	"github.com/gocolly/colly/v2"
)

// The benchmarks fetch the fixture site (bench/fixture) served by a child
// process: this test binary, started again with fixtureEnv set. So the
// process's CPU time (getrusage), reported as cpu-ns/op, is the client's
// alone: the server's work is not in it.
//
//	go test -run '^$' -bench . -benchmem ./shared/crawl/
const fixtureEnv = "CRONLESS_CRAWL_FIXTURE_LATENCY"

func TestMain(m *testing.M) {
	if v, ok := os.LookupEnv(fixtureEnv); ok {
		os.Exit(serveFixtureChild(v))
	}
	code := m.Run()
	stopFixtures()
	os.Exit(code)
}

// serveFixtureChild serves the fixture on 127.0.0.1, prints its URL, and
// exits when its standard input closes (the parent is gone).
func serveFixtureChild(latency string) int {
	d, err := time.ParseDuration(latency)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ln, err := fixture.Listen("127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("http://%s\n", ln.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	if err := fixture.Serve(ctx, ln, d); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// The fixture processes, one per latency, started on first use and shared
// by every run of every benchmark (a benchmark function runs several times
// as b.N grows); TestMain stops them.
var fixtures struct {
	sync.Mutex
	urls  map[time.Duration]string
	stops []func()
}

func stopFixtures() {
	fixtures.Lock()
	defer fixtures.Unlock()
	for _, stop := range fixtures.stops {
		stop()
	}
}

// startFixture returns the base URL of the fixture server process with
// that latency, starting it if need be.
func startFixture(b *testing.B, latency time.Duration) string {
	b.Helper()
	fixtures.Lock()
	defer fixtures.Unlock()
	if u, ok := fixtures.urls[latency]; ok {
		return u
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), fixtureEnv+"="+latency.String())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stop := func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "http://127.0.0.1:") {
		stop()
		b.Fatalf("fixture server: %q, %v", line, err)
	}
	if fixtures.urls == nil {
		fixtures.urls = map[time.Duration]string{}
	}
	fixtures.urls[latency] = strings.TrimSpace(line)
	fixtures.stops = append(fixtures.stops, stop)
	return fixtures.urls[latency]
}

// cpuTime is the user+system CPU time this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs loop and reports cpu-ns/op (the process's CPU time per
// page) and pages/s beside ns/op.
func measure(b *testing.B, loop func()) {
	b.Helper()
	b.ReportAllocs()
	cpu0, t0 := cpuTime(b), time.Now()
	loop()
	cpu, el := cpuTime(b)-cpu0, time.Since(t0)
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(b.N)/el.Seconds(), "pages/s")
}

// loopbackResolver resolves every name to 127.0.0.1: the benchmarks spread
// their fetches over many host names of the one fixture server, as a batch
// spreads over many sites, so the per-host limit is not what is measured.
type loopbackResolver struct{}

func (loopbackResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if !strings.HasSuffix(host, ".fixture.test") {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
}

// hostURL is page n of the fixture at base, on host name h.
func hostURL(base string, h, n int) string {
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(base, "http://"))
	return fmt.Sprintf("http://h%d.fixture.test:%s/page/%d", h, port, n)
}

func checkPage(b *testing.B, p Page) {
	if len(p.Fields["links"].([]string)) != 20 || p.Fields["name"] == nil || p.Fields["price"] == nil {
		b.Fatalf("fields = %v", p.Fields)
	}
}

// BenchmarkFetch is the CPU cost of one page: fetch (keep-alive, robots.txt
// cached), parse, three rules and the built-in fields, hashes.
func BenchmarkFetch(b *testing.B) {
	base := startFixture(b, 0)
	f := New(Options{AllowPrivate: true, Resolver: loopbackResolver{}})
	defer f.CloseIdleConnections()
	j := testJob("", fixture.Rules())
	j.Robots = nil
	ctx := context.Background()
	b.SetBytes(int64(len(fixture.Page(0))))
	measure(b, func() {
		i := 0
		for b.Loop() {
			j.URL = hostURL(base, 0, i)
			i++
			p, err := f.Fetch(ctx, j)
			if err != nil {
				b.Fatal(err)
			}
			checkPage(b, p)
		}
	})
}

// BenchmarkBareColly is what a plain colly collector costs for the same
// page and the same three rules: the reference the CPU target is
// set against.
func BenchmarkBareColly(b *testing.B) {
	base := startFixture(b, 0)
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
	b.SetBytes(int64(len(fixture.Page(0))))
	measure(b, func() {
		i := 0
		for b.Loop() {
			name, price, links = "", "", links[:0]
			if err := c.Visit(fmt.Sprintf("%s/page/%d", base, i)); err != nil {
				b.Fatal(err)
			}
			i++
			if name == "" || price == "" || len(links) != 20 {
				b.Fatalf("name=%q price=%q links=%d", name, price, len(links))
			}
		}
	})
}

// BenchmarkFetchParallel is the throughput of 64 concurrent fetches against
// the fixture with 50 ms latency, spread over 32 host names, 2 fetches per
// host (the default per-host limit). pages/s is the figure; 64/50ms = 1280
// is the ceiling. bench/crawlbench measures the same over a longer window.
func BenchmarkFetchParallel(b *testing.B) {
	const conc, hosts = 64, 32
	base := startFixture(b, 50*time.Millisecond)
	f := New(Options{AllowPrivate: true, Resolver: loopbackResolver{}})
	defer f.CloseIdleConnections()
	rules := fixture.Rules()
	// Warm up, unmeasured: a connection and robots.txt per host.
	var wg sync.WaitGroup
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j := testJob(hostURL(base, w%hosts, w), rules)
			j.Robots = nil
			if _, err := f.Fetch(context.Background(), j); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	var next, worker atomic.Int64
	b.SetParallelism((conc + 1) / 2) // × GOMAXPROCS=2
	measure(b, func() {
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			host := int(worker.Add(1)) % hosts // 2 goroutines per host
			j := testJob("", rules)
			j.Robots = nil
			for pb.Next() {
				j.URL = hostURL(base, host, int(next.Add(1)))
				p, err := f.Fetch(ctx, j)
				if err != nil {
					b.Error(err)
					return
				}
				checkPage(b, p)
			}
		})
	})
}

// BenchmarkBaselineHTTP is the floor: a plain net/http GET of the same
// page, body read, no parsing.
func BenchmarkBaselineHTTP(b *testing.B) {
	base := startFixture(b, 0)
	client := &http.Client{Transport: &http.Transport{}}
	b.SetBytes(int64(len(fixture.Page(0))))
	measure(b, func() {
		i := 0
		for b.Loop() {
			resp, err := client.Get(fmt.Sprintf("%s/page/%d", base, i))
			if err != nil {
				b.Fatal(err)
			}
			i++
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}
