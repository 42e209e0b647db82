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
	check := func(name string, v, lo, hi int, why string) {
		if v < lo || v > hi {
			errs = append(errs, fmt.Errorf("%s %d: must be between %d and %d%s", name, v, lo, hi, why))
		}
	}
	for _, m := range []struct {
		name string
		v    int
	}{{"plannerMemory", p.PlannerMemoryMB}, {"workerMemory", p.WorkerMemoryMB}, {"resultsMemory", p.ResultsMemoryMB}} {
		check(m.name, m.v, 128, 10240, " MB (Lambda's limits)")
	}
	check("workerTimeout", p.WorkerTimeout, 1, 900, " seconds")
	check("resultsTimeout", p.ResultsTimeout, 1, 900, " seconds")
	check("workerBatchSize", p.WorkerBatchSize, 1, 10000, "")
	check("resultsBatchSize", p.ResultsBatchSize, 1, 10000, "")
	check("workerBatchWindow", p.WorkerBatchWindow, 0, 300, " seconds")
	check("resultsBatchWindow", p.ResultsBatchWindow, 0, 300, " seconds")
	if p.WorkerBatchSize > 10 && p.WorkerBatchWindow < 1 {
		errs = append(errs, fmt.Errorf("workerBatchSize %d needs workerBatchWindow of at least 1 second (AWS requires a window above 10 records)", p.WorkerBatchSize))
	}
	if p.ResultsBatchSize > 10 && p.ResultsBatchWindow < 1 {
		errs = append(errs, fmt.Errorf("resultsBatchSize %d needs resultsBatchWindow of at least 1 second (AWS requires a window above 10 records)", p.ResultsBatchSize))
	}
	check("workerMaxConcurrency", p.WorkerMaxConcurrency, 2, 1000, " (the event source's maximum concurrency)")
	check("resultsMaxConcurrency", p.ResultsMaxConcurrency, 2, 1000, " (the event source's maximum concurrency)")
	check("crawlConcurrency", p.CrawlConcurrency, 1, 1000, "")
	check("maxReceiveCount", p.MaxReceiveCount, 1, 1000, "")
	check("logRetentionDays", p.LogRetentionDays, 1, 3653, " (the model needs a finite retention)")
	check("retentionDays", p.RetentionDays, 0, 3650, "")
	return errors.Join(errs...)
}
