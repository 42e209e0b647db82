package targets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

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
	p.problems = append(p.problems, Problem{File: p.file, Line: lineNo, Col: col, Msg: fmt.Sprintf("JSON syntax error: %v; %s", err, hint), kind: "JSON syntax"})
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
