package targets

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/targets"
)

// Row is a stored target as list and show print it in JSON: its own
// settings (empty: targets.yaml's defaults apply), its shard in its
// schedule's layout and its rank among its host's targets.
type Row struct {
	ID        string `json:"id"`
	Schedule  string `json:"schedule"`
	URL       string `json:"url"`
	Shard     int    `json:"shard"`
	Rank      int    `json:"rank"`
	Timeout   string `json:"timeout,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	Robots    *bool  `json:"robots,omitempty"`
	// Extract names an entry of targets.yaml's extracts:; Rules are the
	// target's own.
	Extract string              `json:"extract,omitempty"`
	Rules   map[string]job.Rule `json:"rules,omitempty"`
}

func newRow(s targets.Stored) Row {
	r := Row{ID: s.ID, Schedule: s.Schedule, URL: s.URL, Shard: s.Shard, Rank: s.Rank,
		UserAgent: s.UserAgent, Robots: s.Robots, Extract: s.Extract, Rules: s.Rules}
	if s.Timeout > 0 {
		r.Timeout = s.Timeout.String()
	}
	return r
}

// ListOptions are the options of `targets list`.
type ListOptions struct {
	storeOptions
	Schedule string
	Limit    int
	Output   string
}

// NewCmdList is `targets list`; runF, when set, runs instead of listRun (tests).
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{storeOptions: newStoreOptions(f)}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "The stored targets, schedule by schedule and shard by shard",
		Long: `The stored targets: ID, schedule, URL, the shard of its schedule that plans it, and
its rank (its place among its schedule's targets of its host: a tick starts the
job of rank k of a host k ÷ the host's rate after the tick). They come schedule by
schedule, shard by shard, in ID order in a shard. --schedule reads only that
schedule's shards.`,
		Example: `  cronless targets list
  cronless targets list --schedule hourly --limit 0 -o csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.set(f, cmd)
			return cmdutil.RunOr(opts, runF, listRun)
		},
	}
	cmd.Flags().StringVar(&opts.Schedule, "schedule", "", "only the targets of this schedule")
	cmd.Flags().IntVar(&opts.Limit, "limit", 100, "at most this many targets (0: all)")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", cmdutil.OutputUsage)
	return cmd
}

// errEnough stops a read of the list once --limit targets are read.
var errEnough = errors.New("enough targets")

func listRun(opts *ListOptions) error {
	format, err := cmdutil.OutputFormat(opts.IO, opts.Output)
	if err != nil {
		return err
	}
	if err := cmdutil.IntFlag("limit", opts.Limit, 0, 1_000_000_000); err != nil {
		return err
	}
	b, err := opts.open()
	if err != nil {
		return err
	}
	defer b.Close()
	ctx := opts.ctx
	layouts, err := b.TargetList.TargetLayouts(ctx)
	if err != nil {
		return fmt.Errorf("read the layouts of the stored list in %s: %w", b.Where, err)
	}
	total := 0
	for _, l := range layouts {
		total += l.Count()
	}
	var rows []Row
	add := func(s targets.Stored) error {
		if opts.Limit > 0 && len(rows) == opts.Limit {
			return errEnough
		}
		rows = append(rows, newRow(s))
		return nil
	}
	if opts.Schedule != "" {
		l, ok := layouts[opts.Schedule]
		if !ok {
			if format == "table" {
				fmt.Fprintf(opts.IO.ErrOut, "no stored targets of schedule %q in %s (schedules with stored targets: %s)\n", opts.Schedule, b.Where, names(layouts))
			}
			return nil
		}
		total = l.Count()
		// By key, shard by shard: the schedule's targets alone.
	shards:
		for _, sh := range l.Shards {
			list, err := b.TargetList.ShardTargets(ctx, sh)
			if err != nil {
				return fmt.Errorf("read shard %d of schedule %s in %s: %w", sh.Index, sh.Schedule, b.Where, err)
			}
			for _, s := range list {
				if add(s) != nil {
					break shards
				}
			}
		}
	} else if err := b.TargetList.EachTarget(ctx, add); err != nil && !errors.Is(err, errEnough) {
		return fmt.Errorf("read the stored list in %s: %w", b.Where, err)
	}
	if len(rows) == 0 {
		if format == "table" {
			fmt.Fprintf(opts.IO.ErrOut, "no targets stored in %s: `cronless targets import FILE` stores a list\n", b.Where)
		}
		return nil
	}
	if err := printRows(opts.IO.Out, format, rows); err != nil {
		return err
	}
	if len(rows) < total && format == "table" {
		fmt.Fprintf(opts.IO.ErrOut, "the first %d of %d stored targets; --limit 0 lists them all\n", len(rows), total)
	}
	return nil
}

// names are the schedules of layouts, sorted, for messages.
func names(layouts map[string]targets.Layout) string {
	var ns []string
	for n := range layouts {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	if len(ns) == 0 {
		return "none"
	}
	return strings.Join(ns, ", ")
}

func printRows(w io.Writer, format string, rows []Row) error {
	switch format {
	case "json":
		return cmdutil.PrintJSONLines(w, rows)
	case "csv":
		t := cmdutil.NewTable("id", "schedule", "url", "shard", "rank", "timeout", "user_agent", "robots", "extract")
		for _, r := range rows {
			t.Add(r.ID, r.Schedule, r.URL, r.Shard, r.Rank, r.Timeout, r.UserAgent, robotsCell(r.Robots), extractCell(r))
		}
		return t.WriteCSV(w)
	}
	t := cmdutil.NewTable("ID", "SCHEDULE", "URL", "SHARD", "RANK")
	for _, r := range rows {
		t.Add(r.ID, r.Schedule, cmdutil.Clip(r.URL, 72), r.Shard, r.Rank)
	}
	return t.Write(w)
}

// robotsCell is a target's own robots setting: empty when it takes the
// default.
func robotsCell(b *bool) string {
	if b == nil {
		return ""
	}
	return strconv.FormatBool(*b)
}

// extractCell is a target's extract: the name of shared rules, or its own
// rules as JSON.
func extractCell(r Row) string {
	if r.Extract != "" || len(r.Rules) == 0 {
		return r.Extract
	}
	b, err := json.Marshal(r.Rules)
	if err != nil {
		return fmt.Sprint(r.Rules)
	}
	return string(b)
}

// ShowOptions are the options of `targets show`.
type ShowOptions struct {
	storeOptions
	ID     string
	Output string
}

// NewCmdShow is `targets show`; runF, when set, runs instead of showRun (tests).
func NewCmdShow(f *cmdutil.Factory, runF func(*ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{storeOptions: newStoreOptions(f)}
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "One stored target: its own settings, its shard and its rank",
		Long: `One stored target: its own settings (a setting it does not have takes
targets.yaml's default when a tick plans it), the shard of its schedule that
plans it and its rank among its schedule's targets of its host.`,
		Example: `  cronless targets show p-1042
  cronless targets show p-1042 --stage prod -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.set(f, cmd)
			opts.ID = args[0]
			return cmdutil.RunOr(opts, runF, showRun)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", cmdutil.OutputUsage)
	return cmd
}

func showRun(opts *ShowOptions) error {
	format, err := cmdutil.OutputFormat(opts.IO, opts.Output)
	if err != nil {
		return err
	}
	b, err := opts.open()
	if err != nil {
		return err
	}
	defer b.Close()
	s, err := b.TargetList.StoredTarget(opts.ctx, opts.ID)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("target %s is not in the stored list of %s: `cronless targets list` lists the stored targets (a target of targets.yaml is not stored)", opts.ID, b.Where)
	}
	if err != nil {
		return fmt.Errorf("target %s: %w", opts.ID, err)
	}
	r := newRow(s)
	if format != "table" {
		return printRows(opts.IO.Out, format, []Row{r})
	}
	orDefault := func(s string) string {
		if s == "" {
			return "(targets.yaml's default)"
		}
		return s
	}
	extract := extractCell(r)
	if r.Extract != "" {
		extract = r.Extract + " (under extracts: in targets.yaml)"
	}
	t := cmdutil.NewTable("", "")
	t.Add("id:", r.ID)
	t.Add("url:", r.URL)
	t.Add("host:", s.Host())
	t.Add("schedule:", r.Schedule)
	t.Add("timeout:", orDefault(r.Timeout))
	t.Add("user_agent:", orDefault(r.UserAgent))
	t.Add("robots:", orDefault(robotsCell(r.Robots)))
	t.Add("extract:", cmdutil.OrDashS(extract))
	t.Add("shard:", r.Shard)
	t.Add("rank:", r.Rank)
	return t.WriteRows(opts.IO.Out)
}
