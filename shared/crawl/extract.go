package crawl

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode"

	"github.com/andybalholm/cascadia"
	"github.com/cronless/cronless/shared/job"
	"github.com/gocolly/colly/v2"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// valueMode is what a rule takes from a matched element.
type valueMode int

const (
	modeText valueMode = iota
	modeHTML
	modeAttr
)

// rule is a compiled job.Rule, shared read-only by fetches (see ruleCache).
type rule struct {
	name string
	spec job.Rule
	sel  cascadia.Selector
	re   *regexp.Regexp
	mode valueMode
	attr string // lower-case attribute name in modeAttr
	url  bool   // the attribute holds a URL (or a srcset) to make absolute
}

// urlAttrs are the attributes whose values are URLs, made absolute against
// the page's base URL.
var urlAttrs = map[string]bool{
	"href": true, "src": true, "action": true, "formaction": true, "poster": true,
	"cite": true, "data": true, "background": true, "longdesc": true, "manifest": true,
	"icon": true, "codebase": true, "usemap": true, "srcset": true,
}

// ruleKey identifies a compiled rule.
type ruleKey struct {
	name string
	spec job.Rule
}

// ruleCache keeps compiled rules: a warm worker sees the same targets over
// and over, and compiling a selector and a regex costs more than matching
// them on a page. It is bounded: when full, it starts over.
type ruleCache struct {
	mu    sync.RWMutex
	max   int
	rules map[ruleKey]*rule
}

const ruleCacheSize = 4096

func newRuleCache(max int) *ruleCache {
	return &ruleCache{max: max, rules: make(map[ruleKey]*rule)}
}

// compile returns the job's rules compiled, sorted by name so extraction
// (and its first error) is deterministic. Errors are *Error of KindBadRule.
func (c *ruleCache) compile(extract map[string]job.Rule) ([]*rule, error) {
	rules := make([]*rule, 0, len(extract))
	for name, spec := range extract {
		k := ruleKey{name, spec}
		c.mu.RLock()
		r := c.rules[k]
		c.mu.RUnlock()
		if r == nil {
			var err error
			if r, err = compileRule(name, spec); err != nil {
				return nil, err
			}
			c.mu.Lock()
			if len(c.rules) >= c.max {
				clear(c.rules)
			}
			c.rules[k] = r
			c.mu.Unlock()
		}
		rules = append(rules, r)
	}
	sort.Slice(rules, func(i, k int) bool { return rules[i].name < rules[k].name })
	return rules, nil
}

// compileRule validates and compiles one rule. A compiled rule is
// read-only: fetches share it.
func compileRule(name string, spec job.Rule) (*rule, error) {
	r := &rule{name: name, spec: spec}
	sel, err := cascadia.Compile(spec.CSS)
	if err != nil {
		return nil, &Error{Kind: KindBadRule, Err: fmt.Errorf("field %q: css selector %q does not parse: %v", name, spec.CSS, err)}
	}
	r.sel = sel
	if spec.Regex != "" {
		re, err := regexp.Compile(spec.Regex)
		if err != nil {
			return nil, &Error{Kind: KindBadRule, Err: fmt.Errorf("field %q: regex %q does not parse: %v", name, spec.Regex, err)}
		}
		r.re = re
	}
	switch a := strings.ToLower(strings.TrimSpace(spec.Attr)); a {
	case "", "text":
		r.mode = modeText
	case "html":
		r.mode = modeHTML
	default:
		r.mode, r.attr, r.url = modeAttr, a, urlAttrs[a]
	}
	return r, nil
}

var baseSel = cascadia.MustCompile("base[href]")

// newAbsolutizer returns a function that makes URLs absolute against the
// page's base URL: the href of its first <base href>, resolved against the
// final URL, or the final URL. net/url parses the base once; a value it
// rejects falls back to colly's WHATWG resolution (which turns a
// fragment-only reference into "").
func newAbsolutizer(pageURL string, doc *html.Node) func(string) string {
	base, _ := url.Parse(pageURL)
	if n := baseSel.MatchFirst(doc); n != nil && base != nil {
		if b, err := base.Parse(strings.TrimSpace(attr(n, "href"))); err == nil && (b.Scheme == "http" || b.Scheme == "https") {
			base = b
		}
	}
	return func(v string) string {
		if base == nil {
			return v
		}
		if u, err := base.Parse(v); err == nil {
			return u.String()
		}
		if a := (&colly.Request{URL: base}).AbsoluteURL(v); a != "" {
			return a
		}
		return v
	}
}

// The built-in fields, filled when the job has no rule of that name.
var (
	titleSel     = cascadia.MustCompile("title")
	descSel      = cascadia.MustCompile(`meta[name="description" i][content]`)
	canonicalSel = cascadia.MustCompile(`link[rel~="canonical" i][href]`)
	ogSel        = cascadia.MustCompile(`meta[property^="og:" i][content]`)
	scriptSel    = cascadia.MustCompile(`script[type]`)
)

// extract applies rules, then the built-ins, to the document rooted at doc.
// abs makes a URL absolute against the page's base URL.
func extract(doc *html.Node, rules []*rule, abs func(string) string, pageURL string) (map[string]any, *Error) {
	fields := make(map[string]any, len(rules)+4)
	for _, r := range rules {
		var vals []string
		if !r.spec.All && r.re == nil && r.mode != modeAttr {
			// Every element has a text and an inner HTML: the first match is the value.
			if n := r.sel.MatchFirst(doc); n != nil {
				v, _ := r.value(n, abs)
				vals = append(vals, v)
			}
		} else {
			for _, n := range r.sel.MatchAll(doc) {
				v, ok := r.value(n, abs)
				if ok && r.re != nil {
					v, ok = applyRegex(r.re, v)
				}
				if !ok {
					continue
				}
				vals = append(vals, v)
				if !r.spec.All {
					break
				}
			}
		}
		switch {
		case len(vals) == 0 && r.spec.Required:
			return nil, &Error{Kind: KindRequired, URL: pageURL, Err: missingErr(r)}
		case r.spec.All:
			if vals == nil {
				vals = []string{}
			}
			fields[r.name] = vals
		case len(vals) > 0:
			fields[r.name] = vals[0]
		}
	}
	addBuiltins(fields, doc, abs, rules)
	return fields, nil
}

// missingErr is the message of a required field without a value, such as
//
//	extraction: field "price" (css ".price") matched nothing
func missingErr(r *rule) error {
	return fmt.Errorf("extraction: field %q (%s) matched nothing", r.name, r.describe())
}

// describe names what the rule looks for: its selector, and the attribute
// and regex when it has them.
func (r *rule) describe() string {
	d := fmt.Sprintf("css %q", r.spec.CSS)
	if r.mode == modeAttr {
		d += fmt.Sprintf(", attr %q", r.attr)
	}
	if r.re != nil {
		d += fmt.Sprintf(", regex %q", r.spec.Regex)
	}
	return d
}

// requiredMissing is the error for a page that cannot carry fields at all.
func requiredMissing(rules []*rule, pageURL, mediaType string) *Error {
	for _, r := range rules {
		if r.spec.Required {
			return &Error{Kind: KindRequired, URL: pageURL,
				Err: fmt.Errorf("extraction: field %q (%s) matched nothing: the page is %s, not HTML", r.name, r.describe(), mediaType)}
		}
	}
	return nil
}

func (r *rule) value(n *html.Node, abs func(string) string) (string, bool) {
	switch r.mode {
	case modeText:
		return text(n), true
	case modeHTML:
		return innerHTML(n), true
	}
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == r.attr {
			v := strings.TrimSpace(a.Val)
			switch {
			case !r.url:
			case r.attr == "srcset":
				v = absSrcset(v, abs)
			default:
				v = abs(v)
			}
			return v, true
		}
	}
	return "", false
}

func applyRegex(re *regexp.Regexp, v string) (string, bool) {
	m := re.FindStringSubmatchIndex(v)
	switch {
	case m == nil:
		return "", false
	case len(m) >= 4 && m[2] >= 0:
		return v[m[2]:m[3]], true
	case len(m) >= 4:
		return "", true // group 1 exists but did not take part in the match
	}
	return v[m[0]:m[1]], true
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val
		}
	}
	return ""
}

// skipText are elements whose content is not text a reader sees; they are
// skipped inside a matched element (but a matched <script> itself, such as
// JSON-LD, yields its content).
var skipText = map[atom.Atom]bool{atom.Script: true, atom.Style: true, atom.Template: true, atom.Noscript: true}

// blockText are elements that separate words, as a browser's layout does.
var blockText = map[atom.Atom]bool{
	atom.Address: true, atom.Article: true, atom.Aside: true, atom.Blockquote: true, atom.Br: true,
	atom.Dd: true, atom.Div: true, atom.Dl: true, atom.Dt: true, atom.Fieldset: true, atom.Figcaption: true,
	atom.Figure: true, atom.Footer: true, atom.Form: true, atom.H1: true, atom.H2: true, atom.H3: true,
	atom.H4: true, atom.H5: true, atom.H6: true, atom.Header: true, atom.Hr: true, atom.Li: true,
	atom.Main: true, atom.Nav: true, atom.Ol: true, atom.P: true, atom.Pre: true, atom.Section: true,
	atom.Table: true, atom.Td: true, atom.Th: true, atom.Tr: true, atom.Ul: true, atom.Option: true,
}

// text is the element's text with runs of white space collapsed to one
// space and trimmed. It walks the tree iteratively: a hostile page may nest
// elements very deeply.
func text(root *html.Node) string {
	var b strings.Builder
	pending := false
	write := func(s string) {
		for _, r := range s {
			if unicode.IsSpace(r) {
				pending = b.Len() > 0
				continue
			}
			if pending {
				b.WriteByte(' ')
				pending = false
			}
			b.WriteRune(r)
		}
	}
	if root.Type == html.TextNode {
		write(root.Data)
		return b.String()
	}
	n := root.FirstChild
	for n != nil {
		descend := false
		switch n.Type {
		case html.TextNode:
			write(n.Data)
		case html.ElementNode:
			if blockText[n.DataAtom] {
				pending = b.Len() > 0
			}
			descend = !skipText[n.DataAtom]
		}
		if descend && n.FirstChild != nil {
			n = n.FirstChild
			continue
		}
		for n != root && n.NextSibling == nil {
			n = n.Parent
			if n != root && n.Type == html.ElementNode && blockText[n.DataAtom] {
				pending = b.Len() > 0
			}
		}
		if n == root {
			break
		}
		n = n.NextSibling
	}
	return b.String()
}

// collapse trims s and collapses its runs of white space.
func collapse(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func innerHTML(n *html.Node) string {
	var b bytes.Buffer
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if err := html.Render(&b, c); err != nil {
			break
		}
	}
	return strings.TrimSpace(b.String())
}

// absSrcset makes every URL of a srcset ("a.png 1x, b.png 2x") absolute.
func absSrcset(v string, abs func(string) string) string {
	parts := strings.Split(v, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		u, desc, _ := strings.Cut(p, " ")
		if u == "" {
			continue
		}
		parts[i] = strings.TrimSpace(abs(u) + " " + strings.TrimSpace(desc))
	}
	return strings.Join(parts, ", ")
}

// hashFields is the sha256 (hex) of the canonical JSON of fields: object
// keys sorted (encoding/json sorts map keys), no HTML escaping, no trailing
// newline. It changes only when an extracted value changes.
func hashFields(fields map[string]any) string {
	if fields == nil {
		fields = map[string]any{}
	}
	sum := sha256.Sum256(canonicalJSON(fields))
	return hex.EncodeToString(sum[:])
}

// canonicalJSON encodes v as the wire does, without HTML escaping. Fields
// hold only strings, []string, map[string]string and values decoded from
// JSON (jsonld): encoding cannot fail (invalid UTF-8 becomes U+FFFD, as it
// will on the wire).
func canonicalJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'})
}

func hashBytes(p []byte) string {
	sum := sha256.Sum256(p)
	return hex.EncodeToString(sum[:])
}
