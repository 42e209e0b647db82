package crawl

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/job"
)

const productPage = `<!DOCTYPE html>
<html><head>
  <title>  Blue   Widget
   | Shop </title>
  <meta name="Description" content="  The best   widget. ">
  <link rel="alternate canonical" href="/products/blue">
  <meta property="og:title" content="Blue Widget">
  <meta property="og:image" content="https://cdn.example/blue.png">
  <meta property="og:image" content="https://cdn.example/second.png">
  <script>var ad = "<p class=price>never</p>";</script>
</head><body>
  <h1 class="name">Blue&nbsp;Widget <small>v2</small></h1>
  <p class="price">Price: <b>€ 12.50</b></p>
  <p class="price">Sale: <b>€ 9.99</b></p>
  <div id="desc"><p>Line one</p><p>Line <em>two</em></p><script>tracking()</script></div>
  <ul>
    <li><a href="/a">A</a></li>
    <li><a href="b?x=1">B</a></li>
    <li><a href="https://other.example/c">C</a></li>
    <li><a href="#top">Top</a></li>
    <li><a>no href</a></li>
  </ul>
  <img src="img/w.png" srcset="img/w.png 1x, /img/w2.png 2x">
  <form action="search"></form>
  <script type="application/ld+json">{"@type": "Product"}</script>
</body></html>`

func TestExtract(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/shop/item" {
			http.Redirect(w, r, "/shop/item", http.StatusFound)
			return
		}
		writeHTML(w, productPage)
	}))
	f := newFetcher(t, Options{})
	base := srv.URL + "/shop/"

	tests := []struct {
		name    string
		rule    job.Rule
		want    any // nil: the field is absent
		errKind Kind
	}{
		{"text", job.Rule{CSS: "h1.name"}, "Blue Widget v2", ""},
		{"text explicit", job.Rule{CSS: "h1", Attr: "text"}, "Blue Widget v2", ""},
		{"text of blocks", job.Rule{CSS: "#desc"}, "Line one Line two", ""},
		{"html", job.Rule{CSS: "p.price", Attr: "html"}, "Price: <b>€ 12.50</b>", ""},
		{"first of many", job.Rule{CSS: "p.price"}, "Price: € 12.50", ""},
		{"all", job.Rule{CSS: "p.price", All: true}, []string{"Price: € 12.50", "Sale: € 9.99"}, ""},
		{"all none", job.Rule{CSS: ".missing", All: true}, []string{}, ""},
		{"missing", job.Rule{CSS: ".missing"}, nil, ""},
		{"attr absolute", job.Rule{CSS: "ul a", Attr: "href", All: true},
			[]string{srv.URL + "/a", base + "b?x=1", "https://other.example/c", base + "item#top"}, ""},
		{"attr first", job.Rule{CSS: "a", Attr: "HREF"}, srv.URL + "/a", ""},
		{"src", job.Rule{CSS: "img", Attr: "src"}, base + "img/w.png", ""},
		{"srcset", job.Rule{CSS: "img", Attr: "srcset"}, base + "img/w.png 1x, " + srv.URL + "/img/w2.png 2x", ""},
		{"action", job.Rule{CSS: "form", Attr: "action"}, base + "search", ""},
		{"plain attr", job.Rule{CSS: "meta[property='og:title']", Attr: "content"}, "Blue Widget", ""},
		{"attr missing on element", job.Rule{CSS: "li", Attr: "href"}, nil, ""},
		{"regex group", job.Rule{CSS: "p.price", Regex: `([0-9]+\.[0-9]+)`}, "12.50", ""},
		{"regex whole", job.Rule{CSS: "p.price", Regex: `€ \d+`}, "€ 12", ""},
		{"regex all", job.Rule{CSS: "p.price", All: true, Regex: `Sale: € (\S+)`}, []string{"9.99"}, ""},
		{"regex skips non-matching first", job.Rule{CSS: "p.price", Regex: `Sale: (.*)`}, "€ 9.99", ""},
		{"regex none", job.Rule{CSS: "p.price", Regex: `\$`}, nil, ""},
		{"script content", job.Rule{CSS: `script[type="application/ld+json"]`}, `{"@type": "Product"}`, ""},
		{"required ok", job.Rule{CSS: "h1", Required: true}, "Blue Widget v2", ""},
		{"required missing", job.Rule{CSS: ".missing", Required: true}, nil, KindRequired},
		{"required all missing", job.Rule{CSS: ".missing", All: true, Required: true}, nil, KindRequired},
		{"required regex missing", job.Rule{CSS: "h1", Regex: `\d{4}`, Required: true}, nil, KindRequired},
		{"bad css", job.Rule{CSS: "p[["}, nil, KindBadRule},
		{"pseudo-element", job.Rule{CSS: "p::text"}, nil, KindBadRule},
		{"bad regex", job.Rule{CSS: "p", Regex: `(`}, nil, KindBadRule},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := fetch(t, f, testJob(srv.URL+"/", map[string]job.Rule{"f": tt.rule}))
			if tt.errKind != "" {
				ce := asError(t, err)
				if ce.Kind != tt.errKind || ce.Retryable {
					t.Fatalf("got %v, want a permanent %s", err, tt.errKind)
				}
				if !strings.Contains(err.Error(), `"f"`) || !strings.Contains(err.Error(), tt.rule.CSS) {
					t.Errorf("message %q does not name the field and selector", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			got, ok := page.Fields["f"]
			if tt.want == nil {
				if ok {
					t.Errorf("field = %#v, want absent", got)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("field = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestBuiltins(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/bare":
			writeHTML(w, "<p>no head</p>")
		default:
			writeHTML(w, productPage)
		}
	}))
	f := newFetcher(t, Options{})

	page, err := fetch(t, f, testJob(srv.URL+"/shop/item", nil))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"title":       "Blue Widget | Shop",
		"description": "The best widget.",
		"canonical":   srv.URL + "/products/blue",
		"og":          map[string]string{"og:title": "Blue Widget", "og:image": "https://cdn.example/blue.png"},
		"jsonld":      []any{map[string]any{"@type": "Product"}},
	}
	if !reflect.DeepEqual(page.Fields, want) {
		t.Errorf("fields = %#v\nwant %#v", page.Fields, want)
	}
	if page.HTTPStatus != 200 || page.URL != srv.URL+"/shop/item" || page.Bytes != int64(len(productPage)) {
		t.Errorf("page = %+v", page)
	}

	// A rule of the same name wins over the built-in.
	page, err = fetch(t, f, testJob(srv.URL+"/shop/item", map[string]job.Rule{"title": {CSS: "h1 small"}}))
	if err != nil {
		t.Fatal(err)
	}
	if page.Fields["title"] != "v2" {
		t.Errorf("title = %#v, want the rule's value", page.Fields["title"])
	}

	// Built-ins appear only when present.
	page, err = fetch(t, f, testJob(srv.URL+"/bare", nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Fields) != 0 {
		t.Errorf("fields = %#v, want none", page.Fields)
	}
}

func TestJSONLD(t *testing.T) {
	pages := map[string]string{
		"/blocks": `<html><head>
  <script type="application/ld+json">
    {"@context": "https://schema.org", "@type": "Product", "name": "Blue <Widget>",
     "offers": {"price": 12.50, "sku": 12345678901234567890}}
  </script>
  <script type="Application/LD+JSON; charset=utf-8">[{"@type": "BreadcrumbList"}, 1]</script>
  <script type="application/ld+json">{"broken": </script>
  <script type="application/ld+json">{"a": 1} {"b": 2}</script>
  <script type="application/ld+json"></script>
  <script type="application/json">{"not": "ld"}</script>
  <script>{"no": "type"}</script>
</head><body><script type="application/ld+json">"late"</script></body></html>`,
		"/invalid": `<script type="application/ld+json">{not json}</script><title>t</title>`,
		"/none":    `<title>t</title>`,
	}
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeHTML(w, pages[r.URL.Path])
	}))
	f := newFetcher(t, Options{})

	page, err := fetch(t, f, testJob(srv.URL+"/blocks", nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []any{
		map[string]any{"@context": "https://schema.org", "@type": "Product", "name": "Blue <Widget>",
			"offers": map[string]any{"price": json.Number("12.50"), "sku": json.Number("12345678901234567890")}},
		[]any{map[string]any{"@type": "BreadcrumbList"}, json.Number("1")},
		"late",
	}
	if !reflect.DeepEqual(page.Fields["jsonld"], want) {
		t.Errorf("jsonld = %#v\nwant %#v", page.Fields["jsonld"], want)
	}
	// The blocks are part of the content hash, as written (no float
	// rounding, no HTML escaping).
	if page.ContentHash != hashFields(page.Fields) {
		t.Errorf("content hash %s is not the hash of the fields", page.ContentHash)
	}
	canon, _ := json.Marshal(page.Fields["jsonld"])
	if !strings.Contains(string(canon), `12345678901234567890`) || !strings.Contains(string(canon), `12.50`) {
		t.Errorf("jsonld does not keep its numbers as written: %s", canon)
	}

	for _, path := range []string{"/invalid", "/none"} {
		page, err := fetch(t, f, testJob(srv.URL+path, nil))
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := page.Fields["jsonld"]; ok {
			t.Errorf("%s: jsonld = %#v, want no field (no valid block)", path, v)
		}
	}

	// A rule named jsonld wins over the built-in.
	page, err = fetch(t, f, testJob(srv.URL+"/blocks", map[string]job.Rule{"jsonld": {CSS: "title", Attr: "text"}}))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := page.Fields["jsonld"]; ok {
		t.Errorf("jsonld = %#v, want the rule's (no match: absent), not the built-in", page.Fields["jsonld"])
	}
	if !slices.Contains(BuiltinFields, "jsonld") {
		t.Errorf("BuiltinFields = %v, want jsonld listed", BuiltinFields)
	}
}

func TestBaseHref(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeHTML(w, `<head><base href="https://static.example/root/"></head><a href="x.html">x</a><a href="#frag">f</a>`)
	}))
	page, err := fetch(t, newFetcher(t, Options{}), testJob(srv.URL+"/page", map[string]job.Rule{"links": {CSS: "a", Attr: "href", All: true}}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"https://static.example/root/x.html", "https://static.example/root/#frag"}
	if !reflect.DeepEqual(page.Fields["links"], want) {
		t.Errorf("links = %#v, want %#v", page.Fields["links"], want)
	}
}

func TestContentHash(t *testing.T) {
	var n atomic.Int32
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1))
		// The ad and the timestamp change on every request; the price does not.
		writeHTML(w, `<title>T</title><div class="ad">ad #`+strings.Repeat("x", i)+`</div><p class="price">10</p><time>`+time.Now().String()+`</time>`)
	}))
	f := newFetcher(t, Options{})
	j := testJob(srv.URL, map[string]job.Rule{"price": {CSS: ".price"}, "all": {CSS: "p", All: true}})
	a, err := fetch(t, f, j)
	if err != nil {
		t.Fatal(err)
	}
	b, err := fetch(t, f, j)
	if err != nil {
		t.Fatal(err)
	}
	if a.ContentHash != b.ContentHash {
		t.Errorf("content hash changed with content outside the fields")
	}
	if a.BodyHash == b.BodyHash {
		t.Errorf("body hash did not change with the body")
	}
	// The canonical form: sorted keys, no HTML escaping, no newline.
	if got, want := hashFields(map[string]any{"b": "<x>", "a": []string{"1"}}), hashBytes([]byte(`{"a":["1"],"b":"<x>"}`)); got != want {
		t.Errorf("hashFields = %s, want %s", got, want)
	}
	if got, want := hashFields(nil), hashBytes([]byte(`{}`)); got != want {
		t.Errorf("hashFields(nil) = %s, want %s", got, want)
	}
}

func TestTextDeepNesting(t *testing.T) {
	// Deep nesting must not blow the stack or take long.
	nest := func(n int) string { return strings.Repeat("<span>", n) + "deep" + strings.Repeat("</span>", n) }
	tooDeep, deep := nest(100000), nest(400)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/too-deep" {
			writeHTML(w, tooDeep)
			return
		}
		writeHTML(w, deep)
	}))
	f := newFetcher(t, Options{})
	_, err := fetch(t, f, testJob(srv.URL+"/too-deep", map[string]job.Rule{"b": {CSS: "body"}}))
	// x/net/html gives up beyond 512 open elements: a permanent failure.
	if ce := asError(t, err); ce.Kind != KindContentType || ce.Retryable || !strings.Contains(err.Error(), "512") {
		t.Fatalf("got %v", err)
	}
	page, err := fetch(t, f, testJob(srv.URL, map[string]job.Rule{"b": {CSS: "body"}}))
	if err != nil {
		t.Fatal(err)
	}
	if page.Fields["b"] != "deep" {
		t.Errorf("b = %#v", page.Fields["b"])
	}
}

// TestRequiredFieldMessage: a required field that matches nothing is a
// permanent "extraction" failure of kind required_field_missing whose
// message names the field and what it looked for.
func TestRequiredFieldMessage(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeHTML(w, productPage) }))
	f := newFetcher(t, Options{})
	tests := []struct {
		rule job.Rule
		want string
	}{
		{job.Rule{CSS: ".missing", Required: true},
			`extraction: field "price" (css ".missing") matched nothing (permanent; check the selector, or make the field optional)`},
		{job.Rule{CSS: "li", Attr: "href", Required: true},
			`extraction: field "price" (css "li", attr "href") matched nothing`},
		{job.Rule{CSS: "p.price", Regex: `\$(\d+)`, Required: true},
			`extraction: field "price" (css "p.price", regex "\\$(\\d+)") matched nothing`},
	}
	for _, tt := range tests {
		page, err := fetch(t, f, testJob(srv.URL+"/p", map[string]job.Rule{"price": tt.rule, "title": {CSS: "title"}}))
		ce := asError(t, err)
		if ce.Kind != KindRequired || ce.Retryable || string(ce.Kind) != "required_field_missing" || ce.HTTPStatus != 200 {
			t.Fatalf("got %v, want a permanent %s", err, KindRequired)
		}
		if msg := err.Error(); !strings.Contains(msg, tt.want) || !strings.HasPrefix(msg, "GET "+srv.URL+"/p: ") {
			t.Errorf("message\n%s\ndoes not contain\n%s", msg, tt.want)
		}
		if page.HTTPStatus != 200 || page.URL != srv.URL+"/p" {
			t.Errorf("page = %+v", page)
		}
	}
}
