package planner

import (
	"math"
	"time"

	"github.com/cronless/cronless/shared/queue"
)

// Fleet-wide pacing. The planner sees every job of a tick before any is
// crawled, so it spaces each host's jobs over time: the k-th job of a host
// (in file order) is due k/rate after the tick is planned, and the whole
// fleet starts at most rate jobs a second to that host, however many
// workers run. A job is delayed by its message's own delay up to SQS's 15
// minutes; past that it also carries not_before, and a worker that gets it
// early hands it back, delayed, until it is due (worker.WithRequeue).
// Retries (Retry-After, 429/503 backoff) come on top of this pacing: each
// worker also spaces its own starts to a host by 1/rate, and holds a host
// that asked for a pause.

// pacer hands out each host's next start.
type pacer struct {
	base    time.Time
	count   map[string]int // jobs paced so far, per host
	span    time.Duration  // the latest start handed out
	slowest string         // the host it belongs to
}

func newPacer(base time.Time) *pacer {
	return &pacer{base: base.UTC(), count: map[string]int{}}
}

// next is the delay of host's next job at rate jobs a second, and, when
// that is past SQS's longest delay, the job's not_before. A rate of 0 or
// targets.Unlimited is not paced.
func (p *pacer) next(host string, rate float64) (delay time.Duration, notBefore time.Time) {
	k := p.count[host]
	p.count[host] = k + 1
	return p.at(host, k, rate, p.base)
}

// at is the delay, sent at now, of host's k-th job (0-based) at rate jobs a
// second from the pacer's base, and its not_before past SQS's longest
// delay.
func (p *pacer) at(host string, k int, rate float64, now time.Time) (delay time.Duration, notBefore time.Time) {
	if rate <= 0 || math.IsInf(rate, 1) { // targets.Unlimited
		return 0, time.Time{}
	}
	offset := time.Duration(float64(k) / rate * float64(time.Second))
	if offset > p.span {
		p.span, p.slowest = offset, host
	}
	due := p.base.Add(offset)
	// Whole seconds, as SQS takes them, rounded down: the jobs of a second
	// are due together, at most rate of them.
	delay = max(0, due.Sub(now)).Truncate(time.Second)
	if delay <= queue.MaxDelay {
		return delay, time.Time{}
	}
	return queue.MaxDelay, due
}
