package dlq

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Archive is where a purge writes each message before deleting it; an
// *os.File opened for appending satisfies it.
type Archive interface {
	Write(p []byte) (int, error)
	// Sync makes what was written durable (fsync).
	Sync() error
}

// Archived is one line of a purge archive (JSON lines).
type Archived struct {
	Letter
	ArchivedAt time.Time `json:"archived_at"`
}

// PurgeOptions are the parameters of Purge.
type PurgeOptions struct {
	Options
	// Archive, if set, receives every purged message as a JSON line
	// (Archived), synced before the message is deleted.
	Archive Archive
	// DryRun changes nothing: the matching messages are reported as
	// ActionWouldPurge and made visible again.
	DryRun bool
	Report Report
}

// Purge deletes the messages of dlq that match opts.Filter (at most
// opts.Limit). With an archive, each batch is written and synced to it
// before it is deleted; when that fails, the purge stops and the batch
// stays in the queue. The others are left as they were, visible again.
func Purge(ctx context.Context, dlq Queue, opts PurgeOptions) (Summary, error) {
	if err := opts.fill(); err != nil {
		return Summary{}, err
	}
	return act(ctx, dlq, opts.Options, opts.DryRun, opts.Report, func(ctx context.Context, s *session, batch []*Letter, t *tally) error {
		if opts.DryRun {
			t.done(batch, ActionWouldPurge, &t.sum.Purged)
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if opts.Archive != nil {
			if err := archive(opts.Archive, batch, opts.Now()); err != nil {
				t.failed(batch, ActionNotArchived, err)
				return fmt.Errorf("archive: %w (the purge stopped; nothing unarchived was deleted)", err)
			}
		}
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
		defer cancel()
		if err := s.q.Delete(dctx, s.receipts(batch)); err != nil {
			t.failed(batch, ActionFailed, err)
			return fmt.Errorf("delete from %s: %w", s.q.Name(), err)
		}
		s.forget(batch)
		t.done(batch, ActionPurged, &t.sum.Purged)
		return nil
	})
}

// archive writes batch to a as JSON lines and syncs it.
func archive(a Archive, batch []*Letter, now time.Time) error {
	var buf []byte
	for _, l := range batch {
		b, err := json.Marshal(Archived{Letter: *l, ArchivedAt: now.UTC()})
		if err != nil {
			return fmt.Errorf("encode message %s: %w", l.ID, err)
		}
		buf = append(append(buf, b...), '\n')
	}
	if _, err := a.Write(buf); err != nil {
		return err
	}
	if err := a.Sync(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	return nil
}
