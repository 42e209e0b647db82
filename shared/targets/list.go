package targets

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// The formats of a target list file (cronless targets import and export).
const (
	// FormatYAML is a mapping with one key, targets:, holding a list of
	// targets written as in targets.yaml.
	FormatYAML = "yaml"
	// FormatJSONL is JSON lines: one JSON object a line, with the keys of a
	// target of targets.yaml; blank lines are skipped.
	FormatJSONL = "jsonl"
	// FormatCSV is a header row naming the columns (id, url and schedule,
	// and any of timeout, user_agent, robots and extract), then a target a
	// row; an empty cell is a setting not set. extract names an entry of
	// extracts: in targets.yaml: a cell cannot hold rules.
	FormatCSV = "csv"
)

// ListFormats are the formats in the order messages list them.
var ListFormats = []string{FormatYAML, FormatJSONL, FormatCSV}

// listExtensions map a list file's extension to its format.
var listExtensions = map[string]string{
	".yaml": FormatYAML, ".yml": FormatYAML,
	".jsonl": FormatJSONL, ".ndjson": FormatJSONL,
	".csv": FormatCSV,
}

const listExtensionsHint = "name it .yaml or .yml (a targets: list), .jsonl or .ndjson (one JSON object a line) or .csv (a header row, then one target a row)"

// ListFormat names the format of a target list file by its name's
// extension (in any case), or says which extensions are read.
func ListFormat(name string) (string, error) {
	ext := strings.ToLower(filepath.Ext(name))
	if f, ok := listExtensions[ext]; ok {
		return f, nil
	}
	switch ext {
	case "":
		return "", fmt.Errorf("target list %q has no extension, which says its format; %s", name, listExtensionsHint)
	case ".json":
		return "", fmt.Errorf("target list %q is .json; write one JSON object a line and name it .jsonl, or %s", name, listExtensionsHint)
	}
	return "", fmt.Errorf("target list %q: %q is not the extension of a target list; %s", name, ext, listExtensionsHint)
}

// The columns a CSV list may have, in the order the header of an export
// names them; the first three are required.
var (
	csvColumns  = targetKeys
	csvRequired = []string{"id", "url", "schedule"}
)

// utf8BOM starts files that some spreadsheets save as "UTF-8".
var utf8BOM = []byte("\xef\xbb\xbf")

// ParseList reads and validates a target list file, as `cronless targets
// import` stores it: its format is by name's extension (ListFormat), its
// targets are checked as strictly as targets.yaml's, against f's schedules
// and extracts:, and no target may have the ID of one of f's own. The
// entries, in file order, hold each target's own settings only: f's
// defaults, hosts: and extracts: apply at plan time (File.Resolve).
//
// Every problem in the file is returned, together as an *Error, each at its
// line and column (in CSV and JSON lines, a byte column); with any problem
// no entry is returned: a bad row rejects the whole file.
func ParseList(name string, data []byte, f *File) ([]Entry, error) {
	format, err := ListFormat(name)
	if err != nil {
		return nil, err
	}
	if f == nil {
		return nil, fmt.Errorf("target list %s: no targets.yaml to check it against", name)
	}
	p := &parser{file: name}
	c := f.listChecks()
	var entries []Entry
	switch format {
	case FormatYAML:
		entries = p.yamlList(data, c)
	case FormatJSONL:
		entries = p.jsonlList(data, c)
	case FormatCSV:
		entries = p.csvList(data, c)
	}
	if len(p.problems) > 0 {
		sortProblems(p.problems)
		return nil, &Error{Problems: p.problems}
	}
	return entries, nil
}

// listChecks are what a list's targets are checked against: the file's
// schedules and extracts:, and its own targets' IDs, which a list's target
// may not take.
func (f *File) listChecks() *targetChecks {
	ids := make(map[string]int, len(f.Targets))
	for _, t := range f.Targets {
		ids[t.ID] = f.targetLines[t.ID] // 0 when f was not parsed
	}
	name := f.file
	if name == "" {
		name = "targets.yaml"
	}
	return &targetChecks{schedules: f.ScheduleNames, extracts: f.ExtractNames, firstLine: map[string]int{},
		fileIDs: ids, fileName: name}
}

// noTargetsMsg says what an empty list would do if it were read.
const noTargetsMsg = "a list with none would remove every stored target; add at least one target with id, url and schedule"

func (p *parser) yamlList(data []byte, c *targetChecks) []Entry {
	root := p.document(data, "the file is empty; "+noTargetsMsg+` under targets:`)
	if root == nil {
		return nil
	}
	root = deref(root)
	if root.Kind != yaml.MappingNode {
		p.addf(root, "a target list must be a mapping with one key, targets:, holding the list like targets.yaml's; got %s", describe(root))
		return nil
	}
	var list *yaml.Node
	for _, kv := range p.pairs(root, "the file") {
		switch {
		case kv.key == "targets":
			list = kv.value
		case slices.Contains(topKeys, kv.key):
			p.addf(kv.keyNode, "%s: belongs in targets.yaml, which every stored target is planned with; a target list holds targets: only", kv.key)
		default:
			msg := fmt.Sprintf("unknown key %q in the file", kv.key)
			if best := suggest(kv.key, []string{"targets"}); best != "" {
				msg += fmt.Sprintf("; did you mean %q?", best)
			} else {
				msg += "; remove it"
			}
			p.addf(kv.keyNode, "%s (allowed: targets)", msg)
		}
	}
	if list == nil {
		p.addf(root, "the file has no targets: list; write the targets under targets: as in targets.yaml")
		return nil
	}
	n := deref(list)
	if isNull(n) || (n.Kind == yaml.SequenceNode && len(n.Content) == 0) {
		p.addf(n, "targets is empty; %s", noTargetsMsg)
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.addf(n, `targets must be a list, each target starting with "- id: ..."; got %s`, describe(n))
		return nil
	}
	c.firstLine = make(map[string]int, len(n.Content))
	entries := make([]Entry, 0, len(n.Content))
	for i, item := range n.Content {
		if e, ok := p.entry(i, item, c); ok {
			entries = append(entries, e)
		}
	}
	return entries
}

// utf8Problem reports the first byte of data that is not UTF-8, if any.
func (p *parser) utf8Problem(data []byte) bool {
	if utf8.Valid(data) {
		return false
	}
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col += size
		}
		i += size
	}
	p.problems = append(p.problems, Problem{File: p.file, Line: line, Col: col,
		Msg: "the file is not UTF-8 text here; save it as UTF-8 (a spreadsheet's \"CSV UTF-8\")"})
	return true
}

// lineCount is about how many rows data holds, to size what holds them.
func lineCount(data []byte) int { return bytes.Count(data, []byte{'\n'}) + 1 }

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
			p.problems = append(p.problems, Problem{File: p.file, Line: line, Col: col,
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
	p.problems = append(p.problems, Problem{File: p.file, Line: perr.Line, Col: perr.Column, Msg: msg})
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

// jsonlList reads a JSON lines list. Each line is checked as JSON, then
// turned into YAML nodes, reused line after line, for the same checks as
// targets.yaml's targets, each value at its column.
func (p *parser) jsonlList(data []byte, c *targetChecks) []Entry {
	data = bytes.TrimPrefix(data, utf8BOM)
	if p.utf8Problem(data) {
		return nil
	}
	rows := lineCount(data)
	c.firstLine = make(map[string]int, rows)
	entries := make([]Entry, 0, rows)
	var nodes nodePool
	index := 0
	for lineNo := 1; len(data) > 0; lineNo++ {
		var raw []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			raw, data = data[:i], data[i+1:]
		} else {
			raw, data = data, nil
		}
		raw = bytes.TrimSuffix(raw, []byte{'\r'})
		if blank(raw) {
			continue
		}
		index++
		if !json.Valid(raw) {
			p.jsonSyntax(raw, lineNo)
			continue
		}
		nodes.reset()
		s := jsonScanner{line: string(raw), lineNo: lineNo, nodes: &nodes}
		n, _ := s.value(0)
		if n.Kind != yaml.MappingNode {
			p.addf(n, `each line must be one JSON object such as {"id": "a", "url": "https://example.com/", "schedule": "hourly"}; got %s`, describe(n))
			continue
		}
		if e, ok := p.entry(index-1, n, c); ok {
			entries = append(entries, e)
		}
	}
	if index == 0 {
		p.problems = append(p.problems, Problem{File: p.file, Line: 1, Col: 1,
			Msg: `the file is empty; write one JSON object a line, such as {"id": "a", "url": "https://example.com/", "schedule": "hourly"}; ` + noTargetsMsg})
	}
	return entries
}

// blank reports whether a line holds JSON whitespace only.
func blank(line []byte) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// jsonSyntax records why a line is not JSON, at the byte where it stops
// being JSON.
func (p *parser) jsonSyntax(line []byte, lineNo int) {
	var v any
	err := json.Unmarshal(line, &v)
	col := len(line) + 1 // the line ends too soon
	var serr *json.SyntaxError
	if errors.As(err, &serr) && serr.Error() != "unexpected end of JSON input" {
		col = int(serr.Offset) // the offending byte is the last one read
	}
	hint := `each line must be one whole JSON object, such as {"id": "a", "url": "https://example.com/", "schedule": "hourly"}`
	if t := bytes.TrimSpace(line); len(t) > 0 && (t[0] == '[' || (t[0] == '{' && len(t) == 1)) {
		hint = "a JSON lines file holds one target object a line, not a list or an object over many lines"
	}
	p.problems = append(p.problems, Problem{File: p.file, Line: lineNo, Col: col, Msg: fmt.Sprintf("JSON syntax error: %v; %s", err, hint)})
}

// nodePool hands out YAML nodes that are used again for the next row.
type nodePool struct {
	nodes []*yaml.Node
	used  int
}

func (pl *nodePool) reset() { pl.used = 0 }

func (pl *nodePool) get(kind yaml.Kind, tag, value string, line, col int) *yaml.Node {
	if pl.used == len(pl.nodes) {
		pl.nodes = append(pl.nodes, &yaml.Node{})
	}
	n := pl.nodes[pl.used]
	pl.used++
	*n = yaml.Node{Kind: kind, Tag: tag, Value: value, Line: line, Column: col, Content: n.Content[:0]}
	return n
}

// jsonScanner turns one line of valid JSON (json.Valid) into YAML nodes
// with the line and byte column of every key and value.
type jsonScanner struct {
	line   string
	lineNo int
	nodes  *nodePool
}

func (s *jsonScanner) space(i int) int {
	for i < len(s.line) && (s.line[i] == ' ' || s.line[i] == '\t' || s.line[i] == '\r' || s.line[i] == '\n') {
		i++
	}
	return i
}

// value reads the value at i (after spaces) and returns its node and the
// index after it.
func (s *jsonScanner) value(i int) (*yaml.Node, int) {
	i = s.space(i)
	switch c := s.line[i]; {
	case c == '{' || c == '[':
		kind, tag, end := yaml.MappingNode, "!!map", byte('}')
		if c == '[' {
			kind, tag, end = yaml.SequenceNode, "!!seq", ']'
		}
		n := s.nodes.get(kind, tag, "", s.lineNo, i+1)
		i = s.space(i + 1)
		if s.line[i] == end {
			return n, i + 1
		}
		for {
			if kind == yaml.MappingNode {
				var k *yaml.Node
				k, i = s.value(i)  // a string: json.Valid checked
				i = s.space(i) + 1 // the colon
				n.Content = append(n.Content, k)
			}
			var v *yaml.Node
			v, i = s.value(i)
			n.Content = append(n.Content, v)
			i = s.space(i)
			if s.line[i] == end {
				return n, i + 1
			}
			i++ // the comma
		}
	case c == '"':
		v, next := s.str(i)
		return s.nodes.get(yaml.ScalarNode, "!!str", v, s.lineNo, i+1), next
	case c == 't':
		return s.nodes.get(yaml.ScalarNode, "!!bool", "true", s.lineNo, i+1), i + 4
	case c == 'f':
		return s.nodes.get(yaml.ScalarNode, "!!bool", "false", s.lineNo, i+1), i + 5
	case c == 'n':
		return s.nodes.get(yaml.ScalarNode, "!!null", "null", s.lineNo, i+1), i + 4
	}
	j, tag := i, "!!int"
	for j < len(s.line) && strings.IndexByte("+-0123456789.eE", s.line[j]) >= 0 {
		if c := s.line[j]; c == '.' || c == 'e' || c == 'E' {
			tag = "!!float"
		}
		j++
	}
	return s.nodes.get(yaml.ScalarNode, tag, s.line[i:j], s.lineNo, i+1), j
}

// str reads the string whose opening quote is at i.
func (s *jsonScanner) str(i int) (string, int) {
	escaped := false
	j := i + 1
	for ; s.line[j] != '"'; j++ {
		if s.line[j] == '\\' {
			escaped = true
			j++
		}
	}
	if !escaped {
		return s.line[i+1 : j], j + 1 // no copy: the line is the entry's
	}
	var v string
	_ = json.Unmarshal([]byte(s.line[i:j+1]), &v) // valid: json.Valid checked the line
	return v, j + 1
}
