package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cronless/cronless/shared/crawl"
	"github.com/cronless/cronless/shared/job"
)

// table is rows of cells printed aligned for a person.
type table struct {
	header []string
	rows   [][]string
}

func newTable(header ...string) *table { return &table{header: header} }

func (t *table) add(cells ...any) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = fmt.Sprint(c)
	}
	t.rows = append(t.rows, row)
}

func (t *table) write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func (t *table) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(t.header); err != nil {
		return err
	}
	if err := cw.WriteAll(t.rows); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// outputFormat resolves --output: table on a terminal, JSON lines otherwise.
func (a *app) outputFormat(flag string) (string, error) {
	switch flag {
	case "table", "json", "csv":
		return flag, nil
	case "":
		if a.isTerminal(a.stdout) {
			return "table", nil
		}
		return "json", nil
	}
	return "", usagef("--output %q: use table, json or csv", flag)
}

// printResults prints results as a table (fields flat), JSON lines (whole)
// or CSV (fields flat).
func printResults(w io.Writer, format string, results []job.Result) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		for _, r := range results {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	if format == "csv" {
		t := newTable("target_id", "run_id", "status", "http_status", "changed", "fetched_at", "duration_ms", "attempt", "fields", "error_kind", "error_message")
		for _, r := range results {
			var kind, msg string
			if r.Error != nil {
				kind, msg = r.Error.Kind, r.Error.Message
			}
			t.add(r.TargetID, r.RunID, r.Status, r.HTTPStatus, r.Changed, r.FetchedAt.Format(time.RFC3339Nano),
				r.DurationMS, r.Attempt, flatFields(r.Fields), kind, msg)
		}
		return t.writeCSV(w)
	}
	// A table for a person: the fields of an ok result, or the error of a
	// failed one, in one column clipped to fit.
	t := newTable("TARGET", "RUN", "STATUS", "HTTP", "CHANGED", "MS", "FIELDS / ERROR")
	for _, r := range results {
		detail := flatFields(r.Fields)
		if r.Error != nil {
			detail = r.Error.Kind + ": " + r.Error.Message
		}
		t.add(r.TargetID, r.RunID, r.Status, orDash(r.HTTPStatus), r.Changed, r.DurationMS, clip(detail, 72))
	}
	return t.write(w)
}

// flatFields renders extracted fields as name=value pairs: the fields of
// the target's rules in name order, then the built-in ones.
func flatFields(fields map[string]any) string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	builtin := func(name string) int { return slices.Index(crawl.BuiltinFields, name) }
	sort.Slice(names, func(i, j int) bool {
		bi, bj := builtin(names[i]), builtin(names[j])
		if (bi < 0) != (bj < 0) {
			return bi < 0
		}
		if bi >= 0 {
			return bi < bj
		}
		return names[i] < names[j]
	})
	parts := make([]string, 0, len(names))
	for _, k := range names {
		var v string
		switch x := fields[k].(type) {
		case string:
			v = x
		case []any:
			items := make([]string, len(x))
			for i, it := range x {
				items[i] = fmt.Sprint(it)
			}
			v = "[" + strings.Join(items, ", ") + "]"
		case []string:
			v = "[" + strings.Join(x, ", ") + "]"
		default:
			b, _ := json.Marshal(x)
			v = string(b)
		}
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, "; ")
}

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func orDash(n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}
