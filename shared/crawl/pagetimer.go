package crawl

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// errPageTimeout is the cause of a fetch's context when the page's own
// timeout ran out.
var errPageTimeout = fmt.Errorf("the page's timeout ran out: %w", context.DeadlineExceeded)

// pageTimer is a page's own timeout: it runs while the fetch works (its
// robots.txt, its requests and redirects, reading and parsing the body) and
// stands still while the fetch waits for a per-host slot, which is other
// pages' time, not this page's.
type pageTimer struct {
	mu     sync.Mutex
	left   time.Duration // running time left when it last stopped
	since  time.Time     // when it last started running
	paused int           // nested pauses
	timer  *time.Timer   // nil while paused
	over   bool          // fired, or stopped for good
	fire   func()
}

// startPageTimer starts a timer that calls fire once d of running time
// has passed.
func startPageTimer(d time.Duration, fire func()) *pageTimer {
	return &pageTimer{left: d, since: time.Now(), timer: time.AfterFunc(d, fire), fire: fire}
}

// pause stops the clock until the matching resume. A nil timer does nothing.
func (p *pageTimer) pause() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paused++
	if p.paused > 1 || p.timer == nil {
		return
	}
	if p.timer.Stop() {
		p.left -= time.Since(p.since)
	} else {
		p.over = true // it fired
	}
	p.timer = nil
}

// resume starts the clock again after a pause.
func (p *pageTimer) resume() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paused--
	if p.paused > 0 || p.over {
		return
	}
	p.since = time.Now()
	p.timer = time.AfterFunc(max(p.left, 0), p.fire)
}

// stop ends the timer for good.
func (p *pageTimer) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	p.over = true
}

type pageTimerKey struct{}

// withPageTimer returns ctx carrying p, for the transport to pause.
func withPageTimer(ctx context.Context, p *pageTimer) context.Context {
	return context.WithValue(ctx, pageTimerKey{}, p)
}

// pageTimerFrom is the page timer ctx carries, or nil.
func pageTimerFrom(ctx context.Context) *pageTimer {
	p, _ := ctx.Value(pageTimerKey{}).(*pageTimer)
	return p
}
