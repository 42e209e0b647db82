package crawl

import (
	"fmt"
	"sort"
	"unicode/utf8"

	"github.com/cronless/cronless/shared/job"
)

// fitFields cuts the largest of fields, in place, until their canonical
// JSON (total bytes) fits job.MaxFieldsBytes, and says how it cut them
// (nil when nothing was cut). Every field no larger than a cap is kept
// whole; every larger one is cut to at most the cap, the largest cap with
// which the whole fits. So one huge field (a links: all of a big page) is
// cut to what the others leave, and small fields (title, h1) are never
// touched. A field is cut at a clear boundary: a list to its first whole
// items, an object (og) to its first whole keys in key order, a string on
// a character boundary. It depends on the fields only: the same page is
// cut the same way.
//
// It fails (KindFieldsTooLarge) only when the fields' names alone, each
// field cut to nothing, are over the limit.
func fitFields(fields map[string]any, total int, pageURL string) (map[string]job.Truncation, *Error) {
	if total <= job.MaxFieldsBytes {
		return nil, nil
	}
	names := make([]string, 0, len(fields))
	sizes := make(map[string]int, len(fields))
	sum := 0
	for name, v := range fields {
		names = append(names, name)
		sizes[name] = len(canonicalJSON(v))
		sum += sizes[name]
	}
	sort.Strings(names)
	// budget is what the values may take: the rest is names, colons,
	// commas and braces, which no cut changes.
	budget := job.MaxFieldsBytes - (total - sum)
	floor := func(name string) int { // the least a field can be cut to
		if cuttable(fields[name]) {
			return 2 // "", [] or {}
		}
		return sizes[name]
	}
	at := func(limit int) int { // the values' size with every cuttable one cut to limit
		n := 0
		for _, name := range names {
			n += max(min(sizes[name], limit), floor(name))
		}
		return n
	}
	if at(2) > budget {
		return nil, &Error{Kind: KindFieldsTooLarge, URL: pageURL, Err: fmt.Errorf(
			"extraction: the %d fields take %d bytes as JSON even cut to nothing, more than the %d a result may hold (results are DynamoDB items, at most 400 KB); extract fewer fields",
			len(fields), at(2)+total-sum, job.MaxFieldsBytes)}
	}
	// The largest limit that fits: at(2) fits, at(largest) does not.
	largest := 0
	for _, s := range sizes {
		largest = max(largest, s)
	}
	limit := 2 + sort.Search(largest-2, func(i int) bool { return at(2+i+1) > budget })
	truncated := map[string]job.Truncation{}
	for _, name := range names {
		if sizes[name] <= limit || !cuttable(fields[name]) {
			continue
		}
		v, kept, items, keptItems := cutValue(fields[name], limit)
		fields[name] = v
		truncated[name] = job.Truncation{Bytes: sizes[name], Items: items, KeptBytes: kept, KeptItems: keptItems}
	}
	return truncated, nil
}

// cuttable reports whether cutValue can cut v: the types fields hold.
func cuttable(v any) bool {
	switch v.(type) {
	case string, []string, []any, map[string]string, map[string]any:
		return true
	}
	return false
}

// cutValue cuts v to its longest start whose canonical JSON takes at most
// limit bytes (limit ≥ 2): the first whole items of a list, the first whole
// keys of an object in key order, the first whole characters of a string.
// It returns the cut value, its size, and the number of items (or keys) v
// had and kept (0 for a string).
func cutValue(v any, limit int) (cut any, size, items, kept int) {
	switch x := v.(type) {
	case string:
		s, n := cutString(x, limit)
		return s, n, 0, 0
	case []string:
		n := firstItems(len(x), limit, func(i int) int { return jsonStringLen(x[i]) })
		return x[:n.count], n.size, len(x), n.count
	case []any:
		n := firstItems(len(x), limit, func(i int) int { return len(canonicalJSON(x[i])) })
		return x[:n.count], n.size, len(x), n.count
	case map[string]string:
		keys := sortedKeys(x)
		n := firstItems(len(keys), limit, func(i int) int { return jsonStringLen(keys[i]) + 1 + jsonStringLen(x[keys[i]]) })
		m := make(map[string]string, n.count)
		for _, k := range keys[:n.count] {
			m[k] = x[k]
		}
		return m, n.size, len(x), n.count
	case map[string]any:
		keys := sortedKeys(x)
		n := firstItems(len(keys), limit, func(i int) int { return jsonStringLen(keys[i]) + 1 + len(canonicalJSON(x[keys[i]])) })
		m := make(map[string]any, n.count)
		for _, k := range keys[:n.count] {
			m[k] = x[k]
		}
		return m, n.size, len(x), n.count
	}
	return v, len(canonicalJSON(v)), 0, 0
}

type firstN struct{ count, size int }

// firstItems is how many of the first of n items, of JSON sizes size(i),
// fit in limit bytes as a JSON list or object (brackets and commas
// included), and their size.
func firstItems(n, limit int, size func(int) int) firstN {
	total := 2
	for i := range n {
		s := size(i)
		if i > 0 {
			s++ // the comma
		}
		if total+s > limit {
			return firstN{i, total}
		}
		total += s
	}
	return firstN{n, total}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// cutString is the longest start of s, cut on a character boundary, whose
// canonical JSON takes at most limit bytes (limit ≥ 2), and that size.
func cutString(s string, limit int) (string, int) {
	total := 2
	for i := 0; i < len(s); {
		n, size := jsonRuneLen(s[i:])
		if total+n > limit {
			return s[:i], total
		}
		total += n
		i += size
	}
	return s, total
}

// jsonStringLen is the size of s as canonical JSON, quotes included.
func jsonStringLen(s string) int {
	total := 2
	for i := 0; i < len(s); {
		n, size := jsonRuneLen(s[i:])
		total += n
		i += size
	}
	return total
}

// asciiJSONLen is how many bytes each ASCII character takes in canonical
// JSON, as encoding/json escapes it (without HTML escaping).
var asciiJSONLen = func() (t [utf8.RuneSelf]int) {
	for c := range t {
		t[c] = len(canonicalJSON(string(rune(c)))) - 2
	}
	return t
}()

// jsonRuneLen is how many bytes the first character of s (non-empty)
// takes in canonical JSON, and how many bytes of s it is. encoding/json
// writes an invalid byte as \ufffd, and U+2028 and U+2029 escaped.
func jsonRuneLen(s string) (n, size int) {
	if c := s[0]; c < utf8.RuneSelf {
		return asciiJSONLen[c], 1
	}
	r, size := utf8.DecodeRuneInString(s)
	switch {
	case r == utf8.RuneError && size == 1, r == '\u2028', r == '\u2029':
		return 6, size
	}
	return size, size
}
