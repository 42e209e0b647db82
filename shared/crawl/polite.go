package crawl

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cronless/cronless/shared/job"
)

// Politeness, within one Fetcher (one warm Lambda, one local process), has
// two layers, both hostLimiters:
//
//   - Jobs: at most a job's HostConcurrency pages of one host are crawled at
//     once, and their starts are spaced by 1/HostRate. A job waits for its
//     page's turn before its timeout starts (Fetch), so waiting behind other
//     pages of a slow host is never a timeout; a job that cannot start in
//     time is handed back (Deferred).
//   - Requests: every request (pages, robots.txt, each redirect hop) holds a
//     slot of its host from before it is sent until its body is closed, at
//     most HostConcurrency at once, started HostDelay apart. This guards the
//     hosts a job reaches by a redirect or robots.txt, which no job slot
//     covers. A redirect's slot is given back as soon as its headers arrive
//     (its body is a few bytes the client discards), so following a redirect
//     to the same host never waits on itself. The page's own timeout stops
//     while a request waits here (pageTimer).
//
// Across the fleet, the planner paces each host's jobs (docs/aws.md): these
// limits are each worker's local guard on top of that pacing.

// hostLimits are the limits of one host in a hostLimiter.
type hostLimits struct {
	max   int           // at once; ≤ 0: no limit
	every time.Duration // the least time between two starts; 0: none
}

// politeTransport applies a hostLimiter to every request.
type politeTransport struct {
	next  http.RoundTripper
	hosts *hostLimiter
	lim   hostLimits // of a host no job of the request's fetch is for
}

func (t *politeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	host := hostKey(req)
	lim := t.lim
	if jh, ok := ctx.Value(jobHostKey{}).(jobHost); ok && jh.host == host && jh.lim.max > lim.max {
		// The job's own host allows more at once (a hosts: entry).
		lim.max = jh.lim.max
	}
	pt := pageTimerFrom(ctx)
	pt.pause()
	release, err := t.hosts.acquire(ctx, host, lim)
	pt.resume()
	if err != nil {
		return nil, err
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		release()
		return nil, err
	}
	if isRedirect(resp) {
		release()
		return resp, nil
	}
	resp.Body = &releasingBody{ReadCloser: resp.Body, release: release}
	return resp, nil
}

// jobHost is the host of the job a fetch is for, and its limits, carried
// in the fetch's context to the transport.
type jobHost struct {
	host string
	lim  hostLimits
}

type jobHostKey struct{}

// hostKey is the host a request counts against: its name (or address),
// without the port, in lower case.
func hostKey(req *http.Request) string {
	return job.Host(req.URL)
}

// releasingBody gives its host's slot back when it is closed.
type releasingBody struct {
	io.ReadCloser
	release func()
	done    atomic.Bool
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	if b.done.CompareAndSwap(false, true) {
		b.release()
	}
	return err
}

// hostLimiter bounds the uses of each host at once and spaces their starts.
// Waiters are served first come, first served. Its map holds only hosts in
// use, waited for, or in their spacing (or a Retry-After hold), so it stays
// small however many hosts a Fetcher meets.
type hostLimiter struct {
	what string // "request" or "page", for messages
	now  func() time.Time

	mu    sync.Mutex
	hosts map[string]*hostSlot
}

type hostSlot struct {
	lim   hostLimits      // the latest limits asked for
	inUse int             // uses holding a slot
	queue []chan struct{} // waiters, first come first; closed when granted
	refs  int             // uses holding, waiting or spacing
	next  time.Time       // the earliest start of the next use
	held  time.Duration   // the mean time a use holds its slot (0: none yet)
}

func (s *hostSlot) free() bool { return s.lim.max <= 0 || s.inUse < s.lim.max }

// pruneAt is the map size past which idle hosts are swept on insert.
const pruneAt = 1024

func newHostLimiter(what string) *hostLimiter {
	return &hostLimiter{what: what, now: time.Now, hosts: make(map[string]*hostSlot)}
}

// slotWaitError is acquire's error when ctx ended while the use waited.
type slotWaitError struct {
	what  string
	host  string
	max   int
	ahead int           // uses that were waiting before this one
	after time.Duration // when, by the slot's history, this one would have started
	cause error
}

func (e *slotWaitError) Error() string {
	if e.max > 0 {
		return fmt.Sprintf("waiting for one of the %d %s slots of %s (%d waiting before it): %v", e.max, e.what, e.host, e.ahead, e.cause)
	}
	return fmt.Sprintf("waiting for the pace of %s to %s: %v", e.what, e.host, e.cause)
}

func (e *slotWaitError) Unwrap() error { return e.cause }

// acquire waits for a slot of host and for the host's pace, or for ctx.
// The returned release must be called once the use is over.
func (l *hostLimiter) acquire(ctx context.Context, host string, lim hostLimits) (release func(), err error) {
	l.mu.Lock()
	s := l.slotLocked(host)
	s.lim = lim
	s.refs++
	if s.free() && len(s.queue) == 0 {
		s.inUse++
		l.mu.Unlock()
	} else {
		ready := make(chan struct{})
		s.queue = append(s.queue, ready)
		l.mu.Unlock()
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, l.giveUp(ctx, host, s, ready)
		}
	}

	// The pace: a use starts once the host's next start is due, and moves
	// it on from its own start, so that late wake-ups never bunch starts.
	var began time.Time
	for {
		l.mu.Lock()
		now := l.now()
		wait := s.next.Sub(now)
		if wait <= 0 {
			if lim.every > 0 {
				s.next = now.Add(lim.every)
			}
			l.mu.Unlock()
			began = now
			break
		}
		l.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			l.done(host, s, 0)
			return nil, &slotWaitError{what: l.what, host: host, after: wait, cause: ctx.Err()}
		}
	}
	var once sync.Once
	return func() { once.Do(func() { l.done(host, s, l.now().Sub(began)) }) }, nil
}

// giveUp ends a wait that ctx cut short, and says how long it would have
// lasted by the slot's history.
func (l *hostLimiter) giveUp(ctx context.Context, host string, s *hostSlot, ready chan struct{}) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-ready: // granted meanwhile: pass it on
		s.inUse--
		l.grantLocked(s)
	default:
	}
	ahead := slices.Index(s.queue, ready)
	if ahead >= 0 {
		s.queue = slices.Delete(s.queue, ahead, ahead+1)
	} else {
		ahead = 0
	}
	err := &slotWaitError{what: l.what, host: host, max: s.lim.max, ahead: ahead, after: l.estimateLocked(s, ahead), cause: ctx.Err()}
	s.refs--
	l.forgetLocked(host, s)
	return err
}

// estimateLocked is how long a use with ahead uses waiting before it would
// wait: the slots' turns at their mean hold, and the pace.
func (l *hostLimiter) estimateLocked(s *hostSlot, ahead int) time.Duration {
	var d time.Duration
	if s.lim.max > 0 {
		turns := ahead/s.lim.max + 1
		d = time.Duration(turns) * s.held
	}
	if s.lim.every > 0 {
		d = max(d, time.Duration(ahead+1)*s.lim.every)
	}
	if wait := s.next.Sub(l.now()); wait > d {
		d = wait
	}
	return d
}

// done ends one use of s that held a slot for held.
func (l *hostLimiter) done(host string, s *hostSlot, held time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s.inUse--
	if held > 0 {
		if s.held == 0 {
			s.held = held
		} else {
			s.held = (3*s.held + held) / 4
		}
	}
	l.grantLocked(s)
	s.refs--
	l.forgetLocked(host, s)
}

// grantLocked hands free slots to the first waiters.
func (l *hostLimiter) grantLocked(s *hostSlot) {
	for len(s.queue) > 0 && s.free() {
		close(s.queue[0])
		s.queue = s.queue[1:]
		s.inUse++
	}
}

// holdOff keeps host's next use from starting before d from now (a
// server's Retry-After), on top of its pace.
func (l *hostLimiter) holdOff(host string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.slotLocked(host)
	if until := l.now().Add(d); until.After(s.next) {
		s.next = until
	}
}

// slotLocked is host's slot, made (and the map swept of idle hosts when
// it is large) if it has none.
func (l *hostLimiter) slotLocked(host string) *hostSlot {
	s := l.hosts[host]
	if s == nil {
		if len(l.hosts) >= pruneAt {
			l.pruneLocked()
		}
		s = &hostSlot{}
		l.hosts[host] = s
	}
	return s
}

// forgetLocked drops s when nobody uses it and its pace is over.
func (l *hostLimiter) forgetLocked(host string, s *hostSlot) {
	if s.refs == 0 && !s.next.After(l.now()) && l.hosts[host] == s {
		delete(l.hosts, host)
	}
}

func (l *hostLimiter) pruneLocked() {
	now := l.now()
	for h, s := range l.hosts {
		if s.refs == 0 && !s.next.After(now) {
			delete(l.hosts, h)
		}
	}
}

func (l *hostLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.hosts)
}
