package targets

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// csvList reads a CSV list. Its rows are checked by the same code as
// targets.yaml's targets, through YAML nodes built in place from the cells
// and reused row after row: no YAML is parsed.
func (p *parser) csvList(data []byte, c *targetChecks) []Entry {
	data = bytes.TrimPrefix(data, utf8BOM)
	if p.utf8Problem(data) {
		return nil
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1 // counted here, to say which row and how
	r.ReuseRecord = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		p.problems = append(p.problems, Problem{File: p.file, Line: 1, Col: 1,
			Msg: "the file is empty; write a header row naming the columns (" + strings.Join(csvRequired, ",") + " and any of timeout, user_agent, robots, extract), then one target a row; " + noTargetsMsg})
		return nil
	}
	if err != nil {
		p.csvSyntax(err, data)
		return nil
	}
	columns, ok := p.csvHeader(header, r)
	if !ok {
		return nil
	}
	headerLine, _ := r.FieldPos(0)
	required := make([]bool, len(columns))
	for i, col := range columns {
		required[i] = slices.Contains(csvRequired, col)
	}

	rows := lineCount(data)
	c.firstLine = make(map[string]int, rows)
	entries := make([]Entry, 0, rows)
	var nodes nodePool
	index := 0
	for ; ; index++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if !p.csvSyntax(err, data) {
				break
			}
			continue
		}
		if len(rec) != len(columns) {
			line, col := r.FieldPos(0)
			hint := "give the row a cell for every column, an empty one for a setting it does not set"
			if len(rec) > len(columns) {
				line, col = r.FieldPos(len(columns)) // the first cell too many
				hint = "put a cell holding a comma in double quotes"
			}
			p.problems = append(p.problems, Problem{File: p.file, Line: line, Col: col, kind: "row cells",
				Msg: fmt.Sprintf("row has %s, but the header (line %d) names %d columns: %s; %s",
					cells(len(rec)), headerLine, len(columns), strings.Join(columns, ","), hint)})
			continue
		}
		nodes.reset()
		line, _ := r.FieldPos(0)
		row := nodes.get(yaml.MappingNode, "!!map", "", line, 1)
		for i, v := range rec {
			if v == "" && !required[i] {
				continue // not set: the default
			}
			line, col := r.FieldPos(i)
			row.Content = append(row.Content,
				nodes.get(yaml.ScalarNode, "!!str", columns[i], line, col),
				nodes.get(yaml.ScalarNode, csvTag(columns[i], v), v, line, col))
		}
		if e, ok := p.entry(index, row, c); ok {
			entries = append(entries, e)
		}
	}
	if index == 0 && len(p.problems) == 0 {
		p.problems = append(p.problems, Problem{File: p.file, Line: headerLine, Col: 1,
			Msg: "the file has a header and no targets; " + noTargetsMsg + ", one a row"})
	}
	return entries
}

func cells(n int) string {
	if n == 1 {
		return "1 cell"
	}
	return fmt.Sprintf("%d cells", n)
}

// csvHeader checks the header row and returns the column names.
func (p *parser) csvHeader(header []string, r *csv.Reader) ([]string, bool) {
	columns := slices.Clone(header) // the reader reuses header's slice
	line, _ := r.FieldPos(0)
	var problems []Problem
	first := map[string]int{} // column -> its cell
	for i, col := range columns {
		_, pos := r.FieldPos(i)
		switch j, dup := first[col]; {
		case !slices.Contains(csvColumns, col):
			msg := fmt.Sprintf("unknown column %q in the header", col)
			if best := suggest(col, csvColumns); best != "" {
				msg += fmt.Sprintf("; did you mean %q?", best)
			} else {
				msg += "; remove the column"
			}
			problems = append(problems, Problem{File: p.file, Line: line, Col: pos,
				Msg: msg + " (allowed: " + strings.Join(csvColumns, ", ") + ")"})
		case dup:
			_, at := r.FieldPos(j)
			problems = append(problems, Problem{File: p.file, Line: line, Col: pos,
				Msg: fmt.Sprintf("duplicate column %q in the header (first at column %d); keep one of them", col, at)})
		default:
			first[col] = i
		}
	}
	if len(first) == 0 {
		// Not a header at all, most likely a target: one message, not one
		// a cell.
		p.problems = append(p.problems, Problem{File: p.file, Line: line,
			Msg: "the first row must be a header naming the columns, e.g. id,url,schedule,extract; add one above the targets"})
		return nil, false
	}
	for _, col := range csvRequired {
		if _, found := first[col]; !found {
			problems = append(problems, Problem{File: p.file, Line: line,
				Msg: fmt.Sprintf("the header has no %s column; add it, every target needs one (required: %s)", col, strings.Join(csvRequired, ", "))})
		}
	}
	p.problems = append(p.problems, problems...)
	return columns, len(problems) == 0
}

// csvSyntax records a CSV syntax error and reports whether the rows after
// it can still be read. data is the file, to tell a quote never closed.
func (p *parser) csvSyntax(err error, data []byte) bool {
	const hint = `put a cell holding a comma, a quote or a line break in double quotes, and double each quote inside it ("say ""hi""")`
	var perr *csv.ParseError
	if !errors.As(err, &perr) {
		p.problems = append(p.problems, Problem{File: p.file, Msg: fmt.Sprintf("the file cannot be read as CSV: %v", err)})
		return false
	}
	lastLine := bytes.Count(data, []byte{'\n'})
	if !bytes.HasSuffix(data, []byte{'\n'}) {
		lastLine++
	}
	if errors.Is(perr.Err, csv.ErrQuote) && perr.StartLine != perr.Line && perr.Line >= lastLine {
		// The reader looked for the closing quote to the end of the file:
		// the row that opened it is the one to fix, and no row follows.
		p.problems = append(p.problems, Problem{File: p.file, Line: perr.StartLine,
			Msg: "CSV syntax error: a quote opened in this row is never closed; " + hint})
		return false
	}
	msg := fmt.Sprintf("CSV syntax error: %v; %s", perr.Err, hint)
	if perr.StartLine != perr.Line {
		msg += fmt.Sprintf(" (in the row that starts at line %d)", perr.StartLine)
	}
	p.problems = append(p.problems, Problem{File: p.file, Line: perr.Line, Col: perr.Column, Msg: msg, kind: "CSV syntax"})
	return true
}

// csvTag is the YAML tag a cell of the column takes, so that it is checked
// as the same text written in targets.yaml would be: an empty cell of a
// required column is no value; a timeout of digits is a bare number (which
// the message says needs a unit); robots is a boolean when it is one of
// YAML's. Everything else is a string: a CSV cell has no types, so the
// id 123 is not a number.
func csvTag(column, v string) string {
	switch {
	case v == "":
		return "!!null"
	case column == "timeout" && isDecimal(v):
		return "!!float"
	case column == "robots":
		switch v {
		case "true", "True", "TRUE", "false", "False", "FALSE":
			return "!!bool"
		}
	}
	return "!!str"
}
