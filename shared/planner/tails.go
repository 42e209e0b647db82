package planner

import (
	"context"
	"fmt"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/targets"
)

// Full batches. A shard is its own invocation and sends its own jobs, so
// one whose count is not a multiple of queue.MaxBatch would end with a
// partial SendMessageBatch call: a tick of 10^6 targets in 104 shards would
// make up to 103 calls more than ceil(N/10). Instead the tick's planner
// plans each shard's last count mod 10 targets itself (at most 9 a shard,
// read by key with ShardTail) with its own targets, and tells the shard
// where they begin (ShardMessage.Tail): every shard then sends only full
// batches and the tick one partial batch at most, ceil(N/10) calls in all.
//
// A shard of fewer than 10 targets (a small schedule's only shard) is all
// tail: the tick plans it whole and sends it no event. ShardTail reads one
// target more than the tail to tell.
//
// The counts are the layout's, from the last import: a list changed since
// without a new layout only costs a partial batch, never a job. A tail
// that cannot be read is left to its shard.

// tailJobs are the jobs the tick planned for the tails of a run's shards.
type tailJobs struct {
	msgs []queue.Outgoing
	ids  []string
	// from is, by shard index, the first target ID of the shard's tail.
	from map[int]string
	// rest are the shards with targets before their tail, or without one:
	// those the tick sends an event.
	rest []targets.Shard
}

// planTails plans the tails of the shards of run (the shards' event
// without its shard).
func (p *Planner) planTails(ctx context.Context, run ShardMessage, shards []targets.Shard, log *zap.Logger) (tailJobs, error) {
	planned := make([]storedJobs, len(shards))
	from := make([]string, len(shards))
	whole := make([]bool, len(shards))
	var g errgroup.Group
	g.SetLimit(p.parallelism)
	for i, sh := range shards {
		n := sh.Count % queue.MaxBatch
		if n == 0 {
			continue
		}
		g.Go(func() error {
			tail, err := p.list.ShardTail(ctx, sh, n+1)
			if err != nil {
				log.Warn("a shard's tail not read; the shard plans it", zap.Int("shard", sh.Index), zap.Error(err))
				return nil
			}
			if whole[i] = len(tail) <= n; !whole[i] {
				tail = tail[1:] // the shard's, before its tail
			}
			if len(tail) == 0 {
				return nil
			}
			part := run
			part.Shard = sh
			part.Shard.From = tail[0].ID
			js, err := p.planStored(ctx, part, tail, log)
			if err != nil {
				return fmt.Errorf("plan the tail of shard %d: %w", sh.Index, err)
			}
			planned[i], from[i] = js, tail[0].ID
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return tailJobs{}, err
	}
	out := tailJobs{from: map[int]string{}}
	for i, js := range planned {
		if !whole[i] {
			out.rest = append(out.rest, shards[i])
		}
		if from[i] == "" {
			continue
		}
		out.from[shards[i].Index] = from[i]
		out.msgs = append(out.msgs, js.msgs...)
		out.ids = append(out.ids, js.ids...)
	}
	return out, nil
}
