package targets

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/shared/targets"
)

// ImportOptions are the options of `targets import`.
type ImportOptions struct {
	storeOptions
	File        string
	TargetsFile string
	DryRun      bool
	// IDs is how many IDs of each kind of change the diff lists (0: all).
	IDs    int
	Output string
}

// NewCmdImport is `targets import`; runF, when set, runs instead of
// importRun (tests).
func NewCmdImport(f *cmdutil.Factory, runF func(*ImportOptions) error) *cobra.Command {
	opts := &ImportOptions{storeOptions: newStoreOptions(f)}
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Make the stored target list hold exactly the targets of FILE",
		Long: `Make the stored target list hold exactly the targets of FILE: targets that are
new are added, targets that differ are changed, and stored targets that FILE does
not list are removed. It prints the difference (added, changed and removed: how
many, and their first IDs), then writes it, with its progress on stderr. The next
tick of each schedule plans the new list; nothing is deployed.

FILE is YAML (.yaml, .yml), JSON lines (.jsonl, .ndjson) or CSV (.csv), told by
its name:

  YAML        the list under targets:, each target as in targets.yaml
  JSON lines  one target a line: {"id": "p1", "url": "https://…", "schedule": "hourly"}
  CSV         a header naming its columns, of id, url, schedule, timeout,
              user_agent, robots and extract (id, url and schedule required),
              then one target a row; an empty cell sets nothing

A target has the keys of a target of targets.yaml (id, url, schedule, timeout,
user_agent, robots, extract); its extract is the name of an entry of the
extracts: of targets.yaml (shared rules), or, in YAML and JSON lines, its own
rules. Schedules, defaults:, hosts: and extracts: stay in targets.yaml (--targets:
the file the stage is deployed with), and FILE is checked against it: its
schedules and extracts must be there, and its IDs must not be those of
targets.yaml's own targets. A file with no target is refused (it would remove
every stored target: ` + "`cronless targets remove`" + ` takes targets out).

Every problem in FILE is found at once, each with its line and column (or CSV
row) and what to change; the first 100 are printed, then how many more there are
and where the first of a kind not printed is. Then nothing is written: a bad row
rejects the import whole.

It is idempotent: importing the same file again writes nothing and says so. An
import that is interrupted (Ctrl-C, a network error) leaves part of the change
written; importing the same file again finishes it. An import is not atomic to a
tick planned while it is written: that tick may plan part of the old list and part
of the new one. --dry-run prints the difference and writes nothing.`,
		Example: `  cronless targets import products.csv --dry-run
  cronless targets import products.csv
  cronless targets import products.jsonl --targets targets.yaml --stage prod
  cronless targets import products.csv --dry-run --ids 0 -o json   # every ID, as JSON lines`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.set(f, cmd)
			opts.File = args[0]
			return cmdutil.RunOr(opts, runF, importRun)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.TargetsFile, "targets", "targets.yaml", "the targets file the list's schedules and extracts are defined in (the one deployed)")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print the difference and write nothing")
	fl.IntVar(&opts.IDs, "ids", 10, "list at most this many IDs of each kind of change (0: all)")
	fl.StringVarP(&opts.Output, "output", "o", "", cmdutil.OutputUsage)
	return cmd
}

func importRun(opts *ImportOptions) error {
	format, err := cmdutil.OutputFormat(opts.IO, opts.Output)
	if err != nil {
		return err
	}
	if err := cmdutil.IntFlag("ids", opts.IDs, 0, 1_000_000_000); err != nil {
		return err
	}
	tf, err := cmdutil.LoadTargets(opts.TargetsFile)
	if err != nil {
		return err
	}
	if _, err := targets.ListFormat(opts.File); err != nil {
		return cmdutil.UsageError{Err: err}
	}
	data, err := os.ReadFile(opts.File)
	if err != nil {
		return cmdutil.UsageError{Err: fmt.Errorf("read the target list: %w", err)}
	}
	done := spin(opts.IO, "checking "+opts.File)
	list, err := targets.ParseList(opts.File, data, tf)
	done()
	if err != nil {
		return err // a *targets.Error lists every problem; nothing is written
	}
	data = nil // a million rows: let the file go before the store's copy is read

	ctx := opts.ctx
	b, err := opts.Open(ctx, !opts.DryRun)
	var current []targets.Stored
	var layouts map[string]targets.Layout
	where := ""
	switch {
	case opts.DryRun && errors.Is(err, cmdutil.ErrNoBackend):
		// Nothing stored yet: everything is added, and a dry run creates
		// no file.
		where = fmt.Sprintf("local (%s, not created yet)", opts.DB)
	case err != nil:
		return err
	default:
		defer b.Close()
		where = b.Where
		if current, layouts, err = storedList(ctx, opts.IO, b, "reading the stored list"); err != nil {
			return err
		}
	}
	done = spin(opts.IO, "planning the change")
	ch := planList(current, layouts, list)
	done()
	count := len(list)
	current, list = nil, nil // a million each: only the change is needed now
	if err := printDiff(opts.IO.Out, format, diffRows(ch, opts.IDs)); err != nil {
		return err
	}
	n := items(ch)
	switch {
	case ch.Empty():
		// An empty change still finishes what an interrupted import left
		// (store.TargetList: the items it had not deleted yet).
		finished := 0
		if !opts.DryRun {
			if err := b.TargetList.ApplyTargets(ctx, ch, func(n int) { finished = n }); err != nil {
				return fmt.Errorf("finish an interrupted import in %s: %w", where, err)
			}
		}
		msg := fmt.Sprintf("nothing to change: %s already holds the %s of %s; nothing written", where, plural(count, "target", "targets"), opts.File)
		if finished > 0 {
			msg = fmt.Sprintf("%s already holds the %s of %s; finished an interrupted import (%s deleted)", where, plural(count, "target", "targets"), opts.File, plural(finished, "leftover item", "leftover items"))
		}
		summary(opts.IO, format, msg)
		return nil
	case opts.DryRun:
		summary(opts.IO, format, fmt.Sprintf("dry run: would add %d, change %d and remove %d targets in %s (%s to write); nothing written",
			len(ch.Added), len(ch.Changed), len(ch.Removed), where, plural(n, "item", "items")))
		return nil
	}
	start := time.Now()
	if err := apply(ctx, opts.IO, b, ch); err != nil {
		return err
	}
	summary(opts.IO, format, fmt.Sprintf("imported %s into %s: %d added, %d changed, %d removed (%s written in %s); the next tick of each schedule plans the new list",
		opts.File, where, len(ch.Added), len(ch.Changed), len(ch.Removed), plural(n, "item", "items"), time.Since(start).Round(time.Millisecond)))
	return nil
}

// DiffRow is one kind of change of an import as printed: how many targets,
// and the first of their IDs.
type DiffRow struct {
	Change  string   `json:"change"` // added, changed or removed
	Targets int      `json:"targets"`
	IDs     []string `json:"ids"`
	// More is how many IDs are not listed (over --ids).
	More int `json:"more"`
}

// diffRows are ch's added, changed and removed targets, with at most
// limit IDs each (0: all).
func diffRows(ch targets.Change, limit int) []DiffRow {
	rows := make([]DiffRow, 0, 3)
	for _, k := range []struct {
		name string
		ids  []string
	}{{"added", ch.Added}, {"changed", ch.Changed}, {"removed", ch.Removed}} {
		ids := k.ids
		if limit > 0 && len(ids) > limit {
			ids = ids[:limit]
		}
		rows = append(rows, DiffRow{Change: k.name, Targets: len(k.ids), IDs: append([]string{}, ids...), More: len(k.ids) - len(ids)})
	}
	return rows
}

// printDiff prints the rows as a table, JSON lines or CSV (the IDs in one
// cell, separated by spaces: a target ID has none).
func printDiff(w io.Writer, format string, rows []DiffRow) error {
	switch format {
	case "json":
		return cmdutil.PrintJSONLines(w, rows)
	case "csv":
		t := cmdutil.NewTable("change", "targets", "ids", "more")
		for _, r := range rows {
			t.Add(r.Change, r.Targets, strings.Join(r.IDs, " "), r.More)
		}
		return t.WriteCSV(w)
	}
	t := cmdutil.NewTable("CHANGE", "TARGETS", "IDS")
	for _, r := range rows {
		ids := strings.Join(r.IDs, ", ")
		if r.More > 0 {
			ids += fmt.Sprintf(", … (%d more)", r.More)
		}
		t.Add(r.Change, r.Targets, cmdutil.OrDashS(ids))
	}
	return t.Write(w)
}
