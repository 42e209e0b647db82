package cost

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Params are the deployment's settings that the bill depends on: the
// parameters of serverless.yml (params.default), with the same names.
type Params struct {
	PlannerMemoryMB int `json:"plannerMemory"`
	WorkerMemoryMB  int `json:"workerMemory"`
	ResultsMemoryMB int `json:"resultsMemory"`
	// Timeouts in seconds: an invocation must fit in its function's.
	WorkerTimeout  int `json:"workerTimeout"`
	ResultsTimeout int `json:"resultsTimeout"`
	// The worker's SQS event source: records per invocation, batching
	// window in seconds, maximum concurrent invocations; crawls at once
	// within one invocation.
	WorkerBatchSize      int `json:"workerBatchSize"`
	WorkerBatchWindow    int `json:"workerBatchWindow"`
	WorkerMaxConcurrency int `json:"workerMaxConcurrency"`
	CrawlConcurrency     int `json:"crawlConcurrency"`
	// The results function's SQS event source.
	ResultsBatchSize      int `json:"resultsBatchSize"`
	ResultsBatchWindow    int `json:"resultsBatchWindow"`
	ResultsMaxConcurrency int `json:"resultsMaxConcurrency"`
	// MaxReceiveCount is the receives before a message is dead-lettered.
	MaxReceiveCount int `json:"maxReceiveCount"`
	// LogRetentionDays is the functions' CloudWatch Logs retention.
	LogRetentionDays int `json:"logRetentionDays"`
	// RetentionDays is the results' DynamoDB TTL (0: never expire).
	RetentionDays int `json:"retentionDays"`
}

// DefaultParams are serverless.yml's params.default as shipped.
func DefaultParams() Params {
	return Params{
		PlannerMemoryMB: 256, WorkerMemoryMB: 512, ResultsMemoryMB: 256,
		WorkerTimeout: 60, ResultsTimeout: 30,
		WorkerBatchSize: 10, WorkerBatchWindow: 0, WorkerMaxConcurrency: 10, CrawlConcurrency: 10,
		ResultsBatchSize: 10, ResultsBatchWindow: 5, ResultsMaxConcurrency: 5,
		MaxReceiveCount: 5, LogRetentionDays: 30, RetentionDays: 90,
	}
}

// fields maps each parameter name to its field in p.
func (p *Params) fields() []struct {
	name string
	v    *int
} {
	return []struct {
		name string
		v    *int
	}{
		{"plannerMemory", &p.PlannerMemoryMB}, {"workerMemory", &p.WorkerMemoryMB}, {"resultsMemory", &p.ResultsMemoryMB},
		{"workerTimeout", &p.WorkerTimeout}, {"resultsTimeout", &p.ResultsTimeout},
		{"workerBatchSize", &p.WorkerBatchSize}, {"workerBatchWindow", &p.WorkerBatchWindow},
		{"workerMaxConcurrency", &p.WorkerMaxConcurrency}, {"crawlConcurrency", &p.CrawlConcurrency},
		{"resultsBatchSize", &p.ResultsBatchSize}, {"resultsBatchWindow", &p.ResultsBatchWindow},
		{"resultsMaxConcurrency", &p.ResultsMaxConcurrency},
		{"maxReceiveCount", &p.MaxReceiveCount}, {"logRetentionDays", &p.LogRetentionDays}, {"retentionDays", &p.RetentionDays},
	}
}

// ParseParams reads params.default from the serverless.yml in data. A
// parameter the file does not set keeps its DefaultParams value; one that
// is set must be a whole number (a quoted one is fine).
func ParseParams(data []byte) (Params, error) {
	var doc struct {
		Params struct {
			Default map[string]yaml.Node `yaml:"default"`
		} `yaml:"params"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Params{}, fmt.Errorf("read params.default: %w", err)
	}
	p := DefaultParams()
	var errs []error
	for _, f := range p.fields() {
		n, ok := doc.Params.Default[f.name]
		if !ok {
			continue
		}
		v, err := strconv.Atoi(strings.TrimSpace(n.Value))
		if n.Kind != yaml.ScalarNode || err != nil {
			errs = append(errs, fmt.Errorf("line %d: params.default.%s is %q, not a whole number", n.Line, f.name, n.Value))
			continue
		}
		*f.v = v
	}
	if err := errors.Join(errs...); err != nil {
		return Params{}, err
	}
	return p, nil
}

// Validate checks every parameter is one AWS accepts (and the model can use).
func (p Params) Validate() error {
	var errs []error
	check := func(name string, v int, r Range, unit string) {
		if err := r.check(name, v, unit); err != nil {
			errs = append(errs, err)
		}
	}
	for _, m := range []struct {
		name string
		v    int
	}{{"plannerMemory", p.PlannerMemoryMB}, {"workerMemory", p.WorkerMemoryMB}, {"resultsMemory", p.ResultsMemoryMB}} {
		check(m.name, m.v, LambdaMemoryMB, " MB (Lambda's limits)")
	}
	check("workerTimeout", p.WorkerTimeout, LambdaTimeoutSeconds, " seconds")
	check("resultsTimeout", p.ResultsTimeout, LambdaTimeoutSeconds, " seconds")
	check("workerBatchSize", p.WorkerBatchSize, BatchSize, "")
	check("resultsBatchSize", p.ResultsBatchSize, BatchSize, "")
	check("workerBatchWindow", p.WorkerBatchWindow, BatchWindowSeconds, " seconds")
	check("resultsBatchWindow", p.ResultsBatchWindow, BatchWindowSeconds, " seconds")
	for _, q := range []struct {
		name         string
		size, window int
	}{{"worker", p.WorkerBatchSize, p.WorkerBatchWindow}, {"results", p.ResultsBatchSize, p.ResultsBatchWindow}} {
		if q.size > maxBatchWithoutWindow && q.window < 1 {
			errs = append(errs, fmt.Errorf("%sBatchSize %d needs %sBatchWindow of at least 1 second (AWS requires a window above %d records)",
				q.name, q.size, q.name, maxBatchWithoutWindow))
		}
	}
	check("workerMaxConcurrency", p.WorkerMaxConcurrency, EventSourceMaxConcurrency, " (the event source's maximum concurrency)")
	check("resultsMaxConcurrency", p.ResultsMaxConcurrency, EventSourceMaxConcurrency, " (the event source's maximum concurrency)")
	check("crawlConcurrency", p.CrawlConcurrency, CrawlConcurrency, "")
	check("maxReceiveCount", p.MaxReceiveCount, MaxReceiveCount, "")
	check("logRetentionDays", p.LogRetentionDays, LogRetentionDays, " (the model needs a finite retention)")
	check("retentionDays", p.RetentionDays, RetentionDays, "")
	return errors.Join(errs...)
}
