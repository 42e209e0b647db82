// Command cronless is the cronless contender of the side-by-side benchmark
// (bench/suite): the worker core's real path, in-process. The URLs become
// job messages as the planner would send them (job.Encode), grouped in SQS
// events of 10 records built by local.Event (what the local event source
// mapping and, field for field, Lambda deliver), and each event goes through
// worker.Handle: job decoding, the crawl Fetcher (shared/crawl: robots.txt,
// per-host politeness, SSRF-checked dialer, one parse with x/net/html, the
// rules, both hashes), the result message encoding, and a results Sender
// that writes each result message as one JSON line (instead of SQS).
//
// Concurrency: like Lambda, each invocation gets one batch of 10 and crawls
// it with worker.WithConcurrency(10) (the deployed default); enough
// invocations run at once to keep -concurrency requests in flight, and the
// Fetcher's per-host limit (HOST_CONCURRENCY on AWS), set to -concurrency,
// caps the requests to the fixture's one host at exactly that.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/cronless/cronless/bench/contend"
	"github.com/cronless/cronless/shared/crawl"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/local"
	"github.com/cronless/cronless/shared/metrics"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/worker"
)

func main() { contend.Main("cronless", run) }

// BatchSize is the records per event, SQS's and the mapping's maximum.
const BatchSize = 10

// Rules are the extraction rules of the benchmark: the h1's text and every
// link's href (made absolute); the title is a built-in field.
func Rules() map[string]job.Rule {
	return map[string]job.Rule{
		"h1":    {CSS: "h1"},
		"links": {CSS: "a[href]", Attr: "href", All: true},
	}
}

// Events builds the SQS events for urls: batches of BatchSize job messages.
// The jobs set the fixture host's limits explicitly as jobs without
// targets.yaml's: host_rate 0 (not paced: the planner paces, and this
// measures the worker core alone) and host_concurrency 0 (the Fetcher's
// HostConcurrency, which run sets to -concurrency).
func Events(urls []string) ([]events.SQSEvent, error) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rules := Rules()
	var out []events.SQSEvent
	for start := 0; start < len(urls); start += BatchSize {
		var msgs []queue.Message
		for i := start; i < min(start+BatchSize, len(urls)); i++ {
			j := job.Job{V: job.Version, RunID: "bench@2026-01-01T00:00:00Z", Schedule: "bench",
				TargetID: fmt.Sprintf("t%d", i), URL: urls[i], ScheduledAt: at, Extract: rules,
				HostRate: 0, HostConcurrency: 0}
			body, err := job.Encode(j)
			if err != nil {
				return nil, fmt.Errorf("job %d: %w", i, err)
			}
			msgs = append(msgs, queue.Message{
				ID: fmt.Sprintf("m%d", i), ReceiptHandle: fmt.Sprintf("rh%d", i), Body: body,
				Attributes: job.Attributes(j.RunID, j.TargetID), ReceiveCount: 1, SentAt: at, FirstReceivedAt: at,
			})
		}
		out = append(out, local.Event("arn:aws:sqs:us-east-1:000000000000:targets", "us-east-1", msgs))
	}
	return out, nil
}

// sender is the results queue: each result message becomes a line.
type sender struct{ w *contend.Writer }

func (s sender) SendBatch(_ context.Context, msgs []queue.Outgoing) error {
	for _, m := range msgs {
		if err := s.w.WriteLine([]byte(m.Body)); err != nil {
			return err
		}
	}
	return nil
}

// countingDial counts the connections the Fetcher opens.
type countingDial struct{ n atomic.Int64 }

func (c *countingDial) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c.n.Add(1)
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// Invocations is how many invocations run at once for concurrency c: twice
// what c requests need, so a batch finishing its slowest fetch never leaves
// the per-host limit idle.
func Invocations(c int) int { return 2 * ((c + BatchSize - 1) / BatchSize) }

func run(ctx context.Context, cfg contend.Config, w *contend.Writer, errs *contend.Errors, extra map[string]float64) error {
	evs, err := Events(cfg.URLs)
	if err != nil {
		return err
	}
	var dials countingDial
	f := crawl.New(crawl.Options{AllowPrivate: true, HostConcurrency: cfg.Concurrency, DialContext: dials.DialContext})
	defer f.CloseIdleConnections()
	// With its metrics, as deployed: counted per page, written per batch
	// (to io.Discard: the EMF encoding is measured, not the log shipping).
	wk := worker.New(f, sender{w}, worker.WithConcurrency(BatchSize),
		worker.WithMetrics(metrics.New("worker", metrics.WithEMF(io.Discard, "bench"))))

	ch := make(chan events.SQSEvent)
	var wg sync.WaitGroup
	for range Invocations(cfg.Concurrency) {
		wg.Go(func() {
			for ev := range ch {
				resp, err := wk.Handle(ctx, ev)
				if err != nil {
					errs.Add(err)
					continue
				}
				for _, f := range resp.BatchItemFailures {
					errs.Add(fmt.Errorf("message %s failed", f.ItemIdentifier))
				}
			}
		})
	}
	for _, ev := range evs {
		select {
		case ch <- ev:
		case <-ctx.Done():
		}
	}
	close(ch)
	wg.Wait()
	extra["connections"] = float64(dials.n.Load())
	return ctx.Err()
}
