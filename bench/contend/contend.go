// Package contend is what the Go contenders of the side-by-side benchmark
// (bench/suite) share: the command line every contender takes (the same as
// the Scrapy and Crawlee scripts), the JSON-lines output, and the summary a
// contender prints when it is done.
//
// A contender crawls a flat list of URLs (one per line in a file) with a
// given number of requests at once, extracts each page's title, h1 and link
// count to one JSON line, and prints a Summary as its last line of output:
// the pages it wrote, and the wall and CPU time of the crawl itself (from
// just before the first request to just after the last line is written), so
// process start-up is not counted. The suite reads the peak RSS and the
// whole process's CPU time from wait4.
package contend

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cronless/cronless/bench/fixture"
)

// Config is a contender's command line.
type Config struct {
	URLs        []string // from -urls, a file of one URL per line
	Concurrency int      // -concurrency: requests at once
	Out         string   // -out: the JSON-lines file ("" discards)
	// Latency is the fixture's latency (-latency), for contenders that
	// size something from it; most ignore it.
	Latency time.Duration
	// CPUProfile, when set, is where the crawl's CPU profile is written
	// (-cpuprofile; Go contenders only).
	CPUProfile string
}

// Summary is what a contender prints last.
type Summary struct {
	Pages      int64   `json:"pages"`
	Errors     int64   `json:"errors"`
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"cpu_seconds"`
	FirstError string  `json:"first_error,omitempty"`
	// PeakRSSKiB is the process's VmHWM (/proc/self/status) at the end:
	// its peak resident set since it started. (wait4's ru_maxrss is not
	// used: a child started by vfork+exec, as Go starts it, inherits its
	// parent's high-water mark there.)
	PeakRSSKiB int64 `json:"peak_rss_kib"`
	// Extra holds contender-specific figures (connections opened, …).
	Extra map[string]float64 `json:"extra,omitempty"`
}

// Record is one page's output line. Contenders that write their own format
// (the cronless worker writes its result messages) are read by Parse.
type Record struct {
	URL   string `json:"url"`
	Title string `json:"title"`
	H1    string `json:"h1"`
	Links int    `json:"links"`
}

// Writer writes JSON lines; it is safe for concurrent use.
type Writer struct {
	mu    sync.Mutex
	w     *bufio.Writer
	f     *os.File
	lines int64
}

// Create opens path for writing ("" discards the lines but counts them).
func Create(path string) (*Writer, error) {
	w := &Writer{}
	if path != "" {
		f, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		w.f, w.w = f, bufio.NewWriterSize(f, 64<<10)
	}
	return w, nil
}

// Write writes v as one JSON line.
func (w *Writer) Write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return w.WriteLine(b)
}

// WriteLine writes b, which must be one line of JSON without its newline.
func (w *Writer) WriteLine(b []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lines++
	if w.w == nil {
		return nil
	}
	if _, err := w.w.Write(b); err != nil {
		return err
	}
	return w.w.WriteByte('\n')
}

// Lines is how many lines were written.
func (w *Writer) Lines() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lines
}

// Close flushes and closes the file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.w == nil {
		return nil
	}
	err := w.w.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.w = nil
	return err
}

// Errors counts failed pages and keeps the first error; it is safe for
// concurrent use.
type Errors struct {
	mu    sync.Mutex
	n     int64
	first string
}

// Add counts err.
func (e *Errors) Add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	if e.first == "" {
		e.first = err.Error()
	}
}

// Count is how many errors were added, and the first.
func (e *Errors) Count() (int64, string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n, e.first
}

// RunFunc crawls cfg.URLs, writing a line per page to w and counting failed
// pages in errs. It may fill extra.
type RunFunc func(ctx context.Context, cfg Config, w *Writer, errs *Errors, extra map[string]float64) error

// Run reads the flags in args, runs fn over the measured window and returns
// its summary.
func Run(ctx context.Context, name string, args []string, fn RunFunc) (Summary, error) {
	cfg, err := ParseFlags(name, args)
	if err != nil {
		return Summary{}, err
	}
	return Measure(ctx, cfg, fn)
}

// ParseFlags reads a contender's command line.
func ParseFlags(name string, args []string) (Config, error) {
	var cfg Config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	urls := fs.String("urls", "", "file of the URLs to crawl, one per line")
	fs.IntVar(&cfg.Concurrency, "concurrency", 16, "requests at once")
	fs.StringVar(&cfg.Out, "out", "", "JSON-lines output file (default: discard)")
	fs.DurationVar(&cfg.Latency, "latency", 0, "the fixture's latency (informative)")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of the crawl here")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if *urls == "" {
		return cfg, errors.New("-urls is required")
	}
	if cfg.Concurrency < 1 {
		return cfg, fmt.Errorf("-concurrency %d: at least 1", cfg.Concurrency)
	}
	var err error
	cfg.URLs, err = ReadURLs(*urls)
	return cfg, err
}

// Measure runs fn on cfg and measures it.
func Measure(ctx context.Context, cfg Config, fn RunFunc) (Summary, error) {
	w, err := Create(cfg.Out)
	if err != nil {
		return Summary{}, err
	}
	var errs Errors
	extra := map[string]float64{}
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return Summary{}, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return Summary{}, err
		}
		defer pprof.StopCPUProfile()
	}
	cpu0, t0 := CPUTime(), time.Now()
	err = fn(ctx, cfg, w, &errs, extra)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	el, cpu := time.Since(t0), CPUTime()-cpu0
	n, first := errs.Count()
	s := Summary{Pages: w.Lines(), Errors: n, FirstError: first, Seconds: el.Seconds(), CPUSeconds: cpu.Seconds(), PeakRSSKiB: PeakRSS()}
	if len(extra) > 0 {
		s.Extra = extra
	}
	return s, err
}

// Main is a Go contender's main: it runs fn with os.Args and prints the
// summary as JSON on stdout.
func Main(name string, fn RunFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	s, err := Run(ctx, name, os.Args[1:], fn)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(s); err != nil {
		os.Exit(1)
	}
}

// ReadURLs reads a file of one URL per line (blank lines are skipped).
func ReadURLs(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no URLs", path)
	}
	return out, nil
}

// CPUTime is the user+system time of this process so far.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// PeakRSS is this process's VmHWM in KiB (0 when unknown).
func PeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var n int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &n)
			return n
		}
	}
	return 0
}

// Parse reads one output line of any contender: a Record, or a cronless
// result message ({"url":…, "fields": {"title":…, "h1":…, "links":[…]}}).
func Parse(line []byte) (Record, error) {
	var v struct {
		Record
		Fields *struct {
			Title string   `json:"title"`
			H1    string   `json:"h1"`
			Links []string `json:"links"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(line, &v); err != nil {
		return Record{}, err
	}
	r := v.Record
	if v.Fields != nil {
		r.Title, r.H1, r.Links = v.Fields.Title, v.Fields.H1, len(v.Fields.Links)
	}
	return r, nil
}

// Check reads the JSON lines at path and checks them against the fixture:
// one line per URL of urls, each with the page's title, h1 and 21 links
// (the 20 related products and the logo). It returns how many lines were
// right, and the first problem.
func Check(path string, urls []string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	want := make(map[string]bool, len(urls))
	for _, u := range urls {
		want[u] = true
	}
	good := 0
	var first error
	fail := func(format string, args ...any) {
		if first == nil {
			first = fmt.Errorf(format, args...)
		}
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		r, err := Parse([]byte(l))
		if err != nil {
			fail("line %q: %v", l, err)
			continue
		}
		if !want[r.URL] {
			fail("%s: not in the list, or seen twice", r.URL)
			continue
		}
		delete(want, r.URL)
		i := strings.LastIndex(r.URL, "/page/")
		var n int
		if _, err := fmt.Sscanf(r.URL[i+len("/page/"):], "%d", &n); i < 0 || err != nil {
			fail("%s: not a fixture page", r.URL)
			continue
		}
		n %= fixture.Pages
		wantTitle, wantH1 := fmt.Sprintf("Fixture product %d | Bench shop", n), fmt.Sprintf("Widget %d", n)
		if strings.TrimSpace(r.Title) != wantTitle || strings.TrimSpace(r.H1) != wantH1 || r.Links != fixture.LinksPerPage {
			fail("%s: title %q h1 %q links %d, want %q %q %d", r.URL, r.Title, r.H1, r.Links, wantTitle, wantH1, fixture.LinksPerPage)
			continue
		}
		good++
	}
	if first == nil && len(want) > 0 {
		first = fmt.Errorf("%d URLs have no line", len(want))
	}
	return good, first
}
