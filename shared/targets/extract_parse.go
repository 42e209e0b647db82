package targets

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/andybalholm/cascadia"
	"go.yaml.in/yaml/v3"

	"github.com/cronless/cronless/shared/job"
)

// extracts reads the extracts: section, shared rules by name, into
// f.Extracts. It returns every name, also those of entries with problems.
func (p *parser) extracts(f *File, n *yaml.Node) (declared []string) {
	n = deref(n)
	if isNull(n) {
		return nil // "extracts:" with nothing under it
	}
	if n.Kind != yaml.MappingNode {
		p.addf(n, `extracts must map names to extract rules, e.g. product: { title: { css: "h1" } }; got %s`, describe(n))
		return nil
	}
	for _, kv := range p.pairs(n, "extracts") {
		declared = append(declared, kv.key)
		nameOK := validExtractName(kv.key)
		if !nameOK {
			p.addf(kv.keyNode, "extracts name %q is not allowed; %s", kv.key, extractHint)
		}
		noun := fmt.Sprintf("extracts entry %q", kv.key)
		if v := deref(kv.value); isNull(v) || (v.Kind == yaml.MappingNode && len(v.Content) == 0) {
			p.addf(kv.keyNode, `%s has no rules; add fields such as title: { css: "h1" }, or remove the entry`, noun)
			continue
		}
		rules, ok := p.rules(kv.value, noun, noun)
		if ok && nameOK {
			f.Extracts[kv.key] = rules
			f.ExtractNames = append(f.ExtractNames, kv.key)
		}
	}
	return declared
}

// targetExtract reads a target's extract: the name of an extracts: entry,
// or rules of its own. names are the extracts: names.
func (p *parser) targetExtract(e entry, targetNoun string, names []string) (string, map[string]job.Rule, bool) {
	v := deref(e.value)
	switch {
	case isNull(v):
		return "", nil, true // "extract:" with nothing under it
	case v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str":
		name := v.Value
		if slices.Contains(names, name) {
			return name, nil, true
		}
		msg := fmt.Sprintf("unknown extract %q in %s", name, targetNoun)
		if best := suggest(name, names); best != "" {
			msg += fmt.Sprintf("; did you mean %q?", best)
		}
		if len(names) == 0 {
			msg += "; no extracts are defined: name shared rules under extracts: in targets.yaml"
		} else {
			msg += fmt.Sprintf(" (defined in extracts: %s)", strings.Join(names, ", "))
		}
		if strings.HasPrefix(strings.TrimSpace(name), "{") {
			msg += "; a CSV cell holds a name only: write the rules under extracts: in targets.yaml, or list the targets as jsonl or yaml"
		}
		p.add(v, "unknown extract", msg)
		return "", nil, false
	case v.Kind != yaml.MappingNode:
		p.addf(v, `extract in %s must map field names to rules, e.g. title: { css: "h1" }; got %s (or name an entry of extracts:, e.g. extract: product)`, targetNoun, describe(v))
		return "", nil, false
	}
	rules, ok := p.rules(v, "extract in "+targetNoun, targetNoun)
	return "", rules, ok
}

// rules reads a mapping of field names to rules. mapNoun names the mapping
// in messages, ownerNoun what the fields belong to.
func (p *parser) rules(n *yaml.Node, mapNoun, ownerNoun string) (map[string]job.Rule, bool) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		p.addf(n, `%s must map field names to rules, e.g. title: { css: "h1" }; got %s`, mapNoun, describe(n))
		return nil, false
	}
	rules := map[string]job.Rule{}
	ok := true
	for _, kv := range p.pairs(n, mapNoun) {
		noun := fmt.Sprintf("extract field %q of %s", kv.key, ownerNoun)
		if strings.TrimSpace(kv.key) == "" {
			p.addf(kv.keyNode, "extract field names in %s must not be empty; name the field, e.g. title", ownerNoun)
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
	} else if _, err := cascadia.Compile(css); err != nil {
		// The crawler compiles it the same way: caught here, not as a
		// bad_rule failure of every crawl of the target.
		p.addf(e.value, "css %q in %s does not parse (%v); %s", css, noun, err, cssHint)
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
