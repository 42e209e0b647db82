package dlq

import (
	"context"
	"fmt"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/cronless/cronless/cmd/cronless/internal/iostreams"
	deadletter "github.com/cronless/cronless/shared/dlq"
	"github.com/cronless/cronless/shared/queue"
)

// Progress shows a progress bar of a scan of q on a terminal (stderr),
// hooked into opts; the returned function clears it.
func Progress(ctx context.Context, ios *iostreams.IOStreams, q queue.Queue, what string, opts *deadletter.Options) func() {
	if !ios.IsStderrTTY() {
		return func() {}
	}
	total := -1
	if d, err := q.Depth(ctx); err == nil && d.Total() > 0 {
		total = d.Total()
	}
	// Drawn at once: the first receive may take a while (a long poll on
	// SQS), and a show may find its message in it.
	bar := progressbar.NewOptions(total, progressbar.OptionSetWriter(ios.ErrOut), progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetRenderBlankState(true))
	opts.Progress = func(p deadletter.Progress) {
		if p.Matched > 0 && (p.Done > 0 || p.Failed > 0) {
			bar.Describe(fmt.Sprintf("%s (done %d, failed %d)", what, p.Done, p.Failed))
		}
		if total > 0 && p.Received > total {
			total = p.Received
			bar.ChangeMax(total)
		}
		_ = bar.Set(p.Received)
	}
	return func() { _ = bar.Finish() }
}

// watchMove watches a move task until it ends (deadletter.WatchMove), with a
// progress bar of the messages moved on a terminal (stderr).
func watchMove(ctx context.Context, ios *iostreams.IOStreams, m deadletter.Mover, handle, what string, interval time.Duration) (queue.MoveTask, error) {
	if !ios.IsStderrTTY() {
		return deadletter.WatchMove(ctx, m, handle, interval, nil)
	}
	var bar *progressbar.ProgressBar
	toMove := int64(-1) // unknown: a spinner with the count
	progress := func(t queue.MoveTask) {
		known := t.ToMove
		if known <= 0 {
			// SQS reports no (or no useful) total: count up.
			known = -1
		}
		if bar == nil {
			toMove = known
			bar = progressbar.NewOptions64(toMove, progressbar.OptionSetWriter(ios.ErrOut), progressbar.OptionSetDescription(what),
				progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
		} else if known != toMove && known > 0 {
			toMove = known
			bar.ChangeMax64(toMove)
		}
		_ = bar.Set64(t.Moved)
	}
	t, err := deadletter.WatchMove(ctx, m, handle, interval, progress)
	if bar != nil {
		_ = bar.Finish()
	}
	return t, err
}
