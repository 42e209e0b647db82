// Package targets is `cronless targets`: a target list held in the backend
// (the SQLite file locally, the stage's table on AWS) instead of in
// targets.yaml, for lists of thousands of targets and more. import writes a
// list file into the store, list, show and export read it back, remove takes
// targets out. shared/targets parses, writes and lays out the list; the
// store's TargetList port holds it.
package targets

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/cmd/cronless/internal/iostreams"
	"github.com/cronless/cronless/shared/targets"
)

// NewCmdTargets is the targets command group.
func NewCmdTargets(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "targets",
		Short: "Keep a large target list in the backend: import, list, show, remove, export",
		Long: `Keep a target list in the backend instead of in targets.yaml: the local SQLite
file (default, --db) or a deployed stage's DynamoDB table (--stage).

targets.yaml alone suits a small setup: its targets are packaged with the
planner, and changing them is a deploy. A stored list suits thousands of targets
and more: ` + "`cronless targets import`" + ` changes it without a deploy, and the next
tick of each schedule plans it, in shards planned in parallel. Schedules,
defaults:, hosts: and extracts: stay in targets.yaml: a stored target holds only
its own settings, and targets.yaml's apply when a tick plans it. Both may be used
at once: a tick plans targets.yaml's own targets of its schedule, then the stored
ones.

An import is not atomic to a tick planned while it is written: that tick may
plan part of the old list and part of the new one.`,
		Example: `  cronless targets import products.csv --dry-run
  cronless targets import products.csv
  cronless targets list --schedule hourly
  cronless targets export --format csv -o products.csv --stage prod`,
		Args: cobra.ArbitraryArgs,
		RunE: cmdutil.GroupRunE,
	}
	cmd.AddCommand(NewCmdImport(f, nil), NewCmdList(f, nil), NewCmdShow(f, nil), NewCmdRemove(f, nil), NewCmdExport(f, nil))
	// Hidden: the reliability tests and benchmarks need many shards of a
	// small list. A later import or removal without it lays the list out
	// again at the default size.
	cmd.PersistentFlags().IntVar(&shardSize, "shard-size", targets.ShardSize, "the most targets a shard holds")
	_ = cmd.PersistentFlags().MarkHidden("shard-size")
	return cmd
}

// shardSize is the hidden --shard-size.
var shardSize = targets.ShardSize

// planList is targets.PlanList at --shard-size.
func planList(current []targets.Stored, layouts map[string]targets.Layout, entries []targets.Entry) targets.Change {
	return targets.PlanList(current, layouts, entries, targets.WithShardSize(shardSize))
}

// storeOptions are what every targets command takes: the Factory's streams
// and store, the stage, and the command's context.
type storeOptions struct {
	IO *iostreams.IOStreams
	// Open opens the backend's store, creating a local one when create
	// is set (Factory.StoreBackend).
	Open  func(ctx context.Context, create bool) (*cmdutil.Backend, error)
	Stage string
	DB    string // the local backend's file (--db)
	ctx   context.Context
}

func newStoreOptions(f *cmdutil.Factory) storeOptions {
	return storeOptions{IO: f.IOStreams, Open: func(ctx context.Context, create bool) (*cmdutil.Backend, error) {
		return f.StoreBackend(ctx, create)
	}}
}

// set fills in what is known once cobra runs the command.
func (o *storeOptions) set(f *cmdutil.Factory, cmd *cobra.Command) {
	o.Stage, o.DB, o.ctx = f.Stage, f.DB, cmd.Context()
}

// open opens the store to read it: a local backend that does not exist yet
// is an error saying how to make one.
func (o *storeOptions) open() (*cmdutil.Backend, error) {
	b, err := o.Open(o.ctx, false)
	if errors.Is(err, cmdutil.ErrNoBackend) {
		return nil, fmt.Errorf("%w: no targets are stored there; `cronless targets import FILE` stores a list", err)
	}
	return b, err
}

// storedList reads every stored target, with the progress of the reading
// on stderr (what: "reading the stored list").
func storedList(ctx context.Context, ios *iostreams.IOStreams, b *cmdutil.Backend, what string) ([]targets.Stored, map[string]targets.Layout, error) {
	layouts, err := b.TargetList.TargetLayouts(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("read the layouts of the stored list in %s: %w", b.Where, err)
	}
	total := 0
	for _, l := range layouts {
		total += l.Count()
	}
	p := newProgress(ios, what, total)
	current := make([]targets.Stored, 0, total)
	err = b.TargetList.EachTarget(ctx, func(s targets.Stored) error {
		current = append(current, s)
		p.set(len(current))
		return nil
	})
	p.finish()
	if err != nil {
		return nil, nil, fmt.Errorf("read the stored list in %s: %w", b.Where, err)
	}
	return current, layouts, nil
}

// importOrder orders stored targets as an import file lists them so that
// importing them again keeps every target's rank (its place among its
// schedule's targets of its host, which paces it): schedule by schedule,
// host by host, in rank order.
func importOrder(list []targets.Stored) {
	// Each host once: parsing a URL in the comparison would parse it
	// log n times.
	type keyed struct {
		host string
		s    targets.Stored
	}
	ks := make([]keyed, len(list))
	for i, s := range list {
		ks[i] = keyed{s.Host(), s}
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		return cmp.Or(strings.Compare(a.s.Schedule, b.s.Schedule), strings.Compare(a.host, b.host),
			cmp.Compare(a.s.Rank, b.s.Rank), strings.Compare(a.s.ID, b.s.ID))
	})
	for i, k := range ks {
		list[i] = k.s
	}
}

// entries are the entries of stored targets.
func entries(list []targets.Stored) []targets.Entry {
	es := make([]targets.Entry, len(list))
	for i, s := range list {
		es[i] = s.Entry
	}
	return es
}

// items is how many items applying ch writes: its puts, layouts, deletes
// and dropped schedules (what ApplyTargets' progress counts up to).
func items(ch targets.Change) int {
	return len(ch.Put) + len(ch.Layouts) + len(ch.Delete) + len(ch.Dropped)
}

// apply writes ch with its progress on stderr; an interruption or a failure
// says that running the same command again finishes the work.
func apply(ctx context.Context, ios *iostreams.IOStreams, b *cmdutil.Backend, ch targets.Change) error {
	p := newProgress(ios, "writing", items(ch))
	err := b.TargetList.ApplyTargets(ctx, ch, p.set)
	p.finish()
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("interrupted: the list in %s is partly written; run the same command again to finish it (it writes only what is still missing)", b.Where)
	case err != nil:
		return fmt.Errorf("write the list in %s: %w (part of it may be written; running the same command again finishes it)", b.Where, err)
	}
	return nil
}

// summary prints a command's closing line: after a table on stdout, on
// stderr otherwise, so that JSON lines and CSV stay data.
func summary(ios *iostreams.IOStreams, format, line string) {
	if format == "table" {
		fmt.Fprintf(ios.Out, "\n%s\n", line)
		return
	}
	fmt.Fprintf(ios.ErrOut, "cronless: %s\n", line)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
