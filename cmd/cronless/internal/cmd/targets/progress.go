package targets

import (
	"fmt"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/cronless/cronless/cmd/cronless/internal/iostreams"
)

// progressSteps is how many lines a step's progress prints when stderr is
// no terminal: one each tenth of the way (the last at the end).
// linesFrom is the least total that prints them: a smaller step takes
// milliseconds, and the command's summary says what it did.
const (
	progressSteps = 10
	linesFrom     = 1000
)

// progress shows one step's progress on stderr (reading or writing a
// list): a bar on a terminal; otherwise "targets: writing 300000/1000000"
// each tenth of the way, for logs. A step of nothing shows nothing, and
// one of fewer than linesFrom items no lines. set
// may be called from several goroutines (an adapter that writes in
// parallel).
type progress struct {
	mu    sync.Mutex
	io    *iostreams.IOStreams
	what  string
	total int
	bar   *progressbar.ProgressBar
	step  int // the tenths of the way reported so far
	done  int
}

func newProgress(ios *iostreams.IOStreams, what string, total int) *progress {
	p := &progress{io: ios, what: what, total: total}
	if total > 0 && ios.IsStderrTTY() {
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(ios.ErrOut), progressbar.OptionSetDescription(what),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionClearOnFinish(),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionSetRenderBlankState(true))
	}
	return p
}

// set records that n of the total are done.
func (p *progress) set(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.total <= 0 || n <= p.done {
		return
	}
	p.done = n
	if p.bar != nil {
		if n > p.total { // an adapter may count an item the plan did not
			p.total = n
			p.bar.ChangeMax(n)
		}
		_ = p.bar.Set(n)
		return
	}
	if p.total < linesFrom {
		return
	}
	if step := min(n, p.total) * progressSteps / p.total; step > p.step {
		p.step = step
		fmt.Fprintf(p.io.ErrOut, "targets: %s %d/%d\n", p.what, min(n, p.total), p.total)
	}
}

// finish clears the bar.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
}

// spin shows a spinner with what on a terminal while a step of unknown
// length runs (checking a file, planning the change), so that a large
// list's first seconds are not silent; the returned function clears it.
// Without a terminal it shows nothing: the lines of the steps that count
// say enough in a log.
func spin(ios *iostreams.IOStreams, what string) func() {
	if !ios.IsStderrTTY() {
		return func() {}
	}
	bar := progressbar.NewOptions(-1, progressbar.OptionSetWriter(ios.ErrOut), progressbar.OptionSetDescription(what),
		progressbar.OptionClearOnFinish(), progressbar.OptionSetRenderBlankState(true))
	return func() { _ = bar.Finish() }
}
