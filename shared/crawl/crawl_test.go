package crawl

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/job"
)

func TestFetchStatus(t *testing.T) {
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	mux := http.NewServeMux()
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		var code int
		fmt.Sscan(r.PathValue("code"), &code)
		if ra := r.URL.Query().Get("ra"); ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(code)
		if code != http.StatusNoContent {
			_, _ = w.Write([]byte("<title>status</title>"))
		}
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/status/200", http.StatusMovedPermanently)
	})
	srv := newServer(t, mux)

	tests := []struct {
		path       string
		kind       Kind // "" = ok
		retryable  bool
		status     int
		retryAfter time.Duration // exact unless approx
		approx     bool
	}{
		{path: "/status/200", status: 200},
		{path: "/status/203", status: 203},
		{path: "/status/204", status: 204},
		{path: "/moved", status: 200},
		{path: "/status/400", kind: KindHTTP4xx, status: 400},
		{path: "/status/401", kind: KindHTTP4xx, status: 401},
		{path: "/status/403", kind: KindHTTP4xx, status: 403},
		{path: "/status/404", kind: KindHTTP4xx, status: 404},
		{path: "/status/410", kind: KindHTTP4xx, status: 410},
		{path: "/status/304", kind: KindHTTP4xx, status: 304},
		{path: "/status/429", kind: KindHTTP429, retryable: true, status: 429},
		{path: "/status/429?ra=7", kind: KindHTTP429, retryable: true, status: 429, retryAfter: 7 * time.Second},
		{path: "/status/429?ra=" + strings.ReplaceAll(date, " ", "%20"), kind: KindHTTP429, retryable: true, status: 429, retryAfter: 90 * time.Second, approx: true},
		{path: "/status/429?ra=soon", kind: KindHTTP429, retryable: true, status: 429},
		{path: "/status/500", kind: KindHTTP5xx, retryable: true, status: 500},
		{path: "/status/500?ra=30", kind: KindHTTP5xx, retryable: true, status: 500}, // only 503 honours Retry-After
		{path: "/status/502", kind: KindHTTP5xx, retryable: true, status: 502},
		{path: "/status/503?ra=120", kind: KindHTTP5xx, retryable: true, status: 503, retryAfter: 2 * time.Minute},
		{path: "/status/504", kind: KindHTTP5xx, retryable: true, status: 504},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			// A fetcher each: a Retry-After holds the host's next pages.
			f := newFetcher(t, Options{})
			page, err := fetch(t, f, testJob(srv.URL+tt.path, nil))
			if page.HTTPStatus != tt.status {
				t.Errorf("page.HTTPStatus = %d, want %d", page.HTTPStatus, tt.status)
			}
			if tt.kind == "" {
				if err != nil {
					t.Fatalf("Fetch: %v", err)
				}
				return
			}
			ce := asError(t, err)
			if ce.Kind != tt.kind || ce.Retryable != tt.retryable || ce.HTTPStatus != tt.status {
				t.Errorf("got kind=%s retryable=%v status=%d, want %s %v %d (%v)", ce.Kind, ce.Retryable, ce.HTTPStatus, tt.kind, tt.retryable, tt.status, err)
			}
			if Retryable(err) != tt.retryable || KindOf(err) != tt.kind {
				t.Errorf("Retryable/KindOf = %v/%s", Retryable(err), KindOf(err))
			}
			if tt.approx {
				if d := ce.RetryAfter - tt.retryAfter; d < -3*time.Second || d > 3*time.Second {
					t.Errorf("RetryAfter = %v, want about %v", ce.RetryAfter, tt.retryAfter)
				}
			} else if ce.RetryAfter != tt.retryAfter {
				t.Errorf("RetryAfter = %v, want %v", ce.RetryAfter, tt.retryAfter)
			}
			if !strings.Contains(err.Error(), srv.URL) {
				t.Errorf("message %q does not name the URL", err)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"120", 2 * time.Minute},
		{" 5 ", 5 * time.Second},
		{"-5", 0},
		{"1.5", 0},
		{"soon", 0},
		{"99999999999999999999", maxRetryAfter},
		{"999999", maxRetryAfter},
		{now.Add(45 * time.Second).Format(http.TimeFormat), 45 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{now.Add(72 * time.Hour).Format(http.TimeFormat), maxRetryAfter},
		{"Sunday, 01-Jun-25 12:00:30 GMT", 30 * time.Second}, // RFC 850
		{"Sun Jun  1 12:01:00 2025", time.Minute},            // asctime
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Kind: KindHTTP5xx, Retryable: true, HTTPStatus: 503, URL: "https://x/"},
			"GET https://x/: 503 Service Unavailable (retryable; the server failed, it will be retried)"},
		{&Error{Kind: KindHTTP429, Retryable: true, HTTPStatus: 429, RetryAfter: 30 * time.Second, URL: "https://x/"},
			"GET https://x/: 429 Too Many Requests (retryable; the server is rate limiting, it will be retried after 30s)"},
		{&Error{Kind: KindBlocked, URL: "http://10.0.0.1/", Err: errors.New("10.0.0.1 is a private (RFC 1918) address")},
			"GET http://10.0.0.1/: 10.0.0.1 is a private (RFC 1918) address (permanent; private and internal addresses are not crawled; run with --allow-private or set allow_private: true to allow them)"},
		{&Error{Kind: KindRequired},
			"required_field_missing (permanent; check the selector, or make the field optional)"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() =\n%s\nwant\n%s", got, tt.want)
		}
	}
}

func TestRetryableAndKindOf(t *testing.T) {
	tests := []struct {
		err       error
		retryable bool
		kind      Kind
	}{
		{nil, false, KindConnection},
		{errors.New("boom"), false, KindConnection},
		{context.DeadlineExceeded, true, KindTimeout},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded), true, KindTimeout},
		{context.Canceled, true, KindConnection},
		{&net.OpError{Op: "dial", Err: timeoutErr{}}, true, KindTimeout},
		{fmt.Errorf("x: %w", &Error{Kind: KindRobots}), false, KindRobots},
		{fmt.Errorf("x: %w", &Error{Kind: KindHTTP5xx, Retryable: true}), true, KindHTTP5xx},
	}
	for _, tt := range tests {
		if got := Retryable(tt.err); got != tt.retryable {
			t.Errorf("Retryable(%v) = %v", tt.err, got)
		}
		if tt.err != nil {
			if got := KindOf(tt.err); got != tt.kind {
				t.Errorf("KindOf(%v) = %s, want %s", tt.err, got, tt.kind)
			}
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestRedirectLimit(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/hop/{n}", func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscan(r.PathValue("n"), &n)
		if n == 0 {
			writeHTML(w, "<title>landed</title>")
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/hop/%d", n-1), http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("/ftp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://example.com/file", http.StatusFound)
	})
	srv := newServer(t, mux)
	f := newFetcher(t, Options{MaxRedirects: 5})

	page, err := fetch(t, f, testJob(srv.URL+"/hop/5", nil))
	if err != nil {
		t.Fatalf("5 redirects: %v", err)
	}
	if page.URL != srv.URL+"/hop/0" || page.Fields["title"] != "landed" {
		t.Errorf("page = %+v", page)
	}
	for _, path := range []string{"/hop/6", "/loop"} {
		_, err = fetch(t, f, testJob(srv.URL+path, nil))
		if ce := asError(t, err); ce.Kind != KindRedirects || ce.Retryable {
			t.Errorf("%s: got %v", path, err)
		}
	}
	_, err = fetch(t, f, testJob(srv.URL+"/ftp", nil))
	if ce := asError(t, err); ce.Kind != KindHTTP4xx || ce.Retryable || !strings.Contains(err.Error(), "ftp://") {
		t.Errorf("redirect to ftp: got %v", err)
	}
}

func TestBodyLimit(t *testing.T) {
	const limit = 1000
	big := strings.Repeat("x", 2*limit)
	mux := http.NewServeMux()
	mux.HandleFunc("/length", func(w http.ResponseWriter, r *http.Request) { writeHTML(w, big) })
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		for i := 0; i < 4; i++ {
			_, _ = w.Write([]byte(big[:limit/2]))
			w.(http.Flusher).Flush() // no Content-Length
		}
	})
	mux.HandleFunc("/exact", func(w http.ResponseWriter, r *http.Request) { writeHTML(w, big[:limit]) })
	mux.HandleFunc("/gzip", func(w http.ResponseWriter, r *http.Request) {
		// 10 MB of zeros in ~10 KB: the limit applies to what is decompressed.
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		_, _ = zw.Write(make([]byte, 10<<20))
		_ = zw.Close()
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(b.Bytes())
	})
	mux.HandleFunc("/brotli", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Encoding", "br")
		_, _ = w.Write([]byte("not really brotli"))
	})
	srv := newServer(t, mux)
	f := newFetcher(t, Options{MaxBodyBytes: limit})

	for _, path := range []string{"/length", "/chunked", "/gzip"} {
		_, err := fetch(t, f, testJob(srv.URL+path, nil))
		if ce := asError(t, err); ce.Kind != KindTooLarge || ce.Retryable || !strings.Contains(err.Error(), "1000 bytes") {
			t.Errorf("%s: got %v", path, err)
		}
	}
	page, err := fetch(t, f, testJob(srv.URL+"/exact", nil))
	if err != nil || page.Bytes != limit {
		t.Errorf("/exact: page.Bytes=%d err=%v", page.Bytes, err)
	}
	_, err = fetch(t, f, testJob(srv.URL+"/brotli", nil))
	if ce := asError(t, err); ce.Kind != KindContentType {
		t.Errorf("/brotli: got %v", err)
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	mux := http.NewServeMux()
	mux.HandleFunc("/slow-headers", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	mux.HandleFunc("/slow-body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><title>partial"))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	srv := newServer(t, mux)
	f := newFetcher(t, Options{})
	for _, path := range []string{"/slow-headers", "/slow-body"} {
		t.Run(path, func(t *testing.T) {
			j := testJob(srv.URL+path, nil)
			j.TimeoutMS = 150
			start := time.Now()
			_, err := fetch(t, f, j)
			if el := time.Since(start); el > time.Second {
				t.Errorf("took %v with a 150ms timeout", el)
			}
			ce := asError(t, err)
			if ce.Kind != KindTimeout || !ce.Retryable || !Retryable(err) {
				t.Errorf("got %v", err)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
			}
			if !strings.Contains(err.Error(), "150ms") {
				t.Errorf("message %q does not name the timeout", err)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	started := make(chan struct{}, 1)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-r.Context().Done()
	}))
	f := newFetcher(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		cancel()
	}()
	start := time.Now()
	_, err := f.Fetch(ctx, testJob(srv.URL, nil))
	if el := time.Since(start); el > time.Second {
		t.Errorf("took %v after cancel", el)
	}
	if !errors.Is(err, context.Canceled) || !Retryable(err) {
		t.Errorf("got %v, want a retryable error wrapping context.Canceled", err)
	}
}

func TestConnectionErrors(t *testing.T) {
	// A port nobody listens on: take one, then close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/"
	ln.Close()

	reset := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		}
	}))
	f := newFetcher(t, Options{Resolver: stubResolver{}})
	for _, u := range []string{closed, reset.URL, "http://nxdomain.test/"} {
		_, err := fetch(t, f, testJob(u, nil))
		if ce := asError(t, err); ce.Kind != KindConnection || !ce.Retryable {
			t.Errorf("%s: got %v", u, err)
		}
	}
}

func TestContentTypes(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	mux := http.NewServeMux()
	mux.HandleFunc("/png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(png)
	})
	mux.HandleFunc("/sniffed-png", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil // no header: the body is sniffed
		_, _ = w.Write(png)
	})
	mux.HandleFunc("/sniffed-html", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil
		_, _ = w.Write([]byte("<!DOCTYPE html><html><title>sniffed</title></html>"))
	})
	mux.HandleFunc("/text", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("<title>not html</title>"))
	})
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"a":1}`))
	})
	mux.HandleFunc("/xhtml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xhtml+xml")
		_, _ = w.Write([]byte(`<html xmlns="http://www.w3.org/1999/xhtml"><head><title>x</title></head><body><p>hi</p></body></html>`))
	})
	mux.HandleFunc("/sitemap.xml.gz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		_, _ = w.Write([]byte{0x1f, 0x8b})
	})
	mux.HandleFunc("/gzip-file", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/gzip")
		_, _ = w.Write([]byte{0x1f, 0x8b})
	})
	srv := newServer(t, mux)
	f := newFetcher(t, Options{})

	for _, path := range []string{"/png", "/sniffed-png", "/gzip-file", "/sitemap.xml.gz"} {
		_, err := fetch(t, f, testJob(srv.URL+path, nil))
		if ce := asError(t, err); ce.Kind != KindContentType || ce.Retryable {
			t.Errorf("%s: got %v", path, err)
		}
	}
	ok := []struct {
		path   string
		fields map[string]any
	}{
		{"/text", map[string]any{}},
		{"/json", map[string]any{}},
		{"/sniffed-html", map[string]any{"title": "sniffed"}},
		{"/xhtml", map[string]any{"title": "x", "p": "hi"}},
	}
	for _, tt := range ok {
		j := testJob(srv.URL+tt.path, nil)
		if tt.path == "/xhtml" {
			j.Extract = map[string]job.Rule{"p": {CSS: "p"}}
		}
		page, err := fetch(t, f, j)
		if err != nil {
			t.Errorf("%s: %v", tt.path, err)
			continue
		}
		if !reflect.DeepEqual(page.Fields, tt.fields) {
			t.Errorf("%s: fields = %#v, want %#v", tt.path, page.Fields, tt.fields)
		}
		if page.BodyHash == "" || page.ContentHash == "" || page.Bytes == 0 {
			t.Errorf("%s: page = %+v", tt.path, page)
		}
	}
	// A required field cannot be found in a page that is not HTML.
	j := testJob(srv.URL+"/json", map[string]job.Rule{"a": {CSS: "a", Required: true}})
	_, err := fetch(t, f, j)
	if ce := asError(t, err); ce.Kind != KindRequired || !strings.Contains(err.Error(), "application/json") {
		t.Errorf("required on JSON: got %v", err)
	}
}

func TestCharset(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=iso-8859-1")
		_, _ = w.Write([]byte("<title>Caf\xe9 cr\xe8me</title>"))
	}))
	page, err := fetch(t, newFetcher(t, Options{}), testJob(srv.URL, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := page.Fields["title"]; got != "Café crème" {
		t.Errorf("title = %q", got)
	}
}

func TestUserAgent(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.UserAgent())
		mu.Unlock()
		writeHTML(w, "")
	}))
	f := newFetcher(t, Options{UserAgent: "default-agent/1"})
	j := testJob(srv.URL, nil)
	if _, err := fetch(t, f, j); err != nil {
		t.Fatal(err)
	}
	j.UserAgent = "job-agent/2"
	if _, err := fetch(t, f, j); err != nil {
		t.Fatal(err)
	}
	if want := []string{"default-agent/1", "job-agent/2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("user agents = %q, want %q", got, want)
	}
}

func TestBadJobURL(t *testing.T) {
	f := newFetcher(t, Options{})
	for _, u := range []string{"", "ftp://example.com/", "/relative", "http://"} {
		_, err := fetch(t, f, testJob(u, nil))
		if ce := asError(t, err); ce.Retryable {
			t.Errorf("%q: got retryable %v", u, err)
		}
	}
}

func TestConcurrentFetches(t *testing.T) {
	var robotsHits atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/robots.txt", func(w http.ResponseWriter, r *http.Request) {
		robotsHits.Add(1)
		time.Sleep(20 * time.Millisecond) // let fetches pile up behind the first
		_, _ = w.Write([]byte("User-agent: *\nDisallow: /private\n"))
	})
	mux.HandleFunc("/p/{n}", func(w http.ResponseWriter, r *http.Request) {
		writeHTML(w, "<title>page "+r.PathValue("n")+"</title>")
	})
	srv := newServer(t, mux)
	f := newFetcher(t, Options{})
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j := testJob(fmt.Sprintf("%s/p/%d", srv.URL, i), map[string]job.Rule{"t": {CSS: "title"}})
			j.Robots = nil
			page, err := fetch(t, f, j)
			if err != nil {
				t.Errorf("fetch %d: %v", i, err)
				return
			}
			if want := fmt.Sprintf("page %d", i); page.Fields["t"] != want {
				t.Errorf("fetch %d: t = %v", i, page.Fields["t"])
			}
		}()
	}
	wg.Wait()
	if n := robotsHits.Load(); n != 1 {
		t.Errorf("robots.txt fetched %d times, want 1", n)
	}
}

func TestKeepAlive(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeHTML(w, "<title>k</title>") }))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	f := newFetcher(t, Options{})
	for range 10 {
		if _, err := fetch(t, f, testJob(srv.URL, nil)); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 10 sequential fetches, want 1", n)
	}
	if f.transport.MaxIdleConnsPerHost < 16 {
		t.Errorf("MaxIdleConnsPerHost = %d", f.transport.MaxIdleConnsPerHost)
	}
}

// A host that may take many requests at once keeps that many idle
// connections, so it is not redialled under load.
func TestIdleConnectionsFollowHostConcurrency(t *testing.T) {
	for _, tc := range []struct{ host, want int }{{0, 16}, {4, 16}, {64, 64}, {-1, 256}} {
		f := New(Options{HostConcurrency: tc.host})
		if got := f.transport.MaxIdleConnsPerHost; got != tc.want {
			t.Errorf("HostConcurrency %d: MaxIdleConnsPerHost = %d, want %d", tc.host, got, tc.want)
		}
	}
}
