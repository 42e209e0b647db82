package targets

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/targets"
)

// RemoveOptions are the options of `targets remove`.
type RemoveOptions struct {
	storeOptions
	IDs    []string
	DryRun bool
}

// NewCmdRemove is `targets remove`; runF, when set, runs instead of
// removeRun (tests).
func NewCmdRemove(f *cmdutil.Factory, runF func(*RemoveOptions) error) *cobra.Command {
	opts := &RemoveOptions{storeOptions: newStoreOptions(f)}
	cmd := &cobra.Command{
		Use:   "remove ID...",
		Short: "Take targets out of the stored list",
		Long: `Take targets out of the stored list; the next tick of their schedule no longer
plans them. Their results are kept. An ID that is not stored is an error naming
it, and then nothing is removed. It reads and rewrites only the removed targets'
schedules (their shards may be laid out anew). The other targets keep their rank,
unless a host's removed targets leave gaps over a quarter of its targets: that
host's targets are then ranked afresh, in the same order.

A later import of a file that still lists a removed target adds it again.`,
		Example: `  cronless targets remove p-1042 p-1043
  cronless targets remove p-1042 --stage prod --dry-run`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.set(f, cmd)
			opts.IDs = args
			return cmdutil.RunOr(opts, runF, removeRun)
		},
	}
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "say what would be removed and write nothing")
	return cmd
}

func removeRun(opts *RemoveOptions) error {
	b, err := opts.open()
	if err != nil {
		return err
	}
	defer b.Close()
	ctx := opts.ctx
	ids := slices.Clone(opts.IDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	gone := make(map[string]bool, len(ids))
	schedules := map[string]bool{}
	var unknown []string
	for _, id := range ids {
		s, err := b.TargetList.StoredTarget(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			unknown = append(unknown, id)
			continue
		case err != nil:
			return fmt.Errorf("target %s: %w", id, err)
		}
		gone[id], schedules[s.Schedule] = true, true
	}
	if len(unknown) > 0 {
		return fmt.Errorf("not in the stored list of %s: %s; nothing removed (`cronless targets list` lists the stored targets)", b.Where, strings.Join(unknown, ", "))
	}

	// Only the removed targets' schedules change: the change is planned on
	// theirs alone, read shard by shard.
	all, err := b.TargetList.TargetLayouts(ctx)
	if err != nil {
		return fmt.Errorf("read the layouts of the stored list in %s: %w", b.Where, err)
	}
	layouts := map[string]targets.Layout{}
	var current, keep []targets.Stored
	for sched := range schedules {
		l := all[sched]
		layouts[sched] = l
		for _, sh := range l.Shards {
			list, err := b.TargetList.ShardTargets(ctx, sh)
			if err != nil {
				return fmt.Errorf("read shard %d of schedule %s in %s: %w", sh.Index, sched, b.Where, err)
			}
			current = append(current, list...)
		}
	}
	for _, s := range current {
		if !gone[s.ID] {
			keep = append(keep, s)
		}
	}
	importOrder(keep)
	ch := planList(current, layouts, entries(keep))
	named := ids
	if len(named) > 10 {
		named = append(named[:10:10], fmt.Sprintf("… (%d more)", len(ids)-10))
	}
	what := fmt.Sprintf("%s (%s)", plural(len(ids), "target", "targets"), strings.Join(named, ", "))
	if opts.DryRun {
		fmt.Fprintf(opts.IO.Out, "dry run: would remove %s from %s (%s to write); nothing written\n", what, b.Where, plural(items(ch), "item", "items"))
		return nil
	}
	start := time.Now()
	if err := apply(ctx, opts.IO, b, ch); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "removed %s from %s (%s written in %s)\n", what, b.Where, plural(items(ch), "item", "items"), time.Since(start).Round(time.Millisecond))
	return nil
}
