package crawl

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/semaphore"
)

// The memory gate bounds the bytes being parsed at once by a budget derived
// from the function's memory (issue 13, point 4). x/net/html builds a tree
// many times the size of its input, so ten big pages parsed at once kill a
// 512 MB Lambda and the whole batch is retried. A page's parse waits (within
// its context) until its estimated memory fits in the budget; a page whose
// estimate exceeds the budget on its own fails at once, permanently, as
// KindTooLarge: it would fail the same way every time.

// ParseFactor is the heap x/net/html's tree and the extraction take per
// byte of HTML. Measured on generated documentation-like pages (nested
// sections, paragraphs with inline code and links, highlighted code blocks,
// tables: fixture.DocPage) by BenchmarkParseMemory, `go test -run '^$'
// -bench ParseMemory -benchtime 3x ./shared/crawl/`, Go 1.26, linux/amd64:
//
//	page    allocated (GC off)   live at the end (tree and fields held)
//	1 MiB   14.1 MiB   14.1 x    10.9 MiB   10.9 x
//	2 MiB   28.1 MiB   14.1 x    21.7 MiB   10.9 x
//	4 MiB   56.5 MiB   14.1 x    43.5 MiB   10.9 x
//	5 MiB   69.7 MiB   13.9 x    53.9 MiB   10.8 x
//
// The peak lies between the two, near the live tree once GOMEMLIMIT makes
// the GC run; issue 13's real page (4.3 MB of Rust documentation, about
// 45 MB to parse) is 10.5 x. 12 covers the tree and the tokenizer's
// transient buffers; the garbage above it is GOMEMLIMIT's to bound. The gate
// adds the body itself on top.
const ParseFactor = 12

// MemoryLimitPercent and MemoryBudgetPercent are shares of the function's
// memory (AWS_LAMBDA_FUNCTION_MEMORY_SIZE on Lambda, `cronless run
// --memory` locally): GOMEMLIMIT is set at MemoryLimitPercent, the parse
// budget is MemoryBudgetPercent less the baseline (MemoryBaselineMiB).
// Between them lie the bodies of the pages waiting to be parsed (10 × 5 MiB
// at most) and the GC's headroom: at 512 MB the live heap at a full budget
// is at most 17 + 50 + 173 = 240 MiB, under the 307 MiB limit. GOMEMLIMIT
// is what bounds RSS (GOGC=200 lets the heap grow to it): measured with 10
// pages of 4 MiB from 10 hosts (bench/suite's memory section), peak RSS was
// 283 to 307 MiB at 512 MB whether the budget was 35, 40 or 45 % (two or
// three parses at once; the batch times were not told apart on a shared,
// noisy machine, the GC using 3 to 10 % of the CPU), and 140 to 148 MiB at
// 256 MB with 5 crawls at once, 5 MiB pages included; with no gate the
// batch peaked at 493 to 503 MiB, which a 512 MB function does not
// survive. 40 % is the least that parses a page of DefaultMaxBodyBytes at
// 256 MB (MinFunctionMemoryMB). What lies above MemoryLimitPercent is for
// what the Go runtime does not count (the binary's pages), and keeps peak
// RSS under 70 % of the function.
const (
	MemoryLimitPercent  = 60
	MemoryBudgetPercent = 40
)

// MemoryBaselineMiB is the worker's memory before it parses any page: the
// Go runtime, the transport's connections and buffers, the goroutines'
// stacks. bench/suite's memory section measures the worker core crawling
// ten 20 KB pages at 17.5 MiB peak RSS; 32 leaves room for the Lambda
// function's AWS SDK client and runtime client, which that child does not
// link.
const MemoryBaselineMiB = 32

// MinFunctionMemoryMB is the smallest function memory whose budget parses
// a page of DefaultMaxBodyBytes (5 MiB × 13 = 65 MiB of budget: 40 % of
// 243 MB, less the baseline). Smaller functions work, but fail the pages
// too big for their budget as body_too_large: at 128 MB, those over
// 1.5 MiB (LargestBody).
const MinFunctionMemoryMB = (DefaultMaxBodyBytes*(ParseFactor+1)>>20+MemoryBaselineMiB)*100/MemoryBudgetPercent + 1

// MaxFunctionMemoryMB is Lambda's largest function memory.
const MaxFunctionMemoryMB = 10240

// DefaultFunctionMemoryMB is the deployed worker's memory (serverless.yml,
// params.default.workerMemory): `cronless run --memory`'s default.
const DefaultFunctionMemoryMB = 512

// MemoryBudget is the parse budget (Options.MemoryBudget) of a worker whose
// function has functionMB of memory (Lambda's MB are MiB: its 512 MB limit
// is 512 × 2^20 bytes). It is 0 (no gate) when functionMB is not positive,
// and never less than one byte, so a function too small for any page
// fails every page as too large rather than running ungated.
func MemoryBudget(functionMB int) int64 {
	if functionMB <= 0 {
		return 0
	}
	b := int64(functionMB)<<20*MemoryBudgetPercent/100 - MemoryBaselineMiB<<20
	return max(b, 1)
}

// MemoryLimit is the GOMEMLIMIT (runtime/debug.SetMemoryLimit) of a worker
// whose function has functionMB of memory; 0 when functionMB is not
// positive (no limit).
func MemoryLimit(functionMB int) int64 {
	if functionMB <= 0 {
		return 0
	}
	return int64(functionMB) << 20 * MemoryLimitPercent / 100
}

// ParseMemory is the memory the gate reserves to parse a body of n bytes:
// the tree and extraction (n × ParseFactor) and the body itself.
func ParseMemory(n int) int64 { return int64(n) * (ParseFactor + 1) }

// LargestBody is the largest body a budget parses (0: any, no budget).
func LargestBody(budget int64) int64 {
	if budget <= 0 {
		return 0
	}
	return budget / (ParseFactor + 1)
}

// memGate is a weighted semaphore of budget bytes. A nil *memGate admits
// everything.
type memGate struct {
	sem    *semaphore.Weighted
	budget int64
	// waiting, when set, is called when a parse has to wait (tests).
	waiting func(pageURL string)
}

func newMemGate(budget int64) *memGate {
	if budget <= 0 {
		return nil
	}
	return &memGate{sem: semaphore.NewWeighted(budget), budget: budget}
}

// acquire reserves the memory to parse a body of n bytes of pageURL,
// waiting while other parses hold the budget, for as long as ctx allows.
// Call release once the tree and the extraction's garbage are dropped.
func (g *memGate) acquire(ctx context.Context, n int, pageURL string) (release func(), err *Error) {
	if g == nil {
		return func() {}, nil
	}
	w := ParseMemory(n)
	if w > g.budget {
		return nil, &Error{Kind: KindTooLarge, URL: pageURL, Err: fmt.Errorf(
			"the page is %s; parsing it needs about %s of memory, more than the worker's parse budget of %s: "+
				"give the worker more memory (serverless.yml's workerMemory param, `cronless run --memory` locally) "+
				"or lower MAX_BODY_BYTES (maxBodyBytes) so that pages this big are refused before they are read",
			mib(int64(n)), mib(w), mib(g.budget))}
	}
	if g.sem.TryAcquire(w) {
		return func() { g.sem.Release(w) }, nil
	}
	if g.waiting != nil {
		g.waiting(pageURL)
	}
	// Waiting for memory is other pages' time, not this page's: its
	// timeout stands still meanwhile (pagetimer.go).
	pt := pageTimerFrom(ctx)
	pt.pause()
	serr := g.sem.Acquire(ctx, w)
	pt.resume()
	if serr != nil {
		kind := KindTimeout
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			kind = KindConnection // cancelled: the invocation is ending; retry
		}
		return nil, &Error{Kind: kind, Retryable: true, URL: pageURL, Err: fmt.Errorf(
			"waiting for %s of the worker's %s parse budget, held by other pages: %w", mib(w), mib(g.budget), serr)}
	}
	return func() { g.sem.Release(w) }, nil
}

// mib formats a byte count in MiB, one decimal.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
