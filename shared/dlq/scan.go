package dlq

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cronless/cronless/shared/queue"
)

// parallel is how many calls a scan makes at once when it changes the
// visibility of many messages or looks up many error histories.
const parallel = 8

// strayPoll is how long a scan sleeps between looks for messages in flight
// elsewhere when its receives do not long-poll (Options.Wait 0).
const strayPoll = 100 * time.Millisecond

// session holds the messages one scan received: hidden while it works,
// visible again when it ends.
type session struct {
	q    Queue
	opts Options

	mu   sync.Mutex
	held map[string]*Letter // by message ID: received, not deleted
	seen int

	stop chan struct{}
	done chan struct{}
}

func newSession(q Queue, opts Options) *session {
	s := &session{q: q, opts: opts, held: map[string]*Letter{}, stop: make(chan struct{}), done: make(chan struct{})}
	go s.keepHidden()
	return s
}

// receive returns the messages of the next receive that this session had
// not seen, and how many the receive returned (0: the queue has nothing
// visible left).
func (s *session) receive(ctx context.Context) ([]queue.Message, int, error) {
	msgs, err := s.q.Receive(ctx, queue.ReceiveOptions{Max: queue.MaxBatch, Wait: s.opts.Wait, Visibility: s.opts.Visibility})
	if err != nil {
		return nil, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fresh := msgs[:0:0]
	for _, m := range msgs {
		if l, ok := s.held[m.ID]; ok {
			// Its hold lapsed and it came round again: keep the new handle.
			l.receipt = m.ReceiptHandle
			continue
		}
		fresh = append(fresh, m)
	}
	return fresh, len(msgs), nil
}

// hold adds letters to the held set.
func (s *session) hold(ls []*Letter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range ls {
		s.held[l.ID] = l
	}
	s.seen += len(ls)
}

// strays is how many messages of the queue are in flight that the session
// does not hold.
func (s *session) strays(ctx context.Context) (int, error) {
	d, err := s.q.Depth(ctx)
	if err != nil {
		return 0, fmt.Errorf("count the messages in flight in %s: %w", s.q.Name(), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return d.InFlight - len(s.held), nil
}

// receipts returns the current receipt handles of letters.
func (s *session) receipts(ls []*Letter) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	rh := make([]string, len(ls))
	for i, l := range ls {
		rh[i] = l.receipt
	}
	return rh
}

// forget drops deleted letters from the held set.
func (s *session) forget(ls []*Letter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range ls {
		delete(s.held, l.ID)
	}
}

// keepHidden extends the hold of every held message a third of the way
// into its visibility timeout, until close.
func (s *session) keepHidden() {
	defer close(s.done)
	every := s.opts.Visibility / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		handles := make(map[string]string, len(s.held))
		for id, l := range s.held {
			handles[id] = l.receipt
		}
		s.mu.Unlock()
		// Past the visibility timeout the holds have lapsed anyway.
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.Visibility)
		each(ctx, handles, func(ctx context.Context, rh string) error {
			return s.q.ChangeVisibility(ctx, rh, s.opts.Visibility)
		})
		cancel()
	}
}

// close stops extending the holds and makes every message still held
// visible again, even when ctx is cancelled. A message it cannot release
// comes back on its own when its visibility timeout passes.
func (s *session) close(ctx context.Context) error {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	handles := make(map[string]string, len(s.held))
	for id, l := range s.held {
		handles[id] = l.receipt
	}
	s.held = map[string]*Letter{}
	s.mu.Unlock()
	if len(handles) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	errs := each(ctx, handles, func(ctx context.Context, rh string) error {
		err := s.q.ChangeVisibility(ctx, rh, 0)
		if errors.Is(err, queue.ErrReceiptInvalid) {
			return nil // visible already (its hold lapsed) or taken by someone else
		}
		return err
	})
	if len(errs) > 0 {
		return fmt.Errorf("%d messages of %s could not be made visible again; they come back when their visibility timeout (%v) passes: %w",
			len(errs), s.q.Name(), s.opts.Visibility, errs[0])
	}
	return nil
}

// each calls fn for every handle, parallel at most at once, and returns
// the errors: one failure does not stop the others.
func each(ctx context.Context, handles map[string]string, fn func(ctx context.Context, rh string) error) []error {
	var (
		mu   sync.Mutex
		errs []error
		g    errgroup.Group
	)
	g.SetLimit(parallel)
	for _, rh := range handles {
		g.Go(func() error {
			if err := fn(ctx, rh); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait() // never an error: each collects them
	return errs
}

// scanWith hands the messages of q that pass pre (nil: all; it spares store
// lookups) and the filter (within the limit) to fn a batch at a time, and
// counts in p; opts.Progress sees p after every batch.
func scanWith(ctx context.Context, q Queue, opts Options, pre func(queue.Message) bool, p *Progress,
	fn func(ctx context.Context, s *session, batch []*Letter) error) (err error) {
	if err := opts.fill(); err != nil {
		return err
	}
	s := newSession(q, opts)
	defer func() {
		if cerr := s.close(ctx); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	ex := explainer{h: opts.History, cache: map[[2]string]*ErrorInfo{}}
	// strayDeadline is when the scan stops waiting for messages in flight
	// that it does not hold (zero: it has not started waiting). The wait is
	// measured on the wall clock, not opts.Now.
	var strayDeadline time.Time
	for opts.Limit == 0 || p.Matched < opts.Limit {
		if err := ctx.Err(); err != nil {
			return err
		}
		msgs, n, err := s.receive(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			stray, err := s.strays(ctx)
			if err != nil || stray <= 0 {
				return err
			}
			if strayDeadline.IsZero() {
				// SQS counts visibility timeouts in whole seconds; a
				// second more for the server to notice.
				strayDeadline = time.Now().Add(time.Duration(math.Ceil(opts.Visibility.Seconds()))*time.Second + time.Second)
			}
			if time.Now().After(strayDeadline) {
				return fmt.Errorf("%d messages of %s stayed in flight, held by someone else (another scan or a consumer): %w",
					stray, q.Name(), ErrIncomplete)
			}
			if opts.Wait == 0 {
				if err := sleep(ctx, strayPoll); err != nil {
					return err
				}
			}
			continue
		}
		all := make([]*Letter, len(msgs))
		var cands []*Letter
		for i, m := range msgs {
			all[i] = newLetter(q.Name(), m)
			if opts.Planner {
				explainPlanner(all[i])
			}
			if pre == nil || pre(m) {
				cands = append(cands, all[i])
			}
		}
		s.hold(all)
		p.Received += len(all)
		if err := ex.explain(ctx, cands); err != nil {
			return err
		}
		now := opts.Now()
		var batch []*Letter
		for _, l := range cands {
			if opts.Limit > 0 && p.Matched >= opts.Limit {
				break
			}
			if opts.Filter.Match(*l, now) {
				batch = append(batch, l)
				p.Matched++
			}
		}
		if len(batch) > 0 {
			if err := fn(ctx, s, batch); err != nil {
				return err
			}
		}
		if opts.Progress != nil {
			opts.Progress(*p)
		}
	}
	return nil
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
