// Command worker is the worker Lambda: the targets queue's event source
// mapping invokes it with batches of jobs; it crawls them and sends the
// results to the results queue. The handler core is shared/worker.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"go.uber.org/zap"

	"github.com/cronless/cronless/shared/crawl"
	"github.com/cronless/cronless/shared/lambdafn"
	"github.com/cronless/cronless/shared/metrics"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/queue/sqsq"
	"github.com/cronless/cronless/shared/worker"
)

func main() {
	env := lambdafn.NewEnv(os.Getenv)
	jobsURL := env.QueueURL("TARGETS_QUEUE_URL", "the URL of the targets queue, to delay retries and hand jobs back")
	dlqURL := env.QueueURL("TARGETS_DLQ_URL", "the URL of the targets dead-letter queue, for malformed jobs")
	resultsURL := env.QueueURL("RESULTS_QUEUE_URL", "the URL of the results queue")
	retryDelay := env.Duration("RETRY_DELAY", 30*time.Second, 0, queue.MaxVisibility)
	concurrency := env.Int("WORKER_CONCURRENCY", 10, 1, worker.MaxConcurrency)
	crawlOpts := crawl.Options{
		HostConcurrency: env.Int("HOST_CONCURRENCY", crawl.DefaultHostConcurrency, 1, crawl.MaxHostConcurrency),
		HostDelay:       env.Duration("HOST_DELAY", 0, 0, crawl.MaxHostDelay),
		MaxBodyBytes:    int64(env.Int("MAX_BODY_BYTES", crawl.DefaultMaxBodyBytes, crawl.MinMaxBodyBytes, crawl.MaxMaxBodyBytes)),
	}
	// The parses at once are bounded by the function's memory, and the GC
	// keeps the heap under a share of it (shared/crawl/memory.go).
	functionMB := env.FunctionMemoryMB()
	crawlOpts.MemoryBudget = crawl.MemoryBudget(functionMB)
	// Only tests set this: on AWS, private and metadata addresses stay blocked.
	crawlOpts.AllowPrivate = env.Bool("ALLOW_PRIVATE", false)
	stage := env.Required("STAGE", "the stage, a dimension of the metrics")
	log := lambdafn.Logger("worker", env.Level())
	if err := env.Err(); err != nil {
		lambdafn.Fail("worker", err)
	}
	memLimit := env.SetMemoryLimit(crawl.MemoryLimit(functionMB))
	largest := crawl.LargestBody(crawlOpts.MemoryBudget)
	log.Info("memory", zap.Int("function_mb", functionMB), zap.Int64("parse_budget_bytes", crawlOpts.MemoryBudget),
		zap.Int64("memory_limit_bytes", memLimit), zap.Int64("largest_parsed_body_bytes", largest))
	if crawlOpts.MemoryBudget > 0 && crawlOpts.MaxBodyBytes > largest {
		log.Warn("HTML pages between largest_parsed_body_bytes and MAX_BODY_BYTES fail as body_too_large: "+
			"raise workerMemory or lower maxBodyBytes", zap.Int64("largest_parsed_body_bytes", largest), zap.Int64("max_body_bytes", crawlOpts.MaxBodyBytes))
	}
	cfg, err := lambdafn.AWSConfig(context.Background())
	if err != nil {
		lambdafn.Fail("worker", err)
	}
	client := sqs.NewFromConfig(cfg)
	jobs := sqsq.New(client, jobsURL)
	w := worker.New(crawl.New(crawlOpts), sqsq.New(client, resultsURL),
		worker.WithDeadLetters(sqsq.New(client, dlqURL)),
		worker.WithRetryDelay(jobs, worker.Backoff(retryDelay, queue.MaxVisibility)),
		worker.WithRequeue(jobs),
		worker.WithConcurrency(concurrency), worker.WithLogger(log),
		worker.WithMetrics(metrics.New("worker", metrics.WithEMF(os.Stdout, stage))))
	lambdafn.Start(log, w.Handle)
}
