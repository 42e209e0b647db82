// Command memcrawl is the worker of bench/suite's memory section: one SQS
// batch of the given URLs through worker.Handle, configured as
// functions/worker configures it from its environment
// (AWS_LAMBDA_FUNCTION_MEMORY_SIZE gives the parse budget and GOMEMLIMIT;
// GOGC as serverless.yml sets it), with -concurrency crawls at once
// (WORKER_CONCURRENCY). It prints one JSON summary: every result's status
// and kind, and its own peak RSS (VmHWM) at the end.
//
//	AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512 GOGC=200 go run ./bench/memcrawl -concurrency 10 -urls URL,URL,…
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cronless/cronless/bench/contend"
	"github.com/cronless/cronless/shared/crawl"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/lambdafn"
	"github.com/cronless/cronless/shared/local"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/worker"
)

// Summary is what memcrawl prints.
type Summary struct {
	FunctionMB   int            `json:"function_mb"`
	Concurrency  int            `json:"concurrency"`
	BudgetBytes  int64          `json:"budget_bytes"`
	MemLimit     int64          `json:"memory_limit_bytes"`
	Pages        int            `json:"pages"`
	OK           int            `json:"ok"`
	Failed       map[string]int `json:"failed,omitempty"` // by error kind
	FirstFailure string         `json:"first_failure,omitempty"`
	BatchFailed  int            `json:"batch_item_failures"`
	Seconds      float64        `json:"seconds"`
	PeakRSSKiB   int64          `json:"peak_rss_kib"`
}

func main() {
	s, err := run(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "memcrawl:", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(s)
	fmt.Println(string(b))
}

// Rules are the fields the benchmark extracts. links stays within the
// sidebar: every link of a 4 MiB page would exceed job.MaxFieldsBytes,
// which is not what is measured here.
func Rules() map[string]job.Rule {
	return map[string]job.Rule{
		"h1":    {CSS: "h1", Required: true},
		"links": {CSS: "nav.sidebar a[href]", Attr: "href", All: true},
		"code":  {CSS: "pre code"},
	}
}

func run(args []string) (Summary, error) {
	fs := flag.NewFlagSet("memcrawl", flag.ContinueOnError)
	urls := fs.String("urls", "", "the pages, comma-separated (one batch, at most 10)")
	concurrency := fs.Int("concurrency", 10, "crawls at once (WORKER_CONCURRENCY)")
	if err := fs.Parse(args); err != nil {
		return Summary{}, err
	}
	list := strings.Split(*urls, ",")
	if *urls == "" || len(list) > queue.MaxBatch {
		return Summary{}, fmt.Errorf("-urls: give 1 to %d URLs", queue.MaxBatch)
	}
	// As functions/worker does at cold start.
	env := lambdafn.NewEnv(os.Getenv)
	functionMB := env.FunctionMemoryMB()
	opts := crawl.Options{AllowPrivate: true, MemoryBudget: crawl.MemoryBudget(functionMB)}
	memLimit := env.SetMemoryLimit(crawl.MemoryLimit(functionMB))
	if err := env.Err(); err != nil {
		return Summary{}, err
	}
	f := crawl.New(opts)
	defer f.CloseIdleConnections()
	results := &collect{}
	w := worker.New(f, results, worker.WithConcurrency(*concurrency))

	at := time.Now().UTC().Truncate(time.Second)
	var msgs []queue.Message
	for i, u := range list {
		j := job.Job{V: job.Version, RunID: "memory@" + at.Format(time.RFC3339), Schedule: "memory",
			TargetID: fmt.Sprintf("t%d", i), URL: u, ScheduledAt: at, Extract: Rules()}
		body, err := job.Encode(j)
		if err != nil {
			return Summary{}, fmt.Errorf("job %d: %w", i, err)
		}
		msgs = append(msgs, queue.Message{ID: fmt.Sprintf("m%d", i), ReceiptHandle: fmt.Sprintf("rh%d", i), Body: body,
			Attributes: job.Attributes(j.RunID, j.TargetID), ReceiveCount: 1, SentAt: at, FirstReceivedAt: at})
	}
	ev := local.Event("arn:aws:sqs:us-east-1:000000000000:targets", "us-east-1", msgs)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // the worker's timeout
	defer cancel()
	t0 := time.Now()
	resp, err := w.Handle(ctx, ev)
	if err != nil {
		return Summary{}, fmt.Errorf("handle: %w", err)
	}
	s := Summary{FunctionMB: functionMB, Concurrency: *concurrency, BudgetBytes: opts.MemoryBudget, MemLimit: memLimit,
		Pages: len(list), BatchFailed: len(resp.BatchItemFailures), Seconds: time.Since(t0).Seconds()}
	for _, r := range results.results {
		if r.Status == job.StatusOK && r.Fields["h1"] != nil {
			s.OK++
			continue
		}
		kind := "no h1"
		if r.Error != nil {
			kind = r.Error.Kind
		}
		if s.Failed == nil {
			s.Failed = map[string]int{}
		}
		s.Failed[kind]++
		if s.FirstFailure == "" && r.Error != nil {
			s.FirstFailure = r.Error.Message
		}
	}
	for _, a := range results.attempts {
		if s.Failed == nil {
			s.Failed = map[string]int{}
		}
		s.Failed["retryable "+a.Error.Kind]++
		if s.FirstFailure == "" {
			s.FirstFailure = a.Error.Message
		}
	}
	s.PeakRSSKiB = contend.PeakRSS()
	return s, nil
}

// collect is the results queue: it keeps the decoded results and the
// failed attempts (of retryable failures, which the batch reports too).
type collect struct {
	mu       sync.Mutex
	results  []job.Result
	attempts []job.Attempt
}

func (c *collect) SendBatch(_ context.Context, msgs []queue.Outgoing) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range msgs {
		if m.Attributes[job.AttrType] == job.TypeAttempt {
			a, err := job.DecodeAttempt([]byte(m.Body))
			if err != nil {
				return err
			}
			c.attempts = append(c.attempts, a)
			continue
		}
		r, err := job.DecodeResult([]byte(m.Body))
		if err != nil {
			return err
		}
		c.results = append(c.results, r)
	}
	return nil
}
