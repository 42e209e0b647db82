package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cronless/cronless/cmd/cronless/internal/iostreams"
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

// orDashS is s in a table cell, "-" when empty.
func orDashS(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
