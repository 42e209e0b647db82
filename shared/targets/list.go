package targets

import (
	"bytes"
	"fmt"
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
	return &targetChecks{schedules: f.ScheduleNames, extracts: f.ExtractNames, firstLine: map[string]int{},
		fileIDs: ids, fileName: f.fileName()}
}

// fileName is the name the file was parsed as, for messages.
func (f *File) fileName() string {
	if f.file == "" {
		return "targets.yaml"
	}
	return f.file
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
