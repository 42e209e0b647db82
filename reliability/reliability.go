// Package reliability holds what the fault-injection suite of cronless
// (the tests of this directory) shares beyond the tests themselves: the
// table of figures each scenario adds a row to, the Markdown page the full
// run writes (docs/reliability.md), and a sampler of peak memory.
//
// The suite runs the pipeline (shared/local.Pipeline) with N targets on the
// local backend (localq + localstore) and on the stand-ins (fauxqs +
// dynalite through sqsq + dynamo), injects one fault class at a time and
// then all at random, and after the system drains checks conservation (every
// planned (run, target) ends as a stored result or a dead letter, and after
// a replay as a result), no double counting (run counters equal the stored
// results; latest per target is the newest run's) and boundedness
// (goroutines back to their baseline, no message left in flight).
//
// `go test ./reliability/` runs a quick version (small N, the essential
// cases); `go test -tags reliability ./reliability/` (make reliability) runs
// all of it and writes docs/reliability.md.
package reliability

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"os"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Row is the figures of one fault class on one backend.
type Row struct {
	Class   string // fault class, e.g. "1 worker panics mid-batch"
	Backend string // "local" (localq + localstore), "stand-ins" (fauxqs + dynalite), "local (CLI)"
	// Planned is how many (run, target) pairs were planned (or messages
	// sent, for a queue-only scenario).
	Planned int
	// Stored is how many of them ended as a stored result.
	Stored int
	// DeadLettered is how many ended in a dead-letter queue before the
	// replay (poison messages included); Replayed how many of those a
	// replay turned into results.
	DeadLettered int
	Replayed     int
	// Poison is how many malformed messages were sent (they end in a DLQ,
	// never as a result).
	Poison int
	// Duplicates is how many deliveries were absorbed by idempotency: a
	// result put again (store reports Duplicate), or a page crawled again.
	Duplicates int
	// Faults is how many faults were injected.
	Faults int
	// Lost must be 0: planned pairs that are neither a result nor a dead letter.
	Lost int
	// PeakHeap and PeakRSS are the peaks sampled during the scenario (bytes).
	PeakHeap, PeakRSS uint64
	Took              time.Duration
	Note              string
}

// Table collects rows from concurrent tests.
type Table struct {
	mu   sync.Mutex
	rows []Row
}

// Add adds a row.
func (t *Table) Add(r Row) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rows = append(t.rows, r)
}

// Rows returns the rows ordered by class, then backend.
func (t *Table) Rows() []Row {
	t.mu.Lock()
	defer t.mu.Unlock()
	rows := slices.Clone(t.rows)
	slices.SortStableFunc(rows, func(a, b Row) int {
		return cmp.Or(classOrder(a.Class)-classOrder(b.Class), strings.Compare(a.Class, b.Class), strings.Compare(a.Backend, b.Backend))
	})
	return rows
}

// classOrder sorts "10 …" after "9 …" and "random" last.
func classOrder(class string) int {
	n, _, _ := strings.Cut(class, " ")
	if i, err := strconv.Atoi(strings.TrimRight(n, "abcdefgh")); err == nil {
		return i
	}
	return 100
}

// MiB formats bytes as mebibytes.
func MiB(b uint64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(b)/(1<<20))
}

// Markdown renders the table with a header paragraph.
func (t *Table) Markdown(header string) string {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString("\n| fault class | backend | planned | stored | dead-lettered | replayed → result | poison | duplicates absorbed | faults injected | lost | peak heap MiB | peak RSS MiB | took | notes |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, r := range t.Rows() {
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d | %d | %d | %d | **%d** | %s | %s | %.1fs | %s |\n",
			r.Class, r.Backend, r.Planned, r.Stored, r.DeadLettered, r.Replayed, r.Poison, r.Duplicates, r.Faults, r.Lost,
			MiB(r.PeakHeap), MiB(r.PeakRSS), r.Took.Seconds(), strings.ReplaceAll(r.Note, "|", "\\|"))
	}
	return b.String()
}

// Sampler samples the heap in use (runtime/metrics) and the resident set
// size (/proc/self/status) every interval until Stop, and keeps the peaks.
// The figures are the whole test process's: run scenarios one at a time
// when they matter.
type Sampler struct {
	stop     chan struct{}
	done     chan struct{}
	mu       sync.Mutex
	heap     uint64
	rss      uint64
	interval time.Duration
}

// StartSampler starts sampling.
func StartSampler(interval time.Duration) *Sampler {
	s := &Sampler{stop: make(chan struct{}), done: make(chan struct{}), interval: interval}
	s.sample()
	go s.loop()
	return s
}

func (s *Sampler) loop() {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			s.sample()
			return
		case <-t.C:
			s.sample()
		}
	}
}

var heapMetric = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}

func (s *Sampler) sample() {
	m := slices.Clone(heapMetric)
	metrics.Read(m)
	var heap uint64
	if m[0].Value.Kind() == metrics.KindUint64 {
		heap = m[0].Value.Uint64()
	}
	rss := RSS()
	s.mu.Lock()
	s.heap, s.rss = max(s.heap, heap), max(s.rss, rss)
	s.mu.Unlock()
}

// Stop stops sampling and returns the peaks (bytes).
func (s *Sampler) Stop() (heap, rss uint64) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.heap, s.rss
}

// RSS returns the process's resident set size (VmRSS), 0 where unknown.
func RSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
