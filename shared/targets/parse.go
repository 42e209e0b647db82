package targets

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/schedule"
)

// The keys each level of the file accepts, in the order error messages list
// them.
var (
	topKeys      = []string{"schedules", "defaults", "targets"}
	scheduleKeys = []string{"expression", "timezone", "description"}
	defaultsKeys = []string{"timeout", "user_agent", "robots"}
	targetKeys   = []string{"id", "url", "schedule", "timeout", "user_agent", "robots", "extract"}
	ruleKeys     = []string{"css", "attr", "all", "required", "regex"}
)

var (
	// targetIDPattern (with at most maxTargetID bytes): target IDs key
	// results and appear in logs and URLs. Lengths are checked apart: a
	// bounded repetition ({0,127}) compiles slowly at every cold start.
	targetIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	// scheduleNamePattern (with at most maxScheduleName bytes): schedule
	// names become parts of AWS resource names.
	scheduleNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	// yamlLinePattern finds the line in a YAML syntax error.
	yamlLinePattern = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

const (
	maxTargetID     = 128
	maxScheduleName = 64
)

func validScheduleName(s string) bool {
	return len(s) <= maxScheduleName && scheduleNamePattern.MatchString(s)
}

// Hints repeated in several messages.
const (
	durationHint = "use a duration like 10s or 1m30s"
	urlHint      = "use an absolute http or https URL such as https://example.com/"
	idHint       = `use 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit`
	nameHint     = `use 1-64 lower-case letters, digits, "_" or "-", starting with a letter or digit (schedule names become part of AWS resource names)`
	zoneHint     = `use an IANA time zone name such as "Asia/Seoul", "America/New_York" or "UTC"`
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

// addf records a problem at node n.
func (p *parser) addf(n *yaml.Node, format string, args ...any) {
	pr := Problem{File: p.file, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		pr.Line, pr.Col = n.Line, n.Column
	}
	p.problems = append(p.problems, pr)
}

func (p *parser) parse(data []byte) *File {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.problems = append(p.problems, Problem{File: p.file, Line: 1, Col: 1,
				Msg: "the file is empty; add a targets: list (see the example targets.yaml)"})
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
		p.problems = append(p.problems, Problem{File: p.file, Line: 1, Col: 1,
			Msg: "the file is empty; add a targets: list (see the example targets.yaml)"})
		return nil
	}
	return p.topLevel(doc.Content[0])
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
		Defaults:  Defaults{Timeout: DefaultTimeout, UserAgent: DefaultUserAgent, Robots: DefaultRobots},
	}
	root = deref(root)
	if isNull(root) {
		p.addf(root, "the file is empty; add a targets: list (see the example targets.yaml)")
		return f
	}
	top := p.fields(root, "the file", topKeys, "schedules:, defaults: and targets:")
	if top == nil {
		return f
	}
	// All schedule names, also those with problems, so a target naming a
	// broken schedule is not reported twice.
	declared := p.schedules(f, top["schedules"])
	if e, ok := top["defaults"]; ok {
		p.defaults(&f.Defaults, e.value)
	}
	e, ok := top["targets"]
	if !ok {
		p.addf(root, "the file has no targets; add a targets: list with at least one target (id, url, schedule)")
		return f
	}
	p.targets(f, e.value, declared)
	return f
}

func (p *parser) schedules(f *File, e entry) (declared []string) {
	n := deref(e.value)
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.addf(n, `schedules must map names to schedules, e.g. hourly: { expression: "rate(1 hour)" }; got %s`, describe(n))
		return nil
	}
	for _, kv := range p.pairs(n, "schedules") {
		name := kv.key
		declared = append(declared, name)
		if !validScheduleName(name) {
			msg := fmt.Sprintf("schedule name %q is not allowed; %s", name, nameHint)
			if s := suggestName(name); s != "" {
				msg += fmt.Sprintf(`, e.g. %q`, s)
			}
			p.addf(kv.keyNode, "%s", msg)
		}
		s, ok := p.schedule(name, kv.value)
		if ok {
			f.Schedules[name] = s
			f.ScheduleNames = append(f.ScheduleNames, name)
		}
	}
	return declared
}

func (p *parser) schedule(name string, n *yaml.Node) (Schedule, bool) {
	noun := fmt.Sprintf("schedule %q", name)
	fields := p.fields(n, noun, scheduleKeys, `{ expression: "rate(1 hour)", timezone: "Asia/Seoul" }`)
	if fields == nil {
		return Schedule{}, false
	}
	s := Schedule{Name: name, Timezone: DefaultTimezone, Location: time.UTC}
	ok := true

	if e, found := fields["expression"]; !found {
		p.addf(deref(n), `%s has no expression; add expression: "rate(1 hour)" or "cron(0 9 * * ? *)"`, noun)
		ok = false
	} else if expr, good := p.str(e, "expression in "+noun, `write an EventBridge expression such as "rate(1 hour)" or "cron(0 9 * * ? *)"`); good {
		parsed, err := schedule.Parse(expr)
		if err != nil {
			p.addf(e.value, "bad expression in %s: %v", noun, err)
			ok = false
		} else {
			s.Expression, s.Expr = parsed.String(), parsed
		}
	} else {
		ok = false
	}

	if e, found := fields["timezone"]; found {
		if tz, good := p.str(e, "timezone in "+noun, zoneHint); good {
			loc, err := loadZone(tz)
			if err != nil {
				p.addf(e.value, "unknown time zone %q in %s; %s", tz, noun, zoneHint)
				ok = false
			} else {
				s.Timezone, s.Location = tz, loc
			}
		} else {
			ok = false
		}
	}

	if e, found := fields["description"]; found {
		if d, good := p.str(e, "description in "+noun, "write a short sentence, or remove the key"); good {
			s.Description = d
		}
	}
	return s, ok
}

// loadZone loads an IANA time zone. It refuses "Local" and the empty name,
// which mean different zones on different machines.
func loadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("time zone %q depends on the machine", name)
	}
	return time.LoadLocation(name)
}

func (p *parser) defaults(d *Defaults, n *yaml.Node) {
	if isNull(deref(n)) {
		return // "defaults:" with nothing under it
	}
	fields := p.fields(n, "defaults", defaultsKeys, "{ timeout: 10s, user_agent: ..., robots: true }")
	if fields == nil {
		return
	}
	if e, ok := fields["timeout"]; ok {
		if v, good := p.duration(e, "timeout in defaults"); good {
			d.Timeout = v
		}
	}
	if e, ok := fields["user_agent"]; ok {
		if v, good := p.userAgent(e, "user_agent in defaults"); good {
			d.UserAgent = v
		}
	}
	if e, ok := fields["robots"]; ok {
		if v, good := p.boolean(e, "robots in defaults"); good {
			d.Robots = v
		}
	}
}

func (p *parser) targets(f *File, n *yaml.Node, declared []string) {
	n = deref(n)
	if isNull(n) || (n.Kind == yaml.SequenceNode && len(n.Content) == 0) {
		p.addf(n, "targets is empty; add at least one target with id, url and schedule")
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.addf(n, `targets must be a list, each target starting with "- id: ..."; got %s`, describe(n))
		return
	}
	firstLine := map[string]int{} // target id -> line it was first defined on
	for i, item := range n.Content {
		t, ok := p.target(f.Defaults, i, item, declared, firstLine)
		if ok {
			f.Targets = append(f.Targets, t)
		}
	}
}

func (p *parser) target(d Defaults, index int, n *yaml.Node, declared []string, firstLine map[string]int) (Target, bool) {
	n = deref(n)
	noun := targetNoun(n, index)
	fields := p.fields(n, noun, targetKeys, "{ id: example, url: https://example.com/, schedule: hourly }")
	if fields == nil {
		return Target{}, false
	}
	t := Target{Timeout: d.Timeout, UserAgent: d.UserAgent, Robots: d.Robots}
	ok := true

	// id
	if e, found := fields["id"]; !found {
		p.addf(n, `%s has no id; add id: <name> (%s)`, noun, idHint)
		ok = false
	} else if id, good := p.str(e, "id in "+noun, idHint); !good {
		ok = false
	} else if len(id) > maxTargetID || !targetIDPattern.MatchString(id) {
		p.addf(e.value, "target id %q is not allowed; %s", id, idHint)
		ok = false
	} else if line, dup := firstLine[id]; dup {
		p.addf(e.value, "duplicate target id %q (first defined at line %d); give each target its own id", id, line)
		ok = false
	} else {
		firstLine[id] = e.value.Line
		t.ID = id
	}

	// url
	if e, found := fields["url"]; !found {
		p.addf(n, "%s has no url; add url: https://example.com/ (%s)", noun, urlHint)
		ok = false
	} else if u, good := p.str(e, "url in "+noun, urlHint); !good {
		ok = false
	} else if msg := checkURL(u); msg != "" {
		p.addf(e.value, "url %q in %s %s; %s", u, noun, msg, urlHint)
		ok = false
	} else {
		t.URL = u
	}

	// schedule
	if e, found := fields["schedule"]; !found {
		p.addf(n, "%s has no schedule; add schedule: <name> naming one of the schedules%s", noun, definedList(declared))
		ok = false
	} else if s, good := p.str(e, "schedule in "+noun, "name one of the schedules"+definedList(declared)); !good {
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
		p.addf(e.value, "%s", msg)
		ok = false
	} else {
		t.Schedule = s
	}

	// overrides of the defaults
	if e, found := fields["timeout"]; found {
		if v, good := p.duration(e, "timeout in "+noun); good {
			t.Timeout = v
		} else {
			ok = false
		}
	}
	if e, found := fields["user_agent"]; found {
		if v, good := p.userAgent(e, "user_agent in "+noun); good {
			t.UserAgent = v
		} else {
			ok = false
		}
	}
	if e, found := fields["robots"]; found {
		if v, good := p.boolean(e, "robots in "+noun); good {
			t.Robots = v
		} else {
			ok = false
		}
	}

	if e, found := fields["extract"]; found {
		extract, good := p.extract(e.value, noun)
		t.Extract = extract
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

func (p *parser) extract(n *yaml.Node, targetNoun string) (map[string]job.Rule, bool) {
	n = deref(n)
	if isNull(n) {
		return nil, true // "extract:" with nothing under it
	}
	if n.Kind != yaml.MappingNode {
		p.addf(n, `extract in %s must map field names to rules, e.g. title: { css: "h1" }; got %s`, targetNoun, describe(n))
		return nil, false
	}
	rules := map[string]job.Rule{}
	ok := true
	for _, kv := range p.pairs(n, "extract in "+targetNoun) {
		noun := fmt.Sprintf("extract field %q of %s", kv.key, targetNoun)
		if strings.TrimSpace(kv.key) == "" {
			p.addf(kv.keyNode, "extract field names in %s must not be empty; name the field, e.g. title", targetNoun)
			ok = false
			continue
		}
		r, good := p.rule(kv.value, noun)
		if good {
			rules[kv.key] = r
		}
		ok = ok && good
	}
	return rules, ok
}

func (p *parser) rule(n *yaml.Node, noun string) (job.Rule, bool) {
	fields := p.fields(n, noun, ruleKeys, `{ css: "h1" }`)
	if fields == nil {
		return job.Rule{}, false
	}
	var r job.Rule
	ok := true
	const cssHint = `use a CSS selector such as "h1", "a.title" or "div#main > p"`
	if e, found := fields["css"]; !found {
		p.addf(deref(n), `%s has no css; add css: "<selector>" (%s)`, noun, cssHint)
		ok = false
	} else if css, good := p.str(e, "css in "+noun, cssHint); !good {
		ok = false
	} else if strings.TrimSpace(css) == "" {
		p.addf(e.value, "css in %s is empty; %s", noun, cssHint)
		ok = false
	} else {
		r.CSS = css
	}
	if e, found := fields["attr"]; found {
		const attrHint = `use "text" (the default), "html" or an attribute name such as "href"`
		if v, good := p.str(e, "attr in "+noun, attrHint); !good {
			ok = false
		} else if strings.TrimSpace(v) == "" {
			p.addf(e.value, "attr in %s is empty; %s, or remove the key", noun, attrHint)
			ok = false
		} else {
			r.Attr = v
		}
	}
	if e, found := fields["all"]; found {
		v, good := p.boolean(e, "all in "+noun)
		r.All, ok = v, ok && good
	}
	if e, found := fields["required"]; found {
		v, good := p.boolean(e, "required in "+noun)
		r.Required, ok = v, ok && good
	}
	if e, found := fields["regex"]; found {
		const regexHint = `use Go (RE2) syntax; the first group is captured, e.g. "Price: ([0-9.]+)"`
		if v, good := p.str(e, "regex in "+noun, regexHint); !good {
			ok = false
		} else if _, err := regexp.Compile(v); err != nil {
			p.addf(e.value, "regex %q in %s does not compile (%v); %s", v, noun, err, regexHint)
			ok = false
		} else {
			r.Regex = v
		}
	}
	return r, ok
}

// checkURL returns what is wrong with a target URL, or "".
func checkURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Sprintf("does not parse (%v)", err)
	case u.Scheme == "":
		return "is not absolute (it has no http:// or https://)"
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("has scheme %q; only http and https can be crawled", u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return "has no host"
	}
	return ""
}

// entry is one key of a mapping and its value.
type entry struct {
	key     string
	keyNode *yaml.Node
	value   *yaml.Node
}

// pairs returns the entries of mapping n in order, reporting keys that are
// not plain scalars or that repeat. noun names the mapping in messages.
func (p *parser) pairs(n *yaml.Node, noun string) []entry {
	var out []entry
	first := map[string]int{} // key -> line of its first use
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.addf(k, "keys in %s must be plain names, not %s", noun, describe(k))
			continue
		}
		if line, dup := first[k.Value]; dup {
			p.addf(k, "duplicate key %q in %s (first at line %d); keep one of them", k.Value, noun, line)
			continue
		}
		first[k.Value] = k.Line
		out = append(out, entry{key: k.Value, keyNode: k, value: v})
	}
	return out
}

// fields checks that n is a mapping with only the allowed keys, each once,
// and returns its entries by key. It returns nil (after reporting) when n is
// not a mapping. example shows what the mapping should look like.
func (p *parser) fields(n *yaml.Node, noun string, allowed []string, example string) map[string]entry {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		p.addf(n, "%s must be a mapping like %s; got %s", noun, example, describe(n))
		return nil
	}
	out := map[string]entry{}
	for _, e := range p.pairs(n, noun) {
		if !slices.Contains(allowed, e.key) {
			msg := fmt.Sprintf("unknown key %q in %s", e.key, noun)
			if best := suggest(e.key, allowed); best != "" {
				msg += fmt.Sprintf("; did you mean %q?", best)
			} else {
				msg += "; remove it"
			}
			p.addf(e.keyNode, "%s (allowed: %s)", msg, strings.Join(allowed, ", "))
			continue
		}
		out[e.key] = e
	}
	return out
}

// str reads a string value. what names the value in messages ("url in
// target \"x\""); hint says what to write instead.
func (p *parser) str(e entry, what, hint string) (string, bool) {
	v := deref(e.value)
	switch {
	case isNull(v):
		p.addf(v, "%s has no value; %s", what, hint)
		return "", false
	case v.Kind != yaml.ScalarNode:
		p.addf(v, "%s must be a string, got %s; %s", what, describe(v), hint)
		return "", false
	case v.ShortTag() != "!!str":
		p.addf(v, "%s must be a string, got %s %s; put it in quotes: %s: %q", what, describe(v), v.Value, e.key, v.Value)
		return "", false
	}
	return v.Value, true
}

func (p *parser) boolean(e entry, what string) (bool, bool) {
	v := deref(e.value)
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!bool" {
		// YAML 1.2 booleans (true, True, TRUE, false...) all parse here.
		if b, err := strconv.ParseBool(v.Value); err == nil {
			return b, true
		}
	}
	if v.Kind == yaml.ScalarNode && !isNull(v) {
		p.addf(v, "%s must be true or false, got %q", what, v.Value)
	} else {
		p.addf(v, "%s must be true or false, got %s", what, describe(v))
	}
	return false, false
}

func (p *parser) duration(e entry, what string) (time.Duration, bool) {
	v := deref(e.value)
	switch {
	case isNull(v) || v.Kind != yaml.ScalarNode:
		p.addf(v, "%s must be a duration, got %s; %s", what, describe(v), durationHint)
		return 0, false
	case v.ShortTag() == "!!int" || v.ShortTag() == "!!float":
		p.addf(v, "%s is the bare number %s; add a unit, e.g. %ss for seconds (%s)", what, v.Value, v.Value, durationHint)
		return 0, false
	}
	d, err := time.ParseDuration(v.Value)
	if err != nil {
		p.addf(v, "%s %q is not a duration; %s", what, v.Value, durationHint)
		return 0, false
	}
	if d <= 0 {
		p.addf(v, "%s %q must be greater than 0; %s", what, v.Value, durationHint)
		return 0, false
	}
	return d, true
}

func (p *parser) userAgent(e entry, what string) (string, bool) {
	const hint = `write a user agent such as "mybot/1.0 (+https://example.com/bot)", or remove the key to use the default`
	ua, ok := p.str(e, what, hint)
	if !ok {
		return "", false
	}
	if strings.TrimSpace(ua) == "" || strings.ContainsAny(ua, "\r\n") {
		p.addf(e.value, "%s must be one non-empty line; %s", what, hint)
		return "", false
	}
	return ua, true
}

// deref follows YAML aliases (*name) to the node they stand for.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describe says what kind of value n is, for messages.
func describe(n *yaml.Node) string {
	n = deref(n)
	switch {
	case isNull(n):
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		return "the number"
	case "!!bool":
		return "the boolean"
	case "!!timestamp":
		return "the date"
	case "!!str":
		return "a string"
	}
	return "a " + strings.TrimPrefix(n.ShortTag(), "!!")
}

// definedList formats the defined schedule names for a message.
func definedList(names []string) string {
	if len(names) == 0 {
		return " (none are defined yet; add one under schedules:)"
	}
	return " (defined: " + strings.Join(names, ", ") + ")"
}

// suggestName turns a rejected schedule name into an allowed one, or "".
func suggestName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	s := strings.Trim(b.String(), "-_")
	if len(s) > 64 {
		s = s[:64]
	}
	if !validScheduleName(s) {
		return ""
	}
	return s
}

// suggest returns the option closest to word by edit distance, or "" when
// none is close enough to be a likely typo.
func suggest(word string, options []string) string {
	best, bestDist := "", -1
	for _, o := range options {
		d := editDistance(strings.ToLower(word), strings.ToLower(o))
		if bestDist < 0 || d < bestDist {
			best, bestDist = o, d
		}
	}
	limit := 2
	if n := len([]rune(word)); n > 8 {
		limit = n / 3
	}
	if bestDist < 0 || bestDist > limit || bestDist >= len([]rune(word)) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
