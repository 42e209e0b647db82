package dlq

import (
	"context"
	"errors"
	"fmt"

	"github.com/cronless/cronless/cmd/cronless/internal/iostreams"
	deadletter "github.com/cronless/cronless/shared/dlq"
	"github.com/cronless/cronless/shared/queue"
)

// PeekMax is the most messages Peek looks at.
const PeekMax = 100_000

// Peek returns q's dead letters without consuming them (deadletter.List:
// kept hidden while it pages through the queue, visible again at the end),
// for the commands that count them (runs, status); onStage is whether q is
// on SQS. It stops once it has seen as many messages as the depth counts,
// which spares the long poll that would find the queue empty (a second on
// SQS) in the common case; when the count is short (SQS's counts are
// approximate), those beyond it are not looked at. Messages that stayed in
// flight elsewhere (another scan of the DLQ) are not returned: a warning on
// ios says how many, and why they are left out (notCounted).
func Peek(ctx context.Context, ios *iostreams.IOStreams, q queue.Queue, onStage bool, notCounted string) ([]deadletter.Letter, error) {
	d, err := q.Depth(ctx)
	if err != nil {
		return nil, fmt.Errorf("count the messages of %s: %w", q.Name(), err)
	}
	n := d.Visible + d.InFlight
	if n == 0 {
		return nil, nil
	}
	sopts := deadletter.Options{Limit: min(n, PeekMax)}
	if onStage {
		sopts.Wait = StageWait
	}
	done := Progress(ctx, ios, q, "reading "+q.Name(), &sopts)
	letters, err := deadletter.List(ctx, q, sopts)
	done()
	if errors.Is(err, deadletter.ErrIncomplete) {
		fmt.Fprintf(ios.ErrOut, "cronless: warning: %v; %s\n", err, notCounted)
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("look at the messages of %s: %w", q.Name(), err)
	}
	return letters, nil
}
