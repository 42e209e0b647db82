package crawl

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronless/cronless/bench/fixture"
	"github.com/cronless/cronless/shared/job"
)

func TestMemoryBudget(t *testing.T) {
	tests := []struct {
		functionMB  int
		budget      int64
		memoryLimit int64
	}{
		{functionMB: -1, budget: 0, memoryLimit: 0},
		{functionMB: 0, budget: 0, memoryLimit: 0},
		// 40 % of 1 MiB is less than the baseline: a budget of one byte,
		// which fails every page, rather than no gate.
		{functionMB: 1, budget: 1, memoryLimit: 629145},
		// 51.2 MiB - 32 MiB: pages up to 1.5 MiB.
		{functionMB: 128, budget: 20132659, memoryLimit: 80530636},
		// 204.8 MiB - 32 MiB: three 4 MiB pages at once (52 MiB each).
		{functionMB: 512, budget: 181193932, memoryLimit: 322122547},
		{functionMB: 10240, budget: 10240<<20*40/100 - 32<<20, memoryLimit: 10240 << 20 * 60 / 100},
	}
	for _, tc := range tests {
		if got := MemoryBudget(tc.functionMB); got != tc.budget {
			t.Errorf("MemoryBudget(%d) = %d, want %d", tc.functionMB, got, tc.budget)
		}
		if got := MemoryLimit(tc.functionMB); got != tc.memoryLimit {
			t.Errorf("MemoryLimit(%d) = %d, want %d", tc.functionMB, got, tc.memoryLimit)
		}
		if b, l := MemoryBudget(tc.functionMB), MemoryLimit(tc.functionMB); b > l {
			t.Errorf("functionMB %d: budget %d above GOMEMLIMIT %d", tc.functionMB, b, l)
		}
	}
	if got := ParseMemory(4 << 20); got != 52<<20 {
		t.Errorf("ParseMemory(4 MiB) = %d, want 52 MiB (4 MiB × ParseFactor 12, plus the body)", got)
	}
	// The smallest function that parses a page of the default body limit.
	need := ParseMemory(DefaultMaxBodyBytes)
	if MemoryBudget(MinFunctionMemoryMB) < need || MemoryBudget(MinFunctionMemoryMB-1) >= need {
		t.Errorf("MinFunctionMemoryMB = %d: budgets %d (at it) and %d (1 MB less), want the first that reaches %d",
			MinFunctionMemoryMB, MemoryBudget(MinFunctionMemoryMB), MemoryBudget(MinFunctionMemoryMB-1), need)
	}
	if MemoryBudget(DefaultFunctionMemoryMB) < 3*ParseMemory(4<<20) {
		t.Errorf("the default function memory's budget %d does not parse three 4 MiB pages at once", MemoryBudget(DefaultFunctionMemoryMB))
	}
	if got := LargestBody(MemoryBudget(256)); got < 54<<20/10 || got >= 55<<20/10 {
		t.Errorf("LargestBody(MemoryBudget(256)) = %d, want about 5.4 MiB", got)
	}
	if LargestBody(0) != 0 {
		t.Errorf("LargestBody(0) = %d, want 0 (no budget)", LargestBody(0))
	}
}

// docPageServer serves fixture.DocPage(1, size) at /.
func docPageServer(t *testing.T, size int) (url string, page []byte) {
	t.Helper()
	page = fixture.DocPage(1, size)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeHTML(w, string(page))
	}))
	return srv.URL + "/", page
}

var memoryRules = map[string]job.Rule{"h1": {CSS: "h1"}, "links": {CSS: "a[href]", Attr: "href", All: true}}

// TestMemoryGateWaits holds the budget, so a page that fits in it alone
// must wait: it is told to wait (no failure), and ends ok once the budget
// is released.
func TestMemoryGateWaits(t *testing.T) {
	tests := []struct {
		name  string
		held  func(page int) int // bytes of body whose parse holds the budget
		pages int                // fetched at once
	}{
		{name: "the whole budget held", held: func(page int) int { return page }, pages: 1},
		{name: "part held, too little left", held: func(page int) int { return page / 2 }, pages: 1},
		{name: "several pages, one at a time", held: func(page int) int { return page }, pages: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, page := docPageServer(t, 256<<10)
			// No host limit: the pages of one host all reach the memory gate.
			f := newFetcher(t, Options{MemoryBudget: ParseMemory(len(page)), HostConcurrency: -1})
			waits := make(chan string, tc.pages)
			f.mem.waiting = func(u string) { waits <- u }
			release, err := f.mem.acquire(context.Background(), tc.held(len(page)), "held")
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			pages := make([]Page, tc.pages)
			errs := make([]error, tc.pages)
			for i := range tc.pages {
				wg.Go(func() { pages[i], errs[i] = fetch(t, f, testJob(u, memoryRules)) })
			}
			for range tc.pages {
				if got := <-waits; got != u {
					t.Errorf("waiting for %q, want %q", got, u)
				}
			}
			release()
			wg.Wait()
			for i := range tc.pages {
				if errs[i] != nil {
					t.Fatalf("page %d: %v", i, errs[i])
				}
				if pages[i].Fields["h1"] != "Module doc1" || len(pages[i].Fields["links"].([]string)) < 200 {
					t.Errorf("page %d: fields h1 %q, %d links", i, pages[i].Fields["h1"], len(pages[i].Fields["links"].([]string)))
				}
			}
			// Every parse gave its memory back.
			if !f.mem.sem.TryAcquire(f.mem.budget) {
				t.Errorf("the budget is not whole again after the fetches")
			}
		})
	}
}

// TestMemoryGateTooLarge: a page whose parse needs more than the whole
// budget fails at once, permanently, saying what to change.
func TestMemoryGateTooLarge(t *testing.T) {
	u, page := docPageServer(t, 256<<10)
	tests := []struct {
		name   string
		budget int64
	}{
		{name: "one byte short", budget: ParseMemory(len(page)) - 1},
		{name: "the budget of a 1 MB function", budget: MemoryBudget(1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFetcher(t, Options{MemoryBudget: tc.budget})
			f.mem.waiting = func(string) { t.Errorf("a page too big for the budget waited for it") }
			_, err := fetch(t, f, testJob(u, memoryRules))
			ce := asError(t, err)
			if ce.Kind != KindTooLarge || ce.Retryable || Retryable(err) {
				t.Fatalf("kind %s, retryable %v, want permanent %s: %v", ce.Kind, ce.Retryable, KindTooLarge, err)
			}
			for _, want := range []string{mib(int64(len(page))), mib(ParseMemory(len(page))), mib(tc.budget), "workerMemory", "--memory", "MAX_BODY_BYTES", "(permanent;"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message %q does not say %q", err, want)
				}
			}
		})
	}
}

// TestMemoryGateWaitEnds: a page still waiting for memory when its context
// ends is a retryable failure (it may fit next time), not a permanent one.
func TestMemoryGateWaitEnds(t *testing.T) {
	u, page := docPageServer(t, 64<<10)
	f := newFetcher(t, Options{MemoryBudget: ParseMemory(len(page))})
	release, merr := f.mem.acquire(context.Background(), len(page), "held")
	if merr != nil {
		t.Fatal(merr)
	}
	defer release()
	// The page's own timeout (100 ms) stands still while it waits for
	// memory; the wait ends with the invocation (the context), 400 ms on.
	j := testJob(u, memoryRules)
	j.TimeoutMS = 100
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	_, err := f.Fetch(ctx, j)
	ce := asError(t, err)
	if ce.Kind != KindTimeout || !Retryable(err) || !strings.Contains(err.Error(), "parse budget") || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("kind %s, retryable %v, want a retryable %s naming the parse budget, at the invocation's deadline: %v", ce.Kind, ce.Retryable, KindTimeout, err)
	}
}

// TestMemoryGateOff: no budget, no gate.
func TestMemoryGateOff(t *testing.T) {
	for _, budget := range []int64{0, -1} {
		if g := newMemGate(budget); g != nil {
			t.Errorf("newMemGate(%d) = %v, want nil (no gate)", budget, g)
		}
	}
	var g *memGate
	release, err := g.acquire(context.Background(), 1<<30, "x")
	if err != nil {
		t.Fatal(err)
	}
	release()
}
