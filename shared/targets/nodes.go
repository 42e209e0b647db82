package targets

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// keyHints say where a key misplaced into another mapping belongs.
var keyHints = map[string]string{
	"host_rate":        "a rate is a whole host's: set host_rate under defaults:, or rate under hosts: for one host",
	"host_concurrency": "a concurrency is a whole host's: set host_concurrency under defaults:, or concurrency under hosts: for one host",
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
	out := make([]entry, 0, len(n.Content)/2)
	// A target's few keys are compared with each other; a large mapping's
	// (hosts:) looked up. A list of a million targets pairs a million.
	var first map[string]int // key -> line of its first use
	if len(n.Content) > 32 {
		first = make(map[string]int, len(n.Content)/2)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.addf(k, "keys in %s must be plain names, not %s", noun, describe(k))
			continue
		}
		line, dup := first[k.Value]
		if first == nil {
			for _, e := range out {
				if e.key == k.Value {
					line, dup = e.keyNode.Line, true
					break
				}
			}
		}
		if dup {
			p.addf(k, "duplicate key %q in %s (first at line %d); keep one of them", k.Value, noun, line)
			continue
		}
		if first != nil {
			first[k.Value] = k.Line
		}
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
	pairs := p.pairs(n, noun)
	out := make(map[string]entry, len(pairs))
	for _, e := range pairs {
		if !slices.Contains(allowed, e.key) {
			msg := fmt.Sprintf("unknown key %q in %s", e.key, noun)
			if best := suggest(e.key, allowed); best != "" {
				msg += fmt.Sprintf("; did you mean %q?", best)
			} else if hint, found := keyHints[e.key]; found {
				msg += "; " + hint
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
