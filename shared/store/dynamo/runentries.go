package dynamo

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"golang.org/x/sync/errgroup"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
)

// entryPage is how many entries a reader of one GSI1 shard hands on at a
// time: at most RunShards pages of them are held at once, whatever the
// size of the run.
const entryPage = 256

// RunEntries calls fn with the GSI1 entry of every result of run runID, in
// target ID order: a Query of each of the run's RunShards GSI1 partitions,
// all at once, each in GSI1SK (T#<target>) order, merged as they are read.
// It reads no result item (GSI1 projects status, stored time, changed and
// URL) and holds a few pages of entries at a time, not the run's. GSI1 is
// eventually consistent: a result stored a moment ago may be missing, as
// from the run's counters (count), which read the same entries.
func (s *Store) RunEntries(ctx context.Context, runID string, fn func(store.RunEntry) error) error {
	if err := s.runEntries(ctx, runID, fn); err != nil {
		return fmt.Errorf("dynamo: entries of run %q: %w", runID, err)
	}
	return nil
}

func (s *Store) runEntries(ctx context.Context, runID string, fn func(store.RunEntry) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	shards := make([]<-chan []store.RunEntry, RunShards)
	for sh := range RunShards {
		ch := make(chan []store.RunEntry, 1)
		shards[sh] = ch
		g.Go(func() error {
			defer close(ch)
			return s.shardEntries(gctx, runID, sh, ch)
		})
	}
	var fnErr error
	mergeErr := mergeEntries(gctx, shards, func(e store.RunEntry) error {
		fnErr = fn(e)
		return fnErr
	})
	cancel() // stops the readers when fn stopped the merge
	readErr := g.Wait()
	switch {
	case fnErr != nil:
		return fnErr
	case readErr != nil:
		return readErr
	}
	return mergeErr
}

// shardEntries sends the entries of one of a run's GSI1 partitions to ch,
// entryPage at a time, in target ID order.
func (s *Store) shardEntries(ctx context.Context, runID string, sh int, ch chan<- []store.RunEntry) error {
	in := gsi1(runShardPK(runID, sh))
	in.TableName = aws.String(s.table)
	// Only what an entry holds: the index's other attributes (the
	// validators) are read and paid for all the same, but not sent.
	in.ProjectionExpression = aws.String("#gsk, #st, #c, #url, #sa")
	for name, attr := range map[string]string{"#gsk": AttrGSI1SK, "#st": attrStatus, "#c": attrChanged, "#url": attrURL, "#sa": attrStoredAt} {
		in.ExpressionAttributeNames[name] = attr
	}
	send := func(page []store.RunEntry) error {
		select {
		case ch <- page:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	page := make([]store.RunEntry, 0, entryPage)
	err := s.each(ctx, in, func(it item) (bool, error) {
		e, err := decodeEntry(it)
		if err != nil {
			return false, err
		}
		if page = append(page, e); len(page) == entryPage {
			if err := send(page); err != nil {
				return false, err
			}
			page = make([]store.RunEntry, 0, entryPage)
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("GSI1 shard %d: %w", sh, err)
	}
	if len(page) > 0 {
		return send(page)
	}
	return nil
}

// decodeEntry reads a result's GSI1 entry.
func decodeEntry(it item) (store.RunEntry, error) {
	e := store.RunEntry{
		TargetID: strings.TrimPrefix(it.Str(AttrGSI1SK), prefixTarget),
		Status:   job.Status(it.Str(attrStatus)),
		Changed:  it.Boolean(attrChanged),
		URL:      it.Str(attrURL),
	}
	var err error
	if e.StoredAt, err = it.Time(attrStoredAt); err != nil {
		return store.RunEntry{}, fmt.Errorf("GSI1 entry of result %s: %w", e.TargetID, err)
	}
	return e, nil
}

// mergeEntries calls fn with the entries of shards (each in target ID
// order, closed at its end) in target ID order, until they are all read,
// fn returns an error or ctx is done (a reader failed: its channel is
// closed early, so the merge must not go on as if it had ended).
func mergeEntries(ctx context.Context, shards []<-chan []store.RunEntry, fn func(store.RunEntry) error) error {
	heads := make([][]store.RunEntry, len(shards))
	// fill gives shard i a page to take from, or says it has ended.
	fill := func(i int) bool {
		for len(heads[i]) == 0 {
			page, ok := <-shards[i]
			if !ok {
				return false
			}
			heads[i] = page
		}
		return true
	}
	var live []int
	for i := range shards {
		if fill(i) {
			live = append(live, i)
		}
	}
	for len(live) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		m := 0
		for j := 1; j < len(live); j++ {
			if heads[live[j]][0].TargetID < heads[live[m]][0].TargetID {
				m = j
			}
		}
		i := live[m]
		if err := fn(heads[i][0]); err != nil {
			return err
		}
		if heads[i] = heads[i][1:]; !fill(i) {
			live = append(live[:m], live[m+1:]...)
		}
	}
	return ctx.Err()
}
