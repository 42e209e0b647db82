package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/cronless/cronless/bench/contend"
)

// Contender is one crawler under test, run as a child process.
type Contender struct {
	Name string
	// Argv runs it; the suite appends the contender flags.
	Argv []string
	Env  []string
	// Bound marks the hand-written bound the ratios are taken to.
	Bound bool
	// Peer marks Scrapy and Crawlee, which join only c.PeerRounds rounds.
	Peer bool
}

// peerRound reports whether the peers run in round (1-based) of rounds:
// the middle peerRounds ones.
func peerRound(round, rounds, peerRounds int) bool {
	first := (rounds-peerRounds)/2 + 1
	return round >= first && round < first+peerRounds
}

// Contender names, in the order of each round.
const (
	Cronless = "cronless worker"
	Colly    = "bare colly"
	Bound    = "net/http bound"
	Scrapy   = "Scrapy"
	Crawlee  = "Crawlee"
	Pipeline = "cronless pipeline"
)

// goContenders are built from bench/contenders/<dir>.
var goContenders = []struct{ name, dir string }{
	{Cronless, "cronless"}, {Colly, "colly"}, {Bound, "nethtml"},
}

// prepareContenders builds the Go contenders into bin and finds the peers.
func prepareContenders(ctx context.Context, c Config, bin string) ([]Contender, []string, error) {
	want := func(name string) bool {
		return len(c.Only) == 0 || slices.ContainsFunc(c.Only, func(s string) bool { return strings.EqualFold(strings.TrimSpace(s), name) })
	}
	var out []Contender
	var notes []string
	// One go build for all of them: it links them in parallel.
	args := []string{"build", "-trimpath", "-o", bin + string(filepath.Separator)}
	for _, g := range goContenders {
		args = append(args, "./bench/contenders/"+g.dir)
	}
	args = append(args, "./bench/contenders/pipeline")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = c.Root
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("build the contenders: %v\n%s", err, b)
	}
	for _, g := range goContenders {
		if want(g.name) {
			out = append(out, Contender{Name: g.name, Argv: []string{filepath.Join(bin, g.dir)}, Bound: g.name == Bound})
		}
	}
	if c.SkipPeers {
		notes = append(notes, "Scrapy and Crawlee were not run (-skip-peers).")
		return out, notes, nil
	}
	if want(Scrapy) {
		if py, ok := scrapyPython(); ok {
			out = append(out, Contender{Name: Scrapy, Argv: []string{py, filepath.Join(c.Root, "bench/contenders/scrapy/flatlist.py")}, Peer: true})
		} else {
			notes = append(notes, "Scrapy was skipped: Debian's python3-scrapy is not installed (`make bench-peers`).")
		}
	}
	if want(Crawlee) {
		peers := filepath.Join(c.Root, "bench", "peers")
		node, err := exec.LookPath("node")
		if _, serr := os.Stat(filepath.Join(peers, "node_modules", "crawlee", "package.json")); serr == nil && err == nil {
			out = append(out, Contender{Name: Crawlee, Argv: []string{node, filepath.Join(c.Root, "bench/contenders/crawlee/flatlist.mjs")},
				Env: []string{"CRAWLEE_DIR=" + peers, "CRAWLEE_PERSIST_STORAGE=false", "CRAWLEE_STORAGE_DIR=" + filepath.Join(bin, "crawlee-storage")}, Peer: true})
		} else {
			notes = append(notes, "Crawlee was skipped: it is not installed in bench/peers (`make bench-peers`), or node is not on PATH.")
		}
	}
	return out, notes, nil
}

// scrapyPython is the Python that has Scrapy: Debian's /usr/bin/python3
// (python3-scrapy), else python3 on PATH.
func scrapyPython() (string, bool) {
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import scrapy").Run() == nil {
			return py, true
		}
	}
	return "", false
}

// Sample is one run of one contender.
type Sample struct {
	contend.Summary
	Round       int
	MaxRSSKiB   int64   // the child's VmHWM at its end
	ProcCPU     float64 // user+system of the whole process (start-up included)
	ProcSeconds float64 // wall time of the whole process
	Conns       int64   // connections the fixture accepted during the run
	Requests    int64   // requests the fixture served during the run
	Good        int     // output lines that match the fixture
	CheckErr    string
}

func (s Sample) PagesPerSec() float64 {
	if s.Seconds <= 0 {
		return 0
	}
	return float64(s.Pages) / s.Seconds
}

func (s Sample) CPUms() float64 {
	if s.Pages == 0 {
		return 0
	}
	return s.CPUSeconds * 1000 / float64(s.Pages)
}

func (s Sample) ProcCPUms() float64 {
	if s.Pages == 0 {
		return 0
	}
	return s.ProcCPU * 1000 / float64(s.Pages)
}

// runChild runs one contender over urlsFile and reads its summary.
func runChild(ctx context.Context, ct Contender, fx *fixtureProc, urlsFile string, urls []string, conc int, outFile string) (Sample, error) {
	argv := append(slices.Clone(ct.Argv), "-urls", urlsFile, "-concurrency", fmt.Sprint(conc), "-out", outFile, "-latency", fx.Latency.String())
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), ct.Env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	before, _ := fx.Stats()
	t0 := time.Now()
	err := cmd.Run()
	el := time.Since(t0)
	after, _ := fx.Stats()
	if err != nil {
		return Sample{}, fmt.Errorf("%s: %v\n%s", ct.Name, err, tail(stderr.String(), 2000))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var s Sample
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s.Summary); err != nil {
		return Sample{}, fmt.Errorf("%s: summary %q: %v\n%s", ct.Name, lines[len(lines)-1], err, tail(stderr.String(), 2000))
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.ProcCPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	// The child's own VmHWM: wait4's ru_maxrss is not the child's alone (a
	// child started with vfork+exec, as Go starts it, inherits the parent's
	// high-water mark into it at exec).
	s.MaxRSSKiB = s.PeakRSSKiB
	s.ProcSeconds = el.Seconds()
	s.Conns, s.Requests = after.Conns-before.Conns, after.Requests-before.Requests
	if outFile != "" {
		good, cerr := contend.Check(outFile, urls)
		s.Good = good
		if cerr != nil {
			s.CheckErr = cerr.Error()
		}
		_ = os.Remove(outFile)
	}
	return s, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// Cell is one (latency, concurrency) of the crawl table.
type Cell struct {
	Latency     time.Duration
	Concurrency int
	Samples     map[string][]Sample // by contender, one per round
}

func runCrawls(ctx context.Context, c Config, contenders []Contender, r *Report, logf func(string, ...any)) error {
	tmp, err := os.MkdirTemp("", "cronless-bench-urls-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, lat := range c.Latencies {
		fx, urlsFile, urls, err := fixtureWithURLs(ctx, lat, tmp, c.Pages)
		if err != nil {
			return err
		}
		for _, conc := range c.Concurrency {
			cell := &Cell{Latency: lat, Concurrency: conc, Samples: map[string][]Sample{}}
			for round := 1; round <= c.Rounds; round++ {
				for _, ct := range contenders {
					if ct.Peer && !peerRound(round, c.Rounds, c.PeerRounds) {
						continue
					}
					s, err := runChild(ctx, ct, fx, urlsFile, urls, conc, filepath.Join(tmp, "out.jsonl"))
					if err != nil {
						fx.stop()
						return err
					}
					s.Round = round
					cell.Samples[ct.Name] = append(cell.Samples[ct.Name], s)
					logf("  latency %-5s c=%-3d round %d  %-16s %7.0f pages/s  %.3f CPU ms/page  %5.1f MiB  %d/%d ok%s",
						lat, conc, round, ct.Name, s.PagesPerSec(), s.CPUms(), float64(s.MaxRSSKiB)/1024, s.Good, c.Pages, errNote(s))
				}
			}
			r.Cells = append(r.Cells, cell)
		}
		fx.stop()
	}
	return nil
}

func errNote(s Sample) string {
	var parts []string
	if s.Errors > 0 {
		parts = append(parts, fmt.Sprintf("%d errors (%s)", s.Errors, s.FirstError))
	}
	if s.CheckErr != "" {
		parts = append(parts, "check: "+s.CheckErr)
	}
	if len(parts) == 0 {
		return ""
	}
	return "  " + strings.Join(parts, "; ")
}

// PipeCell is the pipeline against bare colly at one latency.
type PipeCell struct {
	Latency     time.Duration
	Concurrency int
	Pipeline    []Sample
	Colly       []Sample
	// Tmpfs is the pipeline with its SQLite file on /dev/shm (tmpfs):
	// the same work without the cost of fsync.
	Tmpfs []Sample
}

func runPipeline(ctx context.Context, c Config, contenders []Contender, r *Report, logf func(string, ...any)) error {
	colly := slices.IndexFunc(contenders, func(ct Contender) bool { return ct.Name == Colly })
	if colly < 0 {
		return nil
	}
	tmp, err := os.MkdirTemp("", "cronless-bench-pipe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	pipe := Contender{Name: Pipeline, Argv: []string{filepath.Join(filepath.Dir(contenders[colly].Argv[0]), "pipeline")}}
	var shm *Contender
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		shm = &Contender{Name: Pipeline + " (tmpfs)", Argv: pipe.Argv, Env: []string{"TMPDIR=/dev/shm"}}
	}
	conc := slices.Max(c.Concurrency)
	for _, lat := range c.PipeLatency {
		fx, urlsFile, urls, err := fixtureWithURLs(ctx, lat, tmp, c.Pages)
		if err != nil {
			return err
		}
		cell := &PipeCell{Latency: lat, Concurrency: conc}
		for round := 1; round <= c.PipeRounds; round++ {
			s, err := runChild(ctx, pipe, fx, urlsFile, urls, conc, filepath.Join(tmp, "out.jsonl"))
			if err != nil {
				fx.stop()
				return err
			}
			// The pipeline's window is tick → drained, without set-up and read-back.
			s.Round, s.Seconds, s.CPUSeconds = round, s.Extra["drain_seconds"], s.Extra["drain_cpu_seconds"]
			cell.Pipeline = append(cell.Pipeline, s)
			logf("  pipeline latency %-5s c=%d round %d  %7.0f pages/s  %.3f CPU ms/page  %5.1f MiB  %d/%d ok%s",
				lat, conc, round, s.PagesPerSec(), s.CPUms(), float64(s.MaxRSSKiB)/1024, s.Good, c.Pages, errNote(s))
			k, err := runChild(ctx, contenders[colly], fx, urlsFile, urls, conc, filepath.Join(tmp, "out.jsonl"))
			if err != nil {
				fx.stop()
				return err
			}
			k.Round = round
			cell.Colly = append(cell.Colly, k)
			logf("  pipeline latency %-5s c=%d round %d  bare colly %7.0f pages/s", lat, conc, round, k.PagesPerSec())
			if shm != nil {
				s, err := runChild(ctx, *shm, fx, urlsFile, urls, conc, filepath.Join(tmp, "out.jsonl"))
				if err != nil {
					fx.stop()
					return err
				}
				s.Round, s.Seconds, s.CPUSeconds = round, s.Extra["drain_seconds"], s.Extra["drain_cpu_seconds"]
				cell.Tmpfs = append(cell.Tmpfs, s)
				logf("  pipeline latency %-5s c=%d round %d  on tmpfs %7.0f pages/s", lat, conc, round, s.PagesPerSec())
			}
		}
		fx.stop()
		r.Pipe = append(r.Pipe, cell)
	}
	return nil
}

// fixtureWithURLs starts the fixture site with latency and writes the URLs
// of its first pages to urls.txt in dir.
func fixtureWithURLs(ctx context.Context, latency time.Duration, dir string, pages int) (fx *fixtureProc, urlsFile string, urls []string, err error) {
	fx, err = startFixture(ctx, latency)
	if err != nil {
		return nil, "", nil, err
	}
	urlsFile = filepath.Join(dir, "urls.txt")
	urls, err = fx.URLs(urlsFile, pages)
	if err != nil {
		fx.stop()
		return nil, "", nil, err
	}
	return fx, urlsFile, urls, nil
}
