package targets

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// listRecord is an entry as a YAML or JSON lines list writes it: the keys
// of a target of targets.yaml, those not set left out.
type listRecord struct {
	ID        string `json:"id" yaml:"id"`
	URL       string `json:"url" yaml:"url"`
	Schedule  string `json:"schedule" yaml:"schedule"`
	Timeout   string `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	UserAgent string `json:"user_agent,omitempty" yaml:"user_agent,omitempty"`
	Robots    *bool  `json:"robots,omitempty" yaml:"robots,omitempty"`
	// Extract is the name of an extracts: entry, or map[string]ruleRecord.
	Extract any `json:"extract,omitempty" yaml:"extract,omitempty"`
}

// ruleRecord is a job.Rule written with the keys of targets.yaml, those
// not set left out (an empty attr: would not read back). record converts
// one to the other: a field added to job.Rule fails to compile until it is
// added here.
type ruleRecord struct {
	CSS      string `json:"css" yaml:"css"`
	Attr     string `json:"attr,omitempty" yaml:"attr,omitempty"`
	All      bool   `json:"all,omitempty" yaml:"all,omitempty"`
	Required bool   `json:"required,omitempty" yaml:"required,omitempty"`
	Regex    string `json:"regex,omitempty" yaml:"regex,omitempty"`
}

func record(e Entry) listRecord {
	r := listRecord{ID: e.ID, URL: e.URL, Schedule: e.Schedule, UserAgent: e.UserAgent, Robots: e.Robots}
	if e.Timeout > 0 {
		r.Timeout = e.Timeout.String()
	}
	switch {
	case e.Extract != "":
		r.Extract = e.Extract
	case len(e.Rules) > 0:
		rules := make(map[string]ruleRecord, len(e.Rules))
		for k, rule := range e.Rules {
			rules[k] = ruleRecord(rule)
		}
		r.Extract = rules
	}
	return r
}

// WriteList writes entries as a target list in format (FormatYAML,
// FormatJSONL or FormatCSV), which ParseList reads back to the same
// entries: the export of a stored list. A CSV cell cannot hold extract
// rules: an entry with Rules is an error, and nothing is written.
func WriteList(w io.Writer, format string, entries []Entry) error {
	for _, e := range entries {
		if e.Extract != "" && len(e.Rules) > 0 {
			return fmt.Errorf("write target list: target %q has both an extract name and rules of its own; keep one", e.ID)
		}
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var err error
	switch format {
	case FormatCSV:
		err = writeCSV(bw, entries)
	case FormatJSONL:
		err = writeJSONL(bw, entries)
	case FormatYAML:
		err = writeYAML(bw, entries)
	default:
		return fmt.Errorf("write target list: format %q is not one of %s", format, strings.Join(ListFormats, ", "))
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("write target list: %w", err)
	}
	return nil
}

func writeCSV(w io.Writer, entries []Entry) error {
	var withRules []string
	for _, e := range entries {
		if len(e.Rules) > 0 {
			withRules = append(withRules, e.ID)
		}
	}
	if len(withRules) > 0 {
		more := ""
		if len(withRules) > 1 {
			more = fmt.Sprintf(" (and %d more)", len(withRules)-1)
		}
		return fmt.Errorf("target %q%s has extract rules of its own, which a CSV cell cannot hold; export as jsonl or yaml, or share the rules under extracts: in targets.yaml and name them", withRules[0], more)
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(csvColumns); err != nil {
		return err
	}
	row := make([]string, len(csvColumns))
	for _, e := range entries {
		for i, col := range csvColumns {
			switch col {
			case "id":
				row[i] = e.ID
			case "url":
				row[i] = e.URL
			case "schedule":
				row[i] = e.Schedule
			case "timeout":
				row[i] = ""
				if e.Timeout > 0 {
					row[i] = e.Timeout.String()
				}
			case "user_agent":
				row[i] = e.UserAgent
			case "robots":
				row[i] = ""
				if e.Robots != nil {
					row[i] = strconv.FormatBool(*e.Robots)
				}
			case "extract":
				row[i] = e.Extract
			}
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func writeJSONL(w io.Writer, entries []Entry) error {
	enc := json.NewEncoder(w) // a line an entry
	enc.SetEscapeHTML(false)  // URLs keep their & as written
	for _, e := range entries {
		if err := enc.Encode(record(e)); err != nil {
			return err
		}
	}
	return nil
}

// writeYAML writes a targets: list, an entry at a time so that a large
// list is not held twice in memory.
func writeYAML(w io.Writer, entries []Entry) error {
	if _, err := io.WriteString(w, "targets:\n"); err != nil {
		return err
	}
	var item bytes.Buffer
	for _, e := range entries {
		item.Reset()
		enc := yaml.NewEncoder(&item)
		enc.SetIndent(2)
		if err := enc.Encode([]listRecord{record(e)}); err != nil {
			return err
		}
		if err := enc.Close(); err != nil {
			return err
		}
		// The one-item list, indented under targets: (a line of a block
		// scalar keeps its place: every line moves alike).
		for line := range bytes.Lines(item.Bytes()) {
			if _, err := io.WriteString(w, "  "); err != nil {
				return err
			}
			if _, err := w.Write(line); err != nil {
				return err
			}
		}
	}
	return nil
}
