package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cronless/cronless/bench/fixture"
	"github.com/cronless/cronless/shared/crawl"
)

// The memory section (issue 13, point 4): one batch of 10 big pages from 10
// hosts, crawled by the worker core (bench/memcrawl, a child process, so
// its peak RSS is its own) configured from AWS_LAMBDA_FUNCTION_MEMORY_SIZE
// as functions/worker is, and the parse factor behind its budget
// (shared/crawl's BenchmarkParseMemory).

// memoryHosts is the number of hosts, 127.0.0.2 … 127.0.0.11: loopback on
// Linux, each a host of its own to the crawler's per-host limit.
const memoryHosts = 10

// MemoryCase is one configuration of the memory section.
type MemoryCase struct {
	Name        string
	FunctionMB  int // 0: no gate, no GOMEMLIMIT (today's worker, for comparison)
	Concurrency int
	PageBytes   int
	Target      bool // the acceptance case: peak RSS < 70 % of FunctionMB
}

// MemorySample is one run of a case: memcrawl's summary.
type MemorySample struct {
	FunctionMB   int            `json:"function_mb"`
	BudgetBytes  int64          `json:"budget_bytes"`
	MemLimit     int64          `json:"memory_limit_bytes"`
	Pages        int            `json:"pages"`
	OK           int            `json:"ok"`
	Failed       map[string]int `json:"failed"`
	FirstFailure string         `json:"first_failure"`
	BatchFailed  int            `json:"batch_item_failures"`
	Seconds      float64        `json:"seconds"`
	PeakRSSKiB   int64          `json:"peak_rss_kib"`
}

// MemoryRow is a case and its rounds.
type MemoryRow struct {
	Case    MemoryCase
	Samples []MemorySample
}

// ParseRow is one size of BenchmarkParseMemory.
type ParseRow struct {
	Size                         string
	AllocMiB, AllocX, LiveMiB, X float64
}

// Memory is the memory section's report.
type Memory struct {
	Rows  []MemoryRow
	Parse []ParseRow
	Err   string // the parse benchmark's failure, if any
}

func memoryCases(pageBytes int) []MemoryCase {
	return []MemoryCase{
		{Name: "baseline: 10 small pages", FunctionMB: 512, Concurrency: 10, PageBytes: 20 << 10},
		{Name: "512 MB, 10 crawls at once", FunctionMB: 512, Concurrency: 10, PageBytes: pageBytes, Target: true},
		{Name: "256 MB, 5 crawls at once", FunctionMB: 256, Concurrency: 5, PageBytes: pageBytes, Target: true},
		// Pages just under the default body limit (5 MiB; smaller in the smoke
		// test), at the smallest
		// memory the issue asks about.
		{Name: "256 MB, 5 at once, pages of 5 MiB", FunctionMB: 256, Concurrency: 5, PageBytes: min(crawl.DefaultMaxBodyBytes-8<<10, pageBytes*5/4), Target: true},
		{Name: "no gate (before issue 13), 10 at once", FunctionMB: 0, Concurrency: 10, PageBytes: pageBytes},
	}
}

func runMemory(ctx context.Context, c Config, bin string, r *Report, logf func(string, ...any)) error {
	exe := filepath.Join(bin, "memcrawl")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", exe, "./bench/memcrawl")
	build.Dir = c.Root
	if b, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build bench/memcrawl: %v\n%s", err, b)
	}
	m := &Memory{}
	r.Memory = m
	for _, mc := range memoryCases(c.MemoryPageBytes) {
		urls, stop, err := serveBigPages(mc.PageBytes)
		if err != nil {
			return err
		}
		row := MemoryRow{Case: mc}
		for round := 1; round <= c.MemoryRounds; round++ {
			s, err := runMemcrawl(ctx, exe, mc, urls)
			if err != nil {
				stop()
				return fmt.Errorf("memory %q: %w", mc.Name, err)
			}
			row.Samples = append(row.Samples, s)
			logf("  memory %-40s round %d  peak RSS %6.1f MiB  %d/%d ok  %.1f s%s", mc.Name, round, float64(s.PeakRSSKiB)/1024, s.OK, s.Pages, s.Seconds, failNote(s))
		}
		stop()
		m.Rows = append(m.Rows, row)
	}
	parse, err := parseFactorBench(ctx, c.Root)
	if err != nil {
		m.Err = err.Error()
	}
	m.Parse = parse
	return nil
}

func failNote(s MemorySample) string {
	if s.OK == s.Pages {
		return ""
	}
	return fmt.Sprintf("  failed %v, %d batch item failures: %s", s.Failed, s.BatchFailed, s.FirstFailure)
}

// serveBigPages serves fixture.DocPage(i, size) on 127.0.0.(2+i) for each
// of memoryHosts hosts, with an allow-all robots.txt, and returns the page
// URLs and a stop function.
func serveBigPages(size int) (urls []string, stop func(), err error) {
	var srvs []*http.Server
	stop = func() {
		for _, s := range srvs {
			_ = s.Close()
		}
	}
	for i := range memoryHosts {
		page := fixture.DocPage(i, size)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", 2+i))
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("listen on 127.0.0.%d (loopback on Linux): %w", 2+i, err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /robots.txt", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte(fixture.RobotsTxt))
		})
		mux.HandleFunc("GET /doc.html", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Length", strconv.Itoa(len(page)))
			_, _ = w.Write(page)
		})
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		srvs = append(srvs, srv)
		go func() { _ = srv.Serve(ln) }()
		urls = append(urls, "http://"+ln.Addr().String()+"/doc.html")
	}
	return urls, stop, nil
}

// runMemcrawl runs bench/memcrawl over urls as mc says, in the environment
// serverless.yml gives the worker (GOGC=200).
func runMemcrawl(ctx context.Context, exe string, mc MemoryCase, urls []string) (MemorySample, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-concurrency", strconv.Itoa(mc.Concurrency), "-urls", strings.Join(urls, ","))
	env := []string{"GOGC=200"}
	if mc.FunctionMB > 0 {
		env = append(env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(mc.FunctionMB))
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GOMEMLIMIT=") && !strings.HasPrefix(kv, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return MemorySample{}, fmt.Errorf("%v\n%s", err, tail(stderr.String(), 2000))
	}
	var s MemorySample
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &s); err != nil {
		return MemorySample{}, fmt.Errorf("summary %q: %w", stdout.String(), err)
	}
	return s, nil
}

// parseLine is a line of BenchmarkParseMemory's output.
var parseLine = regexp.MustCompile(`^BenchmarkParseMemory/(\S+?)-\d+\s+\d+\s+\d+ ns/op\s+([\d.]+) alloc-MiB\s+([\d.]+) alloc-x\s+([\d.]+) live-MiB\s+([\d.]+) live-x`)

// parseFactorBench runs shared/crawl's BenchmarkParseMemory.
func parseFactorBench(ctx context.Context, root string) ([]ParseRow, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "ParseMemory", "-benchtime", "3x", "./shared/crawl/")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench ParseMemory: %v\n%s", err, tail(string(out), 2000))
	}
	var rows []ParseRow
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := parseLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		var v [4]float64
		for i := range v {
			v[i], _ = strconv.ParseFloat(m[2+i], 64)
		}
		rows = append(rows, ParseRow{Size: m[1], AllocMiB: v[0], AllocX: v[1], LiveMiB: v[2], X: v[3]})
	}
	if len(rows) == 0 {
		return nil, errors.New("go test -bench ParseMemory printed no result lines")
	}
	return rows, nil
}

// memoryTable renders the memory section.
func (r *Report) memoryTable(p func(string, ...any)) {
	m := r.Memory
	if m == nil {
		return
	}
	p("## Memory: one batch of 10 big pages from 10 hosts (issue 13)")
	p("")
	p("The worker core (`bench/memcrawl`: one SQS event of 10 jobs through `worker.Handle`, a child process) configured from `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` as `functions/worker` is: the parse budget `crawl.MemoryBudget` (%d %% of the memory less a %d MiB baseline) and `GOMEMLIMIT` `crawl.MemoryLimit` (%d %%), with `GOGC=200` as serverless.yml sets it. Each job fetches one page of `fixture.DocPage` (documentation-like HTML, %s) from its own host, 127.0.0.2 … 127.0.0.11, robots.txt included, and extracts h1, the code block and the sidebar's links. Peak RSS is the child's VmHWM at its end; the target is under 70 %% of the function's memory. %d rounds per case.",
		crawl.MemoryBudgetPercent, crawl.MemoryBaselineMiB, crawl.MemoryLimitPercent, mib(int64(r.Config.MemoryPageBytes)), r.Config.MemoryRounds)
	p("")
	p("| case | memory | crawls at once | parse budget | GOMEMLIMIT | pages ok | peak RSS (max of rounds) | target (< 70 %%) | batch time |")
	p("|---|---:|---:|---:|---:|---:|---:|---|---:|")
	for _, row := range m.Rows {
		if len(row.Samples) == 0 {
			continue
		}
		var peak int64
		ok, pages := 0, 0
		var secs []float64
		for _, s := range row.Samples {
			peak = max(peak, s.PeakRSSKiB)
			ok, pages = ok+s.OK, pages+s.Pages
			secs = append(secs, s.Seconds)
		}
		s0 := row.Samples[0]
		memory, budget, limit, target := "–", "none", "none", "–"
		if row.Case.FunctionMB > 0 {
			memory = fmt.Sprintf("%d MB", row.Case.FunctionMB)
			budget = mib(s0.BudgetBytes)
			if s0.MemLimit > 0 && s0.MemLimit < 1<<62 {
				limit = mib(s0.MemLimit)
			}
		}
		if row.Case.Target {
			lim := float64(row.Case.FunctionMB) * 0.7
			target = fmt.Sprintf("%s (%.0f MiB)", okMark(float64(peak)/1024 < lim && ok == pages), lim)
		}
		p("| %s | %s | %d | %s | %s | %d/%d | %.1f MiB | %s | %s s |", row.Case.Name, memory, row.Case.Concurrency, budget, limit, ok, pages,
			float64(peak)/1024, target, rangeStr(secs, "%.1f"))
	}
	p("")
	p("The parse factor (`crawl.ParseFactor` = %d, the gate reserves body × (factor + 1)) comes from `go test -run '^$' -bench ParseMemory -benchtime 3x ./shared/crawl/`: the same parse, extraction and canonical JSON as `fetchPage`, on `fixture.DocPage` of each size. *allocated* is every byte allocated with the GC off (the peak if it never ran); *live* is what a GC leaves while the tree and fields are held (the floor of the peak).", crawl.ParseFactor)
	p("")
	if m.Err != "" {
		p("The parse benchmark failed: %s", m.Err)
		p("")
		return
	}
	p("| page | allocated | per body byte | live | per body byte |")
	p("|---|---:|---:|---:|---:|")
	for _, pr := range m.Parse {
		p("| %s | %.1f MiB | %.1f | %.1f MiB | %.1f |", pr.Size, pr.AllocMiB, pr.AllocX, pr.LiveMiB, pr.X)
	}
	p("")
}
