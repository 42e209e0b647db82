package targets

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cronless/cronless/shared/job"
)

// The keys each level of the file accepts, in the order error messages list
// them.
var (
	topKeys      = []string{"schedules", "defaults", "hosts", "extracts", "targets"}
	scheduleKeys = []string{"expression", "timezone", "description"}
	defaultsKeys = []string{"timeout", "user_agent", "robots", "host_rate", "host_concurrency"}
	hostKeys     = []string{"rate", "concurrency"}
	targetKeys   = []string{"id", "url", "schedule", "timeout", "user_agent", "robots", "extract"}
	// optionalTargetKeys are the keys of targetKeys a target may leave out.
	optionalTargetKeys = []string{"timeout", "user_agent", "robots", "extract"}
	ruleKeys           = []string{"css", "attr", "all", "required", "regex"}
)

var (
	// scheduleNamePattern (with at most maxScheduleName bytes): schedule
	// names become parts of AWS resource names.
	scheduleNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	// yamlLinePattern finds the line in a YAML syntax error.
	yamlLinePattern = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

const (
	maxTargetID     = 128
	maxScheduleName = 64
	// maxExtractName bounds the names of extracts: entries, which a stored
	// target carries; they take the target ID's characters.
	maxExtractName = 64
)

func validScheduleName(s string) bool {
	return len(s) <= maxScheduleName && scheduleNamePattern.MatchString(s)
}

func validExtractName(s string) bool {
	return len(s) <= maxExtractName && idChars(s)
}

func validTargetID(s string) bool {
	return len(s) <= maxTargetID && idChars(s)
}

// idChars reports whether s is of target ID characters (idHint):
// ^[A-Za-z0-9][A-Za-z0-9._-]*$, checked by hand because a list of a
// million targets checks a million IDs, which a regexp takes a tenth of
// the time of the whole import to do.
func idChars(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// Hints repeated in several messages.
const (
	durationHint = "use a duration like 10s or 1m30s"
	urlHint      = "use an absolute http or https URL such as https://example.com/"
	idHint       = `use 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit`
	nameHint     = `use 1-64 lower-case letters, digits, "_" or "-", starting with a letter or digit (schedule names become part of AWS resource names)`
	zoneHint     = `use an IANA time zone name such as "Asia/Seoul", "America/New_York" or "UTC"`
	extractHint  = `use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit`
)

// Parse validates the contents of a targets file. name is the file name
// used in messages. Problems in the file are returned together as an *Error.
func Parse(name string, data []byte) (*File, error) {
	p := &parser{file: name}
	f := p.parse(data)
	if len(p.problems) > 0 {
		sortProblems(p.problems)
		return nil, &Error{Problems: p.problems}
	}
	return f, nil
}

// parser walks the YAML node tree and collects problems as it goes.
type parser struct {
	file     string
	problems []Problem
}

// addf records a problem at node n, of the kind its format says.
func (p *parser) addf(n *yaml.Node, format string, args ...any) {
	p.add(n, format, fmt.Sprintf(format, args...))
}

// add records the problem msg at node n; kind tells problems alike but for
// their values (Error sums up those it does not list by kind).
func (p *parser) add(n *yaml.Node, kind, msg string) {
	pr := Problem{File: p.file, Msg: msg, kind: kind}
	if n != nil {
		pr.Line, pr.Col = n.Line, n.Column
	}
	p.problems = append(p.problems, pr)
}

func (p *parser) parse(data []byte) *File {
	root := p.document(data, "the file is empty; add a targets: list (see the example targets.yaml)")
	if root == nil {
		return nil
	}
	return p.topLevel(root)
}

// document reads the one YAML document of data and returns its root, or nil
// after reporting a syntax error or, with emptyMsg, an empty file.
func (p *parser) document(data []byte, emptyMsg string) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.problems = append(p.problems, Problem{File: p.file, Line: 1, Col: 1, Msg: emptyMsg})
		} else {
			p.syntaxError(err, data)
		}
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		p.syntaxError(err, data)
		return nil
	default:
		at := &extra
		if len(extra.Content) > 0 {
			at = extra.Content[0]
		}
		p.addf(at, "a second YAML document starts here; put everything in one document and remove the ---")
	}
	if len(doc.Content) == 0 {
		p.problems = append(p.problems, Problem{File: p.file, Line: 1, Col: 1, Msg: emptyMsg})
		return nil
	}
	return doc.Content[0]
}

// syntaxError records a YAML syntax error, with its line when yaml gives one.
// data is the file's text, to point out tabs.
func (p *parser) syntaxError(err error, data []byte) {
	msg := err.Error()
	line := 0
	if m := yamlLinePattern.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	hint := "check the indentation, colons and quotes on this line and the one before"
	if lines := strings.Split(string(data), "\n"); line >= 1 && line <= len(lines) && strings.Contains(lines[line-1], "\t") {
		hint = "this line has a tab; YAML indents with spaces only"
	}
	p.problems = append(p.problems, Problem{File: p.file, Line: line,
		Msg: fmt.Sprintf("YAML syntax error: %s; %s", msg, hint)})
}

// topLevel reads the top level of the file.
func (p *parser) topLevel(root *yaml.Node) *File {
	f := &File{
		Schedules: map[string]Schedule{},
		Defaults: Defaults{Timeout: DefaultTimeout, UserAgent: DefaultUserAgent, Robots: DefaultRobots,
			HostRate: DefaultHostRate},
		Hosts:    map[string]Host{},
		Extracts: map[string]map[string]job.Rule{},
		file:     p.file,
		hostKeys: map[string]string{},
	}
	root = deref(root)
	if isNull(root) {
		p.addf(root, "the file is empty; add a targets: list (see the example targets.yaml)")
		return f
	}
	top := p.fields(root, "the file", topKeys, "schedules:, defaults:, hosts: and targets:")
	if top == nil {
		return f
	}
	// All schedule names, also those with problems, so a target naming a
	// broken schedule is not reported twice.
	declared := p.schedules(f, top["schedules"])
	if e, ok := top["defaults"]; ok {
		p.defaults(&f.Defaults, e.value)
	}
	if e, ok := top["hosts"]; ok {
		p.hosts(f, e.value)
	}
	// Likewise all extracts: names.
	var extracts []string
	if e, ok := top["extracts"]; ok {
		extracts = p.extracts(f, e.value)
	}
	e, ok := top["targets"]
	if !ok {
		p.addf(root, "the file has no targets; add a targets: list with at least one target (id, url, schedule), or targets: [] when every target is in a stored list (cronless targets import)")
		return f
	}
	p.targets(f, e.value, &targetChecks{schedules: declared, extracts: extracts, firstLine: map[string]int{}})
	return f
}

func (p *parser) defaults(d *Defaults, n *yaml.Node) {
	if isNull(deref(n)) {
		return // "defaults:" with nothing under it
	}
	fields := p.fields(n, "defaults", defaultsKeys, "{ timeout: 10s, user_agent: ..., robots: true }")
	if fields == nil {
		return
	}
	o, _ := p.own(fields, "defaults")
	if o.timeout > 0 {
		d.Timeout = o.timeout
	}
	if o.userAgent != "" {
		d.UserAgent = o.userAgent
	}
	if o.robots != nil {
		d.Robots = *o.robots
	}
	if e, found := fields["host_rate"]; found {
		if v, good := p.rate(e, "host_rate in defaults"); good {
			d.HostRate = v
		}
	}
	if e, found := fields["host_concurrency"]; found {
		if v, good := p.concurrency(e, "host_concurrency in defaults"); good {
			d.HostConcurrency = v
		}
	}
}

// ownSettings are the keys a target shares with defaults: as one mapping
// sets them: zero, "" and nil where it does not (or sets them wrong).
type ownSettings struct {
	timeout   time.Duration
	userAgent string
	robots    *bool
}

// own reads timeout, user_agent and robots; where names the mapping in
// messages. It reports whether all were right.
func (p *parser) own(fields map[string]entry, where string) (ownSettings, bool) {
	var o ownSettings
	ok := true
	if e, found := fields["timeout"]; found {
		v, good := p.duration(e, "timeout in "+where)
		o.timeout, ok = v, ok && good
	}
	if e, found := fields["user_agent"]; found {
		v, good := p.userAgent(e, "user_agent in "+where)
		o.userAgent, ok = v, ok && good
	}
	if e, found := fields["robots"]; found {
		if v, good := p.boolean(e, "robots in "+where); good {
			o.robots = &v
		} else {
			ok = false
		}
	}
	return o, ok
}

// targetChecks are what a target is checked against besides its own keys.
type targetChecks struct {
	// schedules and extracts are the names a target may refer to, also
	// those of entries with problems of their own, which are not reported
	// a second time at every target naming them.
	schedules, extracts []string
	// firstLine is the line each target ID was first defined on.
	firstLine map[string]int
	// fileIDs (for a target list) are the IDs of targets.yaml's own
	// targets and their lines; fileName is targets.yaml's name.
	fileIDs  map[string]int
	fileName string
}

func (p *parser) targets(f *File, n *yaml.Node, c *targetChecks) {
	n = deref(n)
	// targets: [] says every target is in a stored list (cronless targets
	// import); nothing under targets: is more likely a slip.
	if n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
		if len(c.schedules) == 0 {
			p.addf(n, "targets is empty and no schedules are defined; a stored list is planned on the schedules of this file: add them under schedules:")
		}
		return
	}
	if isNull(n) {
		p.addf(n, "targets is empty; add at least one target with id, url and schedule, or write targets: [] when every target is in a stored list (cronless targets import)")
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.addf(n, `targets must be a list, each target starting with "- id: ..."; got %s`, describe(n))
		return
	}
	for i, item := range n.Content {
		e, ok := p.entry(i, item, c)
		if !ok {
			continue
		}
		// A file's own target is resolved as a stored one is at plan time,
		// so the two give the same target. Resolve fails only on a schedule
		// or extract with problems of its own, reported already.
		if t, err := f.Resolve(e); err == nil {
			f.Targets = append(f.Targets, t)
		}
	}
	f.targetLines = c.firstLine
}

// entry checks one target and returns its own settings.
func (p *parser) entry(index int, n *yaml.Node, c *targetChecks) (Entry, bool) {
	n = deref(n)
	noun := targetNoun(n, index)
	fields := p.fields(n, noun, targetKeys, "{ id: example, url: https://example.com/, schedule: hourly }")
	if fields == nil {
		return Entry{}, false
	}
	// An optional key with no value (null, ~ or nothing) is a key not
	// written, as an empty CSV cell is: pandas and jq write null for a
	// value a row does not have.
	for _, k := range optionalTargetKeys {
		if e, found := fields[k]; found && isNull(deref(e.value)) {
			delete(fields, k)
		}
	}
	var t Entry
	ok := true
	// str reads a string value as p.str does, putting the words of its
	// message together only when the value is not a string: a list of a
	// million targets reads three million strings.
	str := func(e entry, key string, hint func() string) (string, bool) {
		if v := deref(e.value); v != nil && v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" {
			return v.Value, true
		}
		return p.str(e, key+" in "+noun, hint())
	}

	// id
	if e, found := fields["id"]; !found {
		p.addf(n, `%s has no id; add id: <name> (%s)`, noun, idHint)
		ok = false
	} else if id, good := str(e, "id", func() string { return idHint }); !good {
		ok = false
	} else if !validTargetID(id) {
		p.addf(e.value, "target id %q is not allowed; %s", id, idHint)
		ok = false
	} else if line, dup := c.firstLine[id]; dup {
		p.addf(e.value, "duplicate target id %q (first defined at line %d); give each target its own id", id, line)
		ok = false
	} else if line, own := c.fileIDs[id]; own {
		at := c.fileName
		if line > 0 {
			at = fmt.Sprintf("%s:%d", c.fileName, line)
		}
		p.addf(e.value, "target id %q is also a target of %s; an ID keys its results, so it can be one target only: remove it from this file or from %s", id, at, c.fileName)
		ok = false
	} else {
		c.firstLine[id] = e.value.Line
		t.ID = id
	}

	// url
	if e, found := fields["url"]; !found {
		p.addf(n, "%s has no url; add url: https://example.com/ (%s)", noun, urlHint)
		ok = false
	} else if u, good := str(e, "url", func() string { return urlHint }); !good {
		ok = false
	} else if msg := job.URLProblem(u); msg != "" {
		p.addf(e.value, "url %q in %s %s; %s", u, noun, msg, urlHint)
		ok = false
	} else {
		t.URL = u
	}

	// schedule
	declared := c.schedules
	if e, found := fields["schedule"]; !found {
		p.addf(n, "%s has no schedule; add schedule: <name> naming one of the schedules%s", noun, definedList(declared))
		ok = false
	} else if s, good := str(e, "schedule", func() string { return "name one of the schedules" + definedList(declared) }); !good {
		ok = false
	} else if !slices.Contains(declared, s) {
		msg := fmt.Sprintf("unknown schedule %q in %s", s, noun)
		if best := suggest(s, declared); best != "" {
			msg += fmt.Sprintf("; did you mean %q?", best)
		}
		if len(declared) == 0 {
			msg += "; no schedules are defined, add one under schedules: at the top of the file"
		} else {
			msg += fmt.Sprintf(" (defined: %s)", strings.Join(declared, ", "))
		}
		p.add(e.value, "unknown schedule", msg)
		ok = false
	} else {
		t.Schedule = s
	}

	// the target's own values over the defaults
	o, good := p.own(fields, noun)
	t.Timeout, t.UserAgent, t.Robots = o.timeout, o.userAgent, o.robots
	ok = ok && good

	if e, found := fields["extract"]; found {
		name, rules, good := p.targetExtract(e, noun, c.extracts)
		t.Extract, t.Rules = name, rules
		ok = ok && good
	}
	return t, ok
}

// targetNoun names a target in messages: by its id when it has a plain one,
// by its position otherwise.
func targetNoun(n *yaml.Node, index int) string {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], deref(n.Content[i+1])
			if k.Value == "id" && v.Kind == yaml.ScalarNode && v.Value != "" && !isNull(v) {
				return fmt.Sprintf("target %q", v.Value)
			}
		}
	}
	return fmt.Sprintf("target #%d", index+1)
}
