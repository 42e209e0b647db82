package crawl

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cronless/cronless/shared/job"
)

// A page whose links: all field alone is about 1 MB as JSON (issue 13: a
// 942 KB page with 3,563 links lost its title and h1 too) gives an ok page
// with its title and h1 whole, and its links cut to their first whole
// items, marked with their size and count before the cut.
func TestLargeLinksTruncated(t *testing.T) {
	const n = 8000
	var b strings.Builder
	b.WriteString("<html><head><title>Big Page</title></head><body><h1>The heading</h1><ul>")
	for i := range n {
		fmt.Fprintf(&b, `<li><a href="/docs/%06d/%s">link %d</a></li>`, i, strings.Repeat("p", 100), i)
	}
	b.WriteString("</ul></body></html>")
	body := b.String()
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeHTML(w, body) }))
	f := newFetcher(t, Options{})
	rules := map[string]job.Rule{"h1": {CSS: "h1"}, "links": {CSS: "a", Attr: "href", All: true}}

	page, err := fetch(t, f, testJob(srv.URL+"/", rules))
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	all := make([]string, n)
	for i := range all {
		all[i] = fmt.Sprintf("%s/docs/%06d/%s", srv.URL, i, strings.Repeat("p", 100))
	}
	full := map[string]any{"title": "Big Page", "h1": "The heading", "links": all}
	fullSize := len(canonicalJSON(all))
	if fullSize < 1<<20 {
		t.Fatalf("the fixture's links take %d bytes as JSON, want about 1 MB", fullSize)
	}
	if page.Fields["title"] != "Big Page" || page.Fields["h1"] != "The heading" {
		t.Errorf("title and h1 = %q, %q; want them whole", page.Fields["title"], page.Fields["h1"])
	}
	links, _ := page.Fields["links"].([]string)
	if len(links) == 0 || len(links) >= n || !reflect.DeepEqual(links, all[:len(links)]) {
		t.Fatalf("links: %d kept, want the first whole ones of %d", len(links), n)
	}
	want := job.Truncation{Bytes: fullSize, Items: n, KeptBytes: len(canonicalJSON(links)), KeptItems: len(links)}
	t.Logf("links: %d of %d kept, %d of %d bytes", want.KeptItems, want.Items, want.KeptBytes, want.Bytes)
	if got := page.Truncated; len(got) != 1 || got["links"] != want {
		t.Errorf("truncated = %+v, want links %+v", got, want)
	}
	if size := len(canonicalJSON(page.Fields)); size > job.MaxFieldsBytes || size < job.MaxFieldsBytes-200 {
		t.Errorf("fields take %d bytes as JSON, want just under %d", size, job.MaxFieldsBytes)
	}
	if page.ContentHash != hashFields(full) {
		t.Errorf("content hash is not of the fields before the cut")
	}
	// The same page is cut the same way.
	again, err := fetch(t, f, testJob(srv.URL+"/", rules))
	if err != nil || !reflect.DeepEqual(again.Fields, page.Fields) || !reflect.DeepEqual(again.Truncated, page.Truncated) {
		t.Errorf("second fetch cut differently (%v)", err)
	}
	// The result the worker makes of it is valid.
	r := job.Result{V: 1, RunID: "r", TargetID: "t", URL: page.URL, ScheduledAt: testTime, FetchedAt: testTime,
		Status: job.StatusOK, Fields: page.Fields, Truncated: page.Truncated, ContentHash: page.ContentHash}
	body2, err := job.Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := job.DecodeResult([]byte(body2)); err != nil {
		t.Errorf("the result does not validate: %v", err)
	}
}

// fitFields keeps the fields that fit whole and cuts the largest ones at a
// clear boundary of their type, so that the whole fits.
func TestFitFields(t *testing.T) {
	const max = job.MaxFieldsBytes
	list := func(n, size int) []string {
		l := make([]string, n)
		for i := range l {
			l[i] = fmt.Sprintf("%0*d", size, i)
		}
		return l
	}
	anyList := func(n, size int) []any {
		l := make([]any, n)
		for i := range l {
			l[i] = map[string]any{"@id": fmt.Sprintf("%0*d", size, i)}
		}
		return l
	}
	og := map[string]string{}
	for i := range 400 {
		og[fmt.Sprintf("og:k%04d", i)] = strings.Repeat("v", 1000)
	}
	tests := []struct {
		name   string
		fields map[string]any
		cut    []string // the fields cut, by name
	}{
		{"fits", map[string]any{"title": "t", "links": list(100, 100)}, nil},
		{"list", map[string]any{"title": "t", "h1": "h", "links": list(5000, 100)}, []string{"links"}},
		{"string", map[string]any{"title": "t", "body": strings.Repeat("abc ", max/2)}, []string{"body"}},
		{"multibyte string", map[string]any{"title": "t", "body": strings.Repeat("é€😀", max/5)}, []string{"body"}},
		{"escaped string", map[string]any{"title": "t", "body": strings.Repeat("\"\n\x01\u2028<", max/10)}, []string{"body"}},
		{"invalid utf-8", map[string]any{"body": strings.Repeat("a\xff", max)}, []string{"body"}},
		{"jsonld", map[string]any{"title": "t", "jsonld": anyList(3000, 100)}, []string{"jsonld"}},
		{"og", map[string]any{"title": "t", "og": og}, []string{"og"}},
		{"og as stored", map[string]any{"title": "t", "og": toAny(og)}, []string{"og"}},
		{"two large, the small kept", map[string]any{"title": "t", "a": list(3000, 100), "b": strings.Repeat("x", max),
			"c": strings.Repeat("y", 1000)}, []string{"a", "b"}},
		{"one item larger than all", map[string]any{"title": "t", "links": []string{strings.Repeat("x", max)}}, []string{"links"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := map[string]any{}
			sizes := map[string]int{}
			for k, v := range tt.fields {
				before[k], sizes[k] = v, len(canonicalJSON(v))
			}
			fields := clone(tt.fields)
			got, err := fitFields(fields, len(canonicalJSON(fields)), "http://x/")
			if err != nil {
				t.Fatalf("fitFields: %v", err)
			}
			if size := len(canonicalJSON(fields)); size > max {
				t.Errorf("fields take %d bytes, over %d", size, max)
			}
			if names := sortedKeys(got); !reflect.DeepEqual(names, tt.cut) && len(names)+len(tt.cut) > 0 {
				t.Errorf("cut %v, want %v", names, tt.cut)
			}
			for name, v := range fields {
				tr, cut := got[name]
				if !cut {
					if !reflect.DeepEqual(v, before[name]) {
						t.Errorf("%s changed but is not marked", name)
					}
					continue
				}
				if tr.Bytes != sizes[name] || tr.KeptBytes != len(canonicalJSON(v)) || tr.KeptBytes >= tr.Bytes {
					t.Errorf("%s: %+v; sizes %d before, %d after", name, tr, sizes[name], len(canonicalJSON(v)))
				}
				checkPrefix(t, name, before[name], v, tr)
			}
			// Cut again, the same fields give the same cut.
			again := clone(tt.fields)
			got2, _ := fitFields(again, len(canonicalJSON(again)), "http://x/")
			if !reflect.DeepEqual(again, fields) || !reflect.DeepEqual(got2, got) {
				t.Error("a second cut differs")
			}
			if len(got) > 0 {
				r := job.Result{V: 1, RunID: "r", TargetID: "t", ScheduledAt: testTime, FetchedAt: testTime,
					Status: job.StatusOK, Fields: fields, Truncated: got}
				if err := r.Validate(); err != nil {
					t.Errorf("result: %v", err)
				}
			}
		})
	}
}

// checkPrefix checks that cut is a start of orig at its type's boundary,
// and that the truncation counts its items.
func checkPrefix(t *testing.T, name string, orig, cut any, tr job.Truncation) {
	t.Helper()
	switch o := orig.(type) {
	case string:
		c := cut.(string)
		if !strings.HasPrefix(o, c) || tr.Items != 0 || tr.KeptItems != 0 {
			t.Errorf("%s: not a start of the string, or items counted: %+v", name, tr)
		}
		if utf8.ValidString(o) && (!utf8.ValidString(c) || !utf8.ValidString(o[len(c):])) {
			t.Errorf("%s: cut inside a character", name)
		}
	case []string:
		c := cut.([]string)
		if !reflect.DeepEqual(c, o[:len(c)]) || tr.Items != len(o) || tr.KeptItems != len(c) {
			t.Errorf("%s: not the first whole items: %+v", name, tr)
		}
	case []any:
		c := cut.([]any)
		if !reflect.DeepEqual(c, o[:len(c)]) || tr.Items != len(o) || tr.KeptItems != len(c) {
			t.Errorf("%s: not the first whole items: %+v", name, tr)
		}
	case map[string]string:
		c := cut.(map[string]string)
		keys := sortedKeys(o)
		for _, k := range keys[:len(c)] {
			if c[k] != o[k] {
				t.Errorf("%s: key %s not kept whole, or not the first keys", name, k)
			}
		}
		if tr.Items != len(o) || tr.KeptItems != len(c) || len(c) == 0 {
			t.Errorf("%s: %+v, %d keys kept", name, tr, len(c))
		}
	case map[string]any:
		c := cut.(map[string]any)
		keys := sortedKeys(o)
		for _, k := range keys[:len(c)] {
			if !reflect.DeepEqual(c[k], o[k]) {
				t.Errorf("%s: key %s not kept whole, or not the first keys", name, k)
			}
		}
		if tr.Items != len(o) || tr.KeptItems != len(c) || len(c) == 0 {
			t.Errorf("%s: %+v, %d keys kept", name, tr, len(c))
		}
	}
}

// A string is cut on a character boundary, and its JSON size is counted
// as encoding/json writes it.
func TestCutString(t *testing.T) {
	for _, s := range []string{"", "abc", "é€😀", "\"\\\n\r\t\b\f\x00\x1f\x7f", "<>&", "\u2028\u2029", "a\xffb\xc3", "\xe2\x82", "\ufffd"} {
		if got, want := jsonStringLen(s), len(canonicalJSON(s)); got != want {
			t.Errorf("jsonStringLen(%q) = %d, want %d", s, got, want)
		}
		for limit := 2; limit <= len(canonicalJSON(s))+1; limit++ {
			c, n := cutString(s, limit)
			if !strings.HasPrefix(s, c) || n != len(canonicalJSON(c)) || n > limit {
				t.Errorf("cutString(%q, %d) = %q, %d", s, limit, c, n)
			}
			// Nothing more fits: the next character would be over.
			if rest := s[len(c):]; rest != "" {
				m, size := jsonRuneLen(rest)
				if n+m <= limit || (size > 1 && !strings.HasPrefix(s, c+rest[:size])) {
					t.Errorf("cutString(%q, %d) = %q: cut short", s, limit, c)
				}
			}
		}
	}
}

// Fields whose names alone are over the limit cannot be cut to fit: the
// crawl fails permanently, as fields_too_large.
func TestFieldsTooLargeEvenCut(t *testing.T) {
	fields := map[string]any{}
	for i := range 300 {
		fields[fmt.Sprintf("%04d%s", i, strings.Repeat("n", 1000))] = "v"
	}
	_, err := fitFields(fields, len(canonicalJSON(fields)), "http://x/")
	if err == nil || err.Kind != KindFieldsTooLarge || err.Retryable || !strings.Contains(err.Error(), "fewer fields") {
		t.Fatalf("got %v, want a permanent %s", err, KindFieldsTooLarge)
	}
}

var testTime = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func clone(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// toAny is m as a decoded JSON object holds it.
func toAny(m map[string]string) map[string]any {
	var out map[string]any
	b, _ := json.Marshal(m)
	_ = json.Unmarshal(b, &out)
	return out
}
