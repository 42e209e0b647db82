package crawl

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Politeness: within one Fetcher (one warm Lambda, one local batch), at
// most HostConcurrency requests are in flight to a host, and two requests
// to a host start at least HostDelay apart. Every request counts: pages,
// robots.txt, each redirect hop. A request holds its host's slot from
// before it is sent until its body is closed; a redirect's slot is given
// back as soon as its headers arrive (its body is a few bytes the client
// discards), so following a redirect to the same host never waits on
// itself.

// politeTransport applies a hostLimiter to every request.
type politeTransport struct {
	next  http.RoundTripper
	hosts *hostLimiter
}

func (t *politeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	release, err := t.hosts.acquire(req.Context(), hostKey(req))
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

// hostKey is the host a request counts against: its name (or address),
// without the port, in lower case.
func hostKey(req *http.Request) string {
	return strings.ToLower(req.URL.Hostname())
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

// hostLimiter bounds the concurrent requests per host and spaces their
// starts. Its map holds only hosts in use or in their delay, so it stays
// small however many hosts a Fetcher meets.
type hostLimiter struct {
	max   int           // ≤ 0: no limit on concurrency
	delay time.Duration // 0: no spacing
	now   func() time.Time

	mu    sync.Mutex
	hosts map[string]*hostSlot
}

type hostSlot struct {
	sem  chan struct{} // one token per request in flight; nil when max ≤ 0
	refs int           // requests holding or waiting for a token
	next time.Time     // the earliest start of the next request (delay)
}

// pruneAt is the map size past which idle hosts are swept on insert.
const pruneAt = 1024

func newHostLimiter(max int, delay time.Duration) *hostLimiter {
	return &hostLimiter{max: max, delay: delay, now: time.Now, hosts: make(map[string]*hostSlot)}
}

// acquire waits for a slot of host, and for the host's delay, or for ctx.
// The returned release must be called once the request is over.
func (l *hostLimiter) acquire(ctx context.Context, host string) (release func(), err error) {
	l.mu.Lock()
	s := l.hosts[host]
	if s == nil {
		if len(l.hosts) >= pruneAt {
			l.pruneLocked()
		}
		s = &hostSlot{}
		if l.max > 0 {
			s.sem = make(chan struct{}, l.max)
		}
		l.hosts[host] = s
	}
	s.refs++
	l.mu.Unlock()

	if s.sem != nil {
		select {
		case s.sem <- struct{}{}:
		default:
			select {
			case s.sem <- struct{}{}:
			case <-ctx.Done():
				l.leave(host, s, false)
				return nil, fmt.Errorf("waiting for one of the %d request slots of %s: %w", l.max, host, ctx.Err())
			}
		}
	}
	if l.delay > 0 {
		l.mu.Lock()
		now := l.now()
		start := s.next
		if start.Before(now) {
			start = now
		}
		s.next = start.Add(l.delay)
		l.mu.Unlock()
		if wait := start.Sub(now); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				l.leave(host, s, true)
				return nil, fmt.Errorf("waiting %s between requests to %s: %w", l.delay, host, ctx.Err())
			}
		}
	}
	return func() { l.leave(host, s, true) }, nil
}

// leave ends one use of s: it gives its token back (if it held one) and
// forgets the host when nobody uses it and its delay is over.
func (l *hostLimiter) leave(host string, s *hostSlot, held bool) {
	if held && s.sem != nil {
		<-s.sem
	}
	l.mu.Lock()
	s.refs--
	if s.refs == 0 && !s.next.After(l.now()) && l.hosts[host] == s {
		delete(l.hosts, host)
	}
	l.mu.Unlock()
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
