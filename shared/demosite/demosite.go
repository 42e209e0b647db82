// Package demosite is the small web site `cronless demo` crawls: a few
// pages that show every outcome a user meets — pages that extract cleanly,
// a page whose content changes between runs, a 404 (a permanent failure),
// a page that always answers 500 (retried, then dead-lettered) and a page
// robots.txt disallows.
package demosite

import (
	"fmt"
	"html/template"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Site serves the demo pages. Start it with Serve or mount Handler in an
// httptest server.
type Site struct {
	// Edition is the number the /news page shows; it goes up on every fetch,
	// so the page changes between runs.
	edition atomic.Int64
}

// Handler returns the site's routes.
func (s *Site) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page("cronless demo", "Welcome to the cronless demo site",
		`<p>Pages: <a href="/about">about</a>, <a href="/news">news</a>, <a href="/products">products</a>,
		<a href="/gone">a page that is gone</a>, <a href="/flaky">a page that always fails</a>.</p>`))
	mux.HandleFunc("GET /about", s.page("About cronless", "About",
		`<p class="lead">cronless runs scheduled crawls without a cron server.</p>
		<p>Contact: <a href="mailto:team@example.com">team@example.com</a></p>`))
	mux.HandleFunc("GET /products", s.page("Products", "Products",
		`<ul><li class="product"><a href="/p/1">Planner</a> <span class="price">$0.00</span></li>
		<li class="product"><a href="/p/2">Worker</a> <span class="price">$0.20</span></li>
		<li class="product"><a href="/p/3">Results</a> <span class="price">$1.25</span></li></ul>`))
	mux.HandleFunc("GET /news", func(w http.ResponseWriter, r *http.Request) {
		n := s.edition.Add(1)
		s.page("News", "News", fmt.Sprintf(`<p class="edition">Edition %d</p><p>Fresh news every run.</p>`, n))(w, r)
	})
	mux.HandleFunc("GET /flaky", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "the database is down (this demo page always fails)", http.StatusInternalServerError)
	})
	mux.HandleFunc("GET /private", s.page("Private", "Private", `<p>robots.txt asks crawlers to stay out.</p>`))
	mux.HandleFunc("GET /robots.txt", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "User-agent: *\nDisallow: /private\n")
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	return mux
}

var tmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<meta name="description" content="{{.Title}}: a page of the cronless demo site">
</head><body><h1>{{.H1}}</h1>{{.Body}}</body></html>
`))

func (s *Site) page(title, h1, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = tmpl.Execute(w, struct {
			Title, H1 string
			Body      template.HTML
		}{title, h1, template.HTML(body)})
	}
}

// Serve starts the site on a random port of 127.0.0.1 and returns its base
// URL (without a trailing slash) and a function that stops it.
func (s *Site) Serve() (baseURL string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("demo site: listen on 127.0.0.1: %w", err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

// Targets is a targets file for the demo site at baseURL, with one schedule
// named "demo".
func Targets(baseURL string) string {
	return fmt.Sprintf(`# The targets of the cronless demo site (written by cronless demo).
schedules:
  demo: { expression: "rate(1 minute)", timezone: "UTC" }
defaults: { timeout: 5s, robots: true }
targets:
  - id: about
    url: %[1]s/about
    schedule: demo
    extract:
      title: { css: title }
      lead: { css: p.lead, required: true }
      contact: { css: "a[href^=mailto]", attr: href, regex: "mailto:(.+)" }
  - id: products
    url: %[1]s/products
    schedule: demo
    extract:
      names: { css: li.product a, all: true }
      prices: { css: li.product .price, all: true }
      links: { css: li.product a, attr: href, all: true }
  - id: news
    url: %[1]s/news
    schedule: demo
    extract:
      edition: { css: p.edition }
  - id: gone
    url: %[1]s/gone
    schedule: demo
  - id: flaky
    url: %[1]s/flaky
    schedule: demo
  - id: private
    url: %[1]s/private
    schedule: demo
`, baseURL)
}
