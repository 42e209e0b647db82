package cmdutil

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/cronless/cronless/shared/crawl"
	"github.com/cronless/cronless/shared/job"
)

// PrintResults prints results as a table (fields flat, for a person), JSON
// lines (each result whole) or CSV (one column per extracted field).
func PrintResults(w io.Writer, format string, results []job.Result) error {
	switch format {
	case "json":
		return PrintJSONLines(w, results)
	case "csv":
		return resultsCSV(results).WriteCSV(w)
	}
	// A table for a person: the fields of an ok result, or the error of a
	// failed one, in one column clipped to fit. The run ID says when the
	// result was scheduled. Fields cut to fit a result are said first, so
	// that clipping never hides it.
	t := NewTable("TARGET", "RUN", "STATUS", "HTTP", "CHANGED", "MS", "FIELDS / ERROR")
	for _, r := range results {
		detail := flatFields(r.Fields)
		if note := TruncatedNote(r.Truncated); note != "" {
			detail = note + " " + detail
		}
		if r.Error != nil {
			detail = r.Error.Kind + ": " + r.Error.Message
		}
		t.Add(r.TargetID, r.RunID, r.Status, OrDash(r.HTTPStatus), r.Changed, r.DurationMS, Clip(detail, 72))
	}
	return t.Write(w)
}

// PrintJSONLines writes each value as one line of JSON.
func PrintJSONLines[T any](w io.Writer, values []T) error {
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
func resultsCSV(results []job.Result) *Table {
	names := FieldNames(results)
	header := []string{"target_id", "run_id", "schedule", "scheduled_at", "url", "status", "http_status", "changed",
		"content_hash", "fetched_at", "duration_ms", "attempt", "error_kind", "error_message", "truncated"}
	for _, n := range names {
		header = append(header, "fields."+n)
	}
	t := NewTable(header...)
	for _, r := range results {
		kind, msg := ErrorCells(r.Error)
		row := []any{r.TargetID, r.RunID, r.Schedule, CSVTime(r.ScheduledAt), r.URL, r.Status, OrEmpty(r.HTTPStatus), r.Changed,
			r.ContentHash, CSVTime(r.FetchedAt), r.DurationMS, r.Attempt, kind, msg, truncatedCell(r.Truncated)}
		for _, n := range names {
			row = append(row, FieldCell(r.Fields, n))
		}
		t.Add(row...)
	}
	return t
}

// TruncatedNote says which fields were cut to fit a result, and how large
// they were, for a person: "[truncated links: 1899 of 8000 items, 1.1 MiB
// in all]" ("" when none was).
func TruncatedNote(t map[string]job.Truncation) string {
	if len(t) == 0 {
		return ""
	}
	names := make([]string, 0, len(t))
	for name := range t {
		names = append(names, name)
	}
	sortFieldNames(names)
	parts := make([]string, len(names))
	for i, name := range names {
		tr := t[name]
		if tr.Items > 0 {
			parts[i] = fmt.Sprintf("%s: %d of %d items, %s in all", name, tr.KeptItems, tr.Items, ByteSize(tr.Bytes))
		} else {
			parts[i] = fmt.Sprintf("%s: %s of %s", name, ByteSize(tr.KeptBytes), ByteSize(tr.Bytes))
		}
	}
	return "[truncated " + strings.Join(parts, "; ") + "]"
}

// truncatedCell is a result's truncated fields in a CSV cell, as JSON;
// empty when none was cut.
func truncatedCell(t map[string]job.Truncation) string {
	if len(t) == 0 {
		return ""
	}
	b, err := json.Marshal(t)
	if err != nil {
		return fmt.Sprint(t)
	}
	return string(b)
}

// ByteSize is n bytes for a person: "900 B", "256.0 KiB", "1.1 MiB".
func ByteSize(n int) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// FieldNames is the union of the results' field names, in flatFields' order.
func FieldNames(results []job.Result) []string {
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

// FieldCell is one extracted field in a CSV cell: a string as is, anything
// else (a list, a map) as JSON; empty when the result lacks the field.
func FieldCell(fields map[string]any, name string) string {
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

// ErrorCells is an error's kind and message in two cells (empty when nil).
func ErrorCells(e *job.Error) (kind, msg string) {
	if e == nil {
		return "", ""
	}
	return e.Kind, e.Message
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
