package targets

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/andybalholm/cascadia"
	"go.yaml.in/yaml/v3"

	"github.com/cronless/cronless/shared/job"
)

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
