package crawl

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cronless/cronless/shared/job"
)

// StartReserve is the time Fetch keeps, after a page's timeout, before its
// context's deadline: a worker needs it to send the batch's results before
// its invocation ends.
const StartReserve = 3 * time.Second

// MinDeferral is the shortest delay a Deferred asks for: SQS delays come in
// whole seconds.
const MinDeferral = time.Second

// maxHoldOff caps how long a Retry-After holds a host's other pages in one
// worker; the failed page itself is retried after the full Retry-After.
const maxHoldOff = 15 * time.Minute

// Deferred is Fetch's answer when a page could not start in time: its host
// had no free slot, or was not due under its pace, before the latest start
// that lets the page's whole timeout end StartReserve before the context's
// deadline. Nothing was sent to the host. It is not a failure of the page:
// the worker hands the job back to the queue, delayed by After.
type Deferred struct {
	Host string
	// Ahead is how many of the host's pages were waiting before this one.
	Ahead int
	// After is when the host should have room, by this Fetcher's history
	// of it: at least MinDeferral.
	After time.Duration
	// Why says what kept the page waiting.
	Why string
}

func (d *Deferred) Error() string {
	return fmt.Sprintf("%s: not started (%s); handed back, due again in %s", d.Host, d.Why, d.After)
}

// pageLimits are the limits of a job's host: the job's own (targets.yaml's
// host_concurrency and host_rate) or the Fetcher's.
func (f *Fetcher) pageLimits(j job.Job) hostLimits {
	lim := hostLimits{max: f.opts.HostConcurrency}
	if j.HostConcurrency > 0 {
		lim.max = j.HostConcurrency
	}
	if j.HostRate > 0 {
		lim.every = time.Duration(float64(time.Second) / j.HostRate)
	}
	return lim
}

// start waits for the page's turn at its host: a page slot, and its pace.
// The wait is not part of the page's timeout. When ctx has a deadline, a
// page that must wait waits only while its whole timeout would still end
// StartReserve before it (or, when it never would, for half of the time
// left); past that, start returns a *Deferred.
func (f *Fetcher) start(ctx context.Context, host string, lim hostLimits, timeout time.Duration) (release func(), err error) {
	waitCtx := ctx
	if deadline, ok := ctx.Deadline(); ok {
		// A page whose turn is now starts whatever is left; one that must
		// wait, waits only while its timeout would still fit. When it never
		// fits (an invocation shorter than the page's timeout), the page
		// may wait for half of what is left, then runs on the rest.
		startBy := deadline.Add(-(timeout + StartReserve))
		if now := f.now(); startBy.Before(now) {
			startBy = now.Add(deadline.Sub(now) / 2)
		}
		var cancel context.CancelFunc
		waitCtx, cancel = context.WithDeadline(ctx, startBy)
		defer cancel()
	}
	release, err = f.jobs.acquire(waitCtx, host, lim)
	if err == nil {
		return release, nil
	}
	var we *slotWaitError
	if ctx.Err() == nil && errors.As(err, &we) {
		why := fmt.Sprintf("the host's %d page slots were busy, %d pages waiting before it", lim.max, we.ahead)
		if lim.max <= 0 {
			why = fmt.Sprintf("%d pages of the host were waiting before it", we.ahead)
		}
		if lim.every > 0 {
			why += fmt.Sprintf(", one every %s", lim.every)
		}
		return nil, &Deferred{Host: host, Ahead: we.ahead, After: (max(we.after, MinDeferral) + time.Second - 1).Truncate(time.Second), Why: why}
	}
	return nil, &Error{Kind: KindTimeout, Retryable: true,
		Err: fmt.Errorf("the invocation ended while the page waited for its turn at %s: %w", host, err)}
}
