// Package inflight is test support: a Probe measures how many calls of a
// fake port are in flight at once, so tests of the handler cores can check
// both that work runs in parallel and that a concurrency bound holds.
package inflight

import (
	"sync"
	"time"
)

// Probe counts calls in flight. Each call waits (up to two seconds) until
// want calls have been in flight together, so code that does not run them
// in parallel is seen as such, and then stays in flight a little longer, so
// code that runs more than it may at once is seen too.
type Probe struct {
	want    int
	mu      sync.Mutex
	cur     int
	max     int
	reached chan struct{}
	closed  bool
}

// New returns a probe that waits for want calls in flight together.
func New(want int) *Probe { return &Probe{want: want, reached: make(chan struct{})} }

// Enter marks a call as started.
func (p *Probe) Enter() {
	p.mu.Lock()
	p.cur++
	p.max = max(p.max, p.cur)
	if p.max >= p.want && !p.closed {
		p.closed = true
		close(p.reached)
	}
	p.mu.Unlock()
	select {
	case <-p.reached:
	case <-time.After(2 * time.Second):
	}
	time.Sleep(3 * time.Millisecond)
}

// Exit marks a call as finished.
func (p *Probe) Exit() {
	p.mu.Lock()
	p.cur--
	p.mu.Unlock()
}

// Max is the most calls that were in flight at once.
func (p *Probe) Max() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.max
}
