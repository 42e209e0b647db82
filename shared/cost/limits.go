package cost

import (
	"fmt"

	"github.com/cronless/cronless/shared/store"
)

// Range is the whole numbers a setting accepts, both ends included.
type Range struct{ Lo, Hi int }

// Contains reports whether v is in r.
func (r Range) Contains(v int) bool { return v >= r.Lo && v <= r.Hi }

// check returns the error of a parameter outside r; unit follows the range
// in the message (" seconds", " MB (Lambda's limits)").
func (r Range) check(name string, v int, unit string) error {
	if r.Contains(v) {
		return nil
	}
	return fmt.Errorf("%s %d: must be between %d and %d%s", name, v, r.Lo, r.Hi, unit)
}

// The limits of the deployment's settings, each defined here once: AWS's
// where AWS sets one (Lambda, the SQS event source), the model's otherwise.
// The CLI's flags for the same settings check them with these.
var (
	LambdaMemoryMB            = Range{128, 10240}
	LambdaTimeoutSeconds      = Range{1, 900}
	BatchSize                 = Range{1, 10000}
	BatchWindowSeconds        = Range{0, 300}
	EventSourceMaxConcurrency = Range{2, 1000}
	CrawlConcurrency          = Range{1, 100} // worker.MaxConcurrency (limits_test.go)
	MaxReceiveCount           = Range{1, 1000}
	LogRetentionDays          = Range{1, 3653}
	RetentionDays             = Range{0, store.MaxRetentionDays}
)

// maxBatchWithoutWindow is the largest batch an SQS event source takes
// without a batching window (AWS requires one of at least 1 s above it).
const maxBatchWithoutWindow = 10
