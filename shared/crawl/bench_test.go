package crawl

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cronless/cronless/shared/job"
)

// benchPage is a ~20 KB page with 20 links.
func benchPage() string {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html><head><title>Benchmark shop</title>
<meta name="description" content="A page for the benchmark">
<link rel="canonical" href="/bench"><meta property="og:title" content="Bench"></head><body>
<h1 class="name">Widget</h1><p class="price">Price: € 12.50</p><nav><ul>`)
	for i := range 20 {
		fmt.Fprintf(&b, `<li><a class="item" href="/item/%d?ref=nav">Item %d</a></li>`, i, i)
	}
	b.WriteString("</ul></nav>")
	for b.Len() < 20<<10 {
		b.WriteString(`<div class="filler"><p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.</p><span>filler</span></div>`)
	}
	b.WriteString("</body></html>")
	return b.String()
}

func BenchmarkFetch(b *testing.B) {
	page := benchPage()
	srv := newServer(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeHTML(w, page) }))
	f := newFetcher(b, Options{})
	j := testJob(srv.URL+"/bench", map[string]job.Rule{
		"name":  {CSS: "h1.name", Required: true},
		"price": {CSS: ".price", Regex: `([0-9.]+)`},
		"links": {CSS: "a.item", Attr: "href", All: true},
	})
	ctx := context.Background()
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		p, err := f.Fetch(ctx, j)
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Fields["links"].([]string)) != 20 {
			b.Fatalf("fields = %v", p.Fields)
		}
	}
}

// BenchmarkBaselineHTTP is the floor BenchmarkFetch is measured against: a
// plain net/http GET of the same page over loopback, body read, no parsing.
func BenchmarkBaselineHTTP(b *testing.B) {
	page := benchPage()
	srv := newServer(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeHTML(w, page) }))
	client := srv.Client()
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Get(srv.URL + "/bench")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
