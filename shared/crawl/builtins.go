package crawl

import (
	"encoding/json"
	"io"
	"slices"
	"strings"

	"golang.org/x/net/html"
)

// BuiltinFields are the fields every HTML page gives without a rule, when
// the page has them and no rule of the same name exists (a rule of that
// name that matches nothing leaves the field out).
var BuiltinFields = []string{"title", "description", "canonical", "og", "jsonld"}

func addBuiltins(fields map[string]any, doc *html.Node, abs func(string) string, rules []*rule) {
	// free reports whether no rule owns the name (a rule that matched
	// nothing still does).
	free := func(name string) bool {
		return !slices.ContainsFunc(rules, func(r *rule) bool { return r.name == name })
	}
	if free("title") {
		if n := titleSel.MatchFirst(doc); n != nil {
			if t := text(n); t != "" {
				fields["title"] = t
			}
		}
	}
	if free("description") {
		if n := descSel.MatchFirst(doc); n != nil {
			if d := collapse(attr(n, "content")); d != "" {
				fields["description"] = d
			}
		}
	}
	if free("canonical") {
		if n := canonicalSel.MatchFirst(doc); n != nil {
			if h := strings.TrimSpace(attr(n, "href")); h != "" {
				fields["canonical"] = abs(h)
			}
		}
	}
	if free("og") {
		var og map[string]string
		for _, n := range ogSel.MatchAll(doc) {
			p := strings.ToLower(strings.TrimSpace(attr(n, "property")))
			c := strings.TrimSpace(attr(n, "content"))
			if c == "" {
				continue
			}
			if og == nil {
				og = make(map[string]string)
			}
			if _, dup := og[p]; !dup { // the first of a repeated property wins
				og[p] = c
			}
		}
		if og != nil {
			fields["og"] = og
		}
	}
	if free("jsonld") {
		if blocks := jsonLD(doc); blocks != nil {
			fields["jsonld"] = blocks
		}
	}
}

// jsonLD returns the page's <script type="application/ld+json"> blocks,
// each parsed as JSON (numbers kept as written), in document order; a block
// that is not one JSON value is skipped. nil when there is none.
func jsonLD(doc *html.Node) []any {
	var blocks []any
	for _, n := range scriptSel.MatchAll(doc) {
		if mediaType(attr(n, "type")) != "application/ld+json" {
			continue
		}
		var src strings.Builder
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.TextNode {
				src.WriteString(c.Data)
			}
		}
		if v, ok := parseJSONValue(src.String()); ok {
			blocks = append(blocks, v)
		}
	}
	return blocks
}

// parseJSONValue parses s as exactly one JSON value, with numbers as
// json.Number so that they hash and travel as written.
func parseJSONValue(s string) (any, bool) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || v == nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false // trailing data
	}
	return v, true
}
