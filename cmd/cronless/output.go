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

	"github.com/cronless/cronless/cmd/cronless/internal/iostreams"
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

// writeRows writes the rows aligned, without the header.
func (t *table) writeRows(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
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
func outputFormat(ios *iostreams.IOStreams, flag string) (string, error) {
	switch flag {
	case "table", "json", "csv":
		return flag, nil
	case "":
		if ios.IsStdoutTTY() {
			return "table", nil
		}
		return "json", nil
	}
	return "", usagef("--output %q: use table, json or csv", flag)
}

// printResults prints results as a table (fields flat, for a person), JSON
// lines (each result whole) or CSV (one column per extracted field).
func printResults(w io.Writer, format string, results []job.Result) error {
	switch format {
	case "json":
		return printJSONLines(w, results)
	case "csv":
		return resultsCSV(results).writeCSV(w)
	}
	// A table for a person: the fields of an ok result, or the error of a
	// failed one, in one column clipped to fit. The run ID says when the
	// result was scheduled.
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

// printJSONLines writes each value as one line of JSON.
func printJSONLines[T any](w io.Writer, values []T) error {
	enc := json.NewEncoder(w)
	for _, v := range values {
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	return nil
}

// resultsCSV is results as CSV rows: the result's own columns, then one
// column "fields.<name>" per extracted field any of the results has.
func resultsCSV(results []job.Result) *table {
	names := fieldNames(results)
	header := []string{"target_id", "run_id", "schedule", "scheduled_at", "url", "status", "http_status", "changed",
		"content_hash", "fetched_at", "duration_ms", "attempt", "error_kind", "error_message"}
	for _, n := range names {
		header = append(header, "fields."+n)
	}
	t := newTable(header...)
	for _, r := range results {
		kind, msg := errorCells(r.Error)
		row := []any{r.TargetID, r.RunID, r.Schedule, csvTime(r.ScheduledAt), r.URL, r.Status, orEmpty(r.HTTPStatus), r.Changed,
			r.ContentHash, csvTime(r.FetchedAt), r.DurationMS, r.Attempt, kind, msg}
		for _, n := range names {
			row = append(row, fieldCell(r.Fields, n))
		}
		t.add(row...)
	}
	return t
}

// fieldNames is the union of the results' field names, in flatFields' order.
func fieldNames(results []job.Result) []string {
	seen := map[string]bool{}
	var names []string
	for _, r := range results {
		for k := range r.Fields {
			if !seen[k] {
				seen[k] = true
				names = append(names, k)
			}
		}
	}
	sortFieldNames(names)
	return names
}

// fieldCell is one extracted field in a CSV cell: a string as is, anything
// else (a list, a map) as JSON; empty when the result lacks the field.
func fieldCell(fields map[string]any, name string) string {
	v, ok := fields[name]
	if !ok || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func errorCells(e *job.Error) (kind, msg string) {
	if e == nil {
		return "", ""
	}
	return e.Kind, e.Message
}

// tableTime is a time for a person: UTC, to the second; "-" when zero.
func tableTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// csvTime is a time in a CSV cell: UTC RFC 3339 with its fraction; empty
// when zero.
func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// sortFieldNames orders field names as flatFields prints them: the fields
// of the target's rules in name order, then the built-in ones.
func sortFieldNames(names []string) {
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
}

// flatFields renders extracted fields as name=value pairs: the fields of
// the target's rules in name order, then the built-in ones.
func flatFields(fields map[string]any) string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sortFieldNames(names)
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

// orEmpty is n in a CSV cell, empty when zero (no HTTP status, say).
func orEmpty(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprint(n)
}
