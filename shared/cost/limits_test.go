package cost

import (
	"testing"

	"github.com/cronless/cronless/shared/worker"
)

// The worker function refuses a WORKER_CONCURRENCY above worker's limit at
// cold start, so cost must refuse the same crawlConcurrency. The number is
// written twice so that cost does not link the crawler; this holds them
// together.
func TestCrawlConcurrencyIsTheWorkers(t *testing.T) {
	if CrawlConcurrency != (Range{1, worker.MaxConcurrency}) {
		t.Errorf("CrawlConcurrency %v, want 1 to worker.MaxConcurrency (%d)", CrawlConcurrency, worker.MaxConcurrency)
	}
}
