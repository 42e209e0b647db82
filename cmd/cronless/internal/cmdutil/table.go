// Package cmdutil is what the CLI's commands share: the Factory, the
// backend they work on, usage errors, and tables and cells for people.
package cmdutil

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cronless/cronless/cmd/cronless/internal/iostreams"
)

// Table is rows of cells printed aligned for a person.
type Table struct {
	Header []string
	Rows   [][]string
}

// NewTable returns an empty table with the header.
func NewTable(header ...string) *Table { return &Table{Header: header} }

// Add adds a row of cells, each printed with fmt.Sprint.
func (t *Table) Add(cells ...any) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = fmt.Sprint(c)
	}
	t.Rows = append(t.Rows, row)
}

// Write writes the table aligned.
func (t *Table) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.Header, "\t"))
	for _, r := range t.Rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// WriteRows writes the rows aligned, without the header.
func (t *Table) WriteRows(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range t.Rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// WriteCSV writes the table as CSV, the header first.
func (t *Table) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(t.Header); err != nil {
		return err
	}
	if err := cw.WriteAll(t.Rows); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// OutputFormat resolves --output: table on a terminal, JSON lines otherwise.
func OutputFormat(ios *iostreams.IOStreams, flag string) (string, error) {
	switch flag {
	case "table", "json", "csv":
		return flag, nil
	case "":
		if ios.IsStdoutTTY() {
			return "table", nil
		}
		return "json", nil
	}
	return "", Usagef("--output %q: use table, json or csv", flag)
}

// TableTime is a time for a person: UTC, to the second; "-" when zero.
func TableTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// CSVTime is a time in a CSV cell: UTC RFC 3339 with its fraction; empty
// when zero.
func CSVTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Clip is s on one line, cut to n runes with an ellipsis.
func Clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// OrDash is n in a table cell, "-" when zero.
func OrDash(n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

// OrEmpty is n in a CSV cell, empty when zero (no HTTP status, say).
func OrEmpty(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprint(n)
}

// OrDashS is s in a table cell, "-" when empty.
func OrDashS(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
