package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
)

// outputUsage is the help of every --output flag.
const outputUsage = "table, json (lines) or csv (default: table on a terminal, json otherwise)"

// whenUsage says which times --since and --until accept.
const whenUsage = "an RFC 3339 time (2026-11-27T09:00:00Z), a date (2026-11-27, midnight UTC), or a duration ago (90m, 24h, 7d, 1d12h)"

func (a *Factory) resultsCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "results",
		Short: "Query the stored results",
		Long: `Query the stored results of the local backend (default) or of a deployed stage (--stage).

Tables are for a person: extracted fields flat in one column, times in UTC. JSON
lines print each result whole; CSV gives every extracted field its own column
(fields.<name>). Without --output, a terminal gets a table and a pipe JSON lines.

--since and --until take ` + whenUsage + `.`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRunE,
	}
	cmd.PersistentFlags().StringVarP(&output, "output", "o", "", outputUsage)

	// query wraps a subcommand's query: it resolves the output format,
	// opens the backend, and prints the results or, for a table with none,
	// says why on stderr.
	query := func(fn func(ctx context.Context, o *backend) (res []job.Result, empty string, err error)) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			format, err := outputFormat(a.IOStreams, output)
			if err != nil {
				return err
			}
			o, err := a.openBackend(cmd.Context())
			if err != nil {
				return err
			}
			defer o.Close()
			res, empty, err := fn(cmd.Context(), o)
			if err != nil {
				return err
			}
			if len(res) == 0 {
				if format == "table" {
					fmt.Fprintln(a.IOStreams.ErrOut, empty)
				}
				return nil
			}
			return printResults(a.IOStreams.Out, format, res)
		}
	}

	var target string
	latest := &cobra.Command{
		Use:   "latest",
		Short: "The latest result of every target (or of one)",
		Example: `  cronless results latest
  cronless results latest --target example --output json`,
		Args: cobra.NoArgs,
		RunE: query(func(ctx context.Context, o *backend) ([]job.Result, string, error) {
			res, err := o.store.Latest(ctx, target)
			if err != nil {
				return nil, "", fmt.Errorf("latest results: %w", err)
			}
			empty := fmt.Sprintf("no results in %s yet: run `cronless run --once` (or `cronless demo`) first", o.where)
			if target != "" {
				empty = fmt.Sprintf("no results for target %q in %s: `cronless results latest` lists the targets that have some", target, o.where)
			}
			return res, empty, nil
		}),
	}
	latest.Flags().StringVar(&target, "target", "", "only this target")

	var (
		since, until string
		limit        int
	)
	history := &cobra.Command{
		Use:   "history TARGET",
		Short: "A target's results, newest first",
		Long: `A target's results scheduled in [--since, --until), newest first, at most --limit of them.

--since and --until take ` + whenUsage + `.`,
		Example: `  cronless results history example --since 24h
  cronless results history example --since 2026-11-01 --until 2026-11-08 --limit 0 -o csv`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			now := time.Now()
			from, err := parseWhen("since", since, now)
			if err != nil {
				return err
			}
			to, err := parseWhen("until", until, now)
			if err != nil {
				return err
			}
			if !from.IsZero() && !to.IsZero() && !from.Before(to) {
				return usagef("--since %s is not before --until %s", since, until)
			}
			if err := intFlag("limit", limit, 0, 1_000_000); err != nil {
				return err
			}
			return query(func(ctx context.Context, o *backend) ([]job.Result, string, error) {
				res, err := o.store.History(ctx, args[0], from, to, limit)
				if err != nil {
					return nil, "", fmt.Errorf("history of %s: %w", args[0], err)
				}
				return res, fmt.Sprintf("no results for target %q%s in %s: `cronless results latest` lists the targets that have some",
					args[0], between(from, to), o.where), nil
			})(cmd, args)
		},
	}
	history.Flags().StringVar(&since, "since", "", "only results scheduled at or after this time")
	history.Flags().StringVar(&until, "until", "", "only results scheduled before this time")
	history.Flags().IntVar(&limit, "limit", 50, "at most this many results (0: all)")

	run := &cobra.Command{
		Use:     "run RUN_ID",
		Short:   "One run's results, by target",
		Example: `  cronless results run hourly-20261127T090000Z`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return query(func(ctx context.Context, o *backend) ([]job.Result, string, error) {
				if _, err := findRun(ctx, o, args[0]); err != nil {
					return nil, "", err
				}
				res, err := o.store.RunResults(ctx, args[0])
				if err != nil {
					return nil, "", fmt.Errorf("results of run %s: %w", args[0], err)
				}
				return res, fmt.Sprintf("run %s has no results yet: `cronless runs show %s` says where its jobs are", args[0], args[0]), nil
			})(cmd, args)
		},
	}

	var changedSince string
	changed := &cobra.Command{
		Use:   "changed",
		Short: "Results whose content changed from the target's previous ok result",
		Long: `Results whose content hash differs from the target's previous ok result, scheduled at
or after --since (default 24h ago), newest first.

--since takes ` + whenUsage + `.`,
		Example: `  cronless results changed
  cronless results changed --since 7d -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			from, err := parseWhen("since", changedSince, time.Now())
			if err != nil {
				return err
			}
			return query(func(ctx context.Context, o *backend) ([]job.Result, string, error) {
				res, err := o.store.Changed(ctx, from)
				if err != nil {
					return nil, "", fmt.Errorf("changed results: %w", err)
				}
				return res, fmt.Sprintf("no changed results%s in %s", between(from, time.Time{}), o.where), nil
			})(cmd, args)
		},
	}
	changed.Flags().StringVar(&changedSince, "since", "24h", "only results scheduled at or after this time")

	var failedRun string
	failed := &cobra.Command{
		Use:   "failed",
		Short: "Failed results: each target's most recent failure, or one run's",
		Long: `Without --run: the most recent failed result of every target that has one, whether
or not a later run succeeded. With --run: that run's failed results.

Failed results are permanent failures (4xx, robots.txt, blocked address, missing
required field). Jobs that failed with retryable errors until they were
dead-lettered have no result: see cronless runs show RUN_ID and cronless dlq list.`,
		Example: `  cronless results failed
  cronless results failed --run hourly-20261127T090000Z -o csv`,
		Args: cobra.NoArgs,
		RunE: query(func(ctx context.Context, o *backend) ([]job.Result, string, error) {
			if failedRun != "" {
				if _, err := findRun(ctx, o, failedRun); err != nil {
					return nil, "", err
				}
			}
			res, err := o.store.Failed(ctx, failedRun)
			if err != nil {
				return nil, "", fmt.Errorf("failed results: %w", err)
			}
			if failedRun != "" {
				return res, fmt.Sprintf("run %s has no failed results", failedRun), nil
			}
			return res, fmt.Sprintf("no failed results in %s", o.where), nil
		}),
	}
	failed.Flags().StringVar(&failedRun, "run", "", "only this run's failed results")

	cmd.AddCommand(latest, history, run, changed, failed)
	return cmd
}

// groupRunE is the RunE of a command that only groups subcommands: without
// arguments it prints the help; an unknown subcommand is a usage error.
func groupRunE(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unknown command %q for %q (see %s --help)", args[0], cmd.CommandPath(), cmd.CommandPath())
	}
	return cmd.Help()
}

// findRun returns a run, or an error saying that the backend has no such run.
func findRun(ctx context.Context, o *backend, runID string) (store.Run, error) {
	run, err := o.store.Run(ctx, runID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Run{}, fmt.Errorf("run %s not found in %s: `cronless runs list` lists the runs", runID, o.where)
	}
	if err != nil {
		return store.Run{}, fmt.Errorf("run %s: %w", runID, err)
	}
	return run, nil
}

// between describes a time range for a message ("" when open at both ends).
func between(from, to time.Time) string {
	switch {
	case from.IsZero() && to.IsZero():
		return ""
	case to.IsZero():
		return " scheduled since " + tableTime(from)
	case from.IsZero():
		return " scheduled before " + tableTime(to)
	}
	return fmt.Sprintf(" scheduled from %s to %s", tableTime(from), tableTime(to))
}

// parseWhen reads the value of a time flag (--since, --until): an RFC 3339
// time, a date (midnight UTC), or a duration meaning that long before now,
// in Go's syntax plus whole days ("7d", "1d12h"). Empty is the zero time.
// A bad value is a usage error that says what is accepted.
func parseWhen(flag, v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	bad := func() (time.Time, error) {
		return time.Time{}, usagef("--%s %q: use %s", flag, v, whenUsage)
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	d, err := parseDays(v)
	if err != nil {
		return bad()
	}
	return now.Add(-d).UTC(), nil
}
