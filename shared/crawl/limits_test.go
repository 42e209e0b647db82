package crawl

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestSlowDrip: a server that sends its body one byte a second is cut off
// by the total timeout, within its bound.
func TestSlowDrip(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusOK)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for i := 0; i < 60; i++ {
			if _, err := w.Write([]byte("x")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-tick.C:
			case <-r.Context().Done():
				return
			}
		}
	}))
	f := newFetcher(t, Options{})
	j := testJob(srv.URL, nil)
	j.TimeoutMS = 300
	start := time.Now()
	_, err := fetch(t, f, j)
	el := time.Since(start)
	ce := asError(t, err)
	if ce.Kind != KindTimeout || !ce.Retryable {
		t.Fatalf("got %v, want a retryable %s", err, KindTimeout)
	}
	if el < 300*time.Millisecond || el > 1500*time.Millisecond {
		t.Errorf("took %v with a 300ms timeout", el)
	}
	if !strings.Contains(err.Error(), "300ms") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("message %q does not name the timeout", err)
	}
}

// endless writes chunks of p to w until the client goes away, then reports
// on done how many bytes it wrote.
func endless(w io.Writer, flush func(), p []byte, done chan<- int64) {
	var n int64
	defer func() { done <- n }()
	for {
		k, err := w.Write(p)
		n += int64(k)
		if err != nil {
			return
		}
		flush()
	}
}

// TestEndlessBody: a body that never ends is cut at the limit, and the
// connection is dropped (the server's writes fail), so nothing more is
// downloaded.
func TestEndlessBody(t *testing.T) {
	const limit = 64 << 10
	done := make(chan int64, 1)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		endless(w, w.(http.Flusher).Flush, bytes.Repeat([]byte("<p>endless</p>"), 512), done)
	}))
	f := newFetcher(t, Options{MaxBodyBytes: limit})
	start := time.Now()
	_, err := fetch(t, f, testJob(srv.URL, nil))
	ce := asError(t, err)
	if ce.Kind != KindTooLarge || ce.Retryable {
		t.Fatalf("got %v, want a permanent %s", err, KindTooLarge)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %v", el)
	}
	if msg := err.Error(); !strings.Contains(msg, fmt.Sprint(limit)) || !strings.Contains(msg, "cut") {
		t.Errorf("message %q does not name the limit", msg)
	}
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("the server is still writing: the connection was not dropped")
	}
}

// gzipZeros writes an endless gzip stream of zeros (about 1000:1) to w.
func gzipZeros(w io.Writer, flush func(), done chan<- int64) {
	zw, _ := gzip.NewWriterLevel(w, gzip.BestCompression)
	endless(zw, func() { _ = zw.Flush(); flush() }, make([]byte, 256<<10), done)
}

// TestGzipBomb: a compressed body that inflates without end stops at the
// limit, counted on the decompressed stream, without inflating the rest.
func TestGzipBomb(t *testing.T) {
	const limit = 1 << 20
	done := make(chan int64, 1)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			t.Errorf("Accept-Encoding = %q", r.Header.Get("Accept-Encoding"))
		}
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Encoding", "gzip")
		gzipZeros(w, w.(http.Flusher).Flush, done)
	}))
	f := newFetcher(t, Options{MaxBodyBytes: limit})
	start := time.Now()
	_, err := fetch(t, f, testJob(srv.URL, nil))
	ce := asError(t, err)
	if ce.Kind != KindTooLarge || ce.Retryable || !strings.Contains(err.Error(), fmt.Sprint(limit)) {
		t.Fatalf("got %v, want a permanent %s naming the limit", err, KindTooLarge)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %v", el)
	}
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("the server is still writing: the connection was not dropped")
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestReadBodyStopsAtLimit: readBody pulls from a gzip stream only what
// inflates to the limit (plus the decoder's buffers), not the whole stream.
func TestReadBodyStopsAtLimit(t *testing.T) {
	const limit = 4 << 20
	pr, pw := io.Pipe()
	done := make(chan int64, 1)
	go gzipZeros(pw, func() {}, done)
	defer func() { pr.Close(); <-done }()
	wire := &countingReader{r: pr}
	zr, err := gzip.NewReader(wire)
	if err != nil {
		t.Fatal(err)
	}
	f := New(Options{MaxBodyBytes: limit})
	_, err = f.readBody(zr, -1, "http://x/")
	if KindOf(err) != KindTooLarge {
		t.Fatalf("got %v", err)
	}
	// Zeros compress about 1000:1: 4 MiB is about 4 KiB on the wire.
	if n := wire.n.Load(); n > 64<<10 {
		t.Errorf("read %d compressed bytes for a %d-byte limit", n, limit)
	}
}

func TestConnectTimeout(t *testing.T) {
	hang := func(ctx context.Context, network, addr string) (net.Conn, error) {
		<-ctx.Done() // a SYN nobody answers
		return nil, ctx.Err()
	}
	f := newFetcher(t, Options{ConnectTimeout: 100 * time.Millisecond, DialContext: hang})
	start := time.Now()
	_, err := fetch(t, f, testJob("http://127.0.0.1:9/", nil))
	ce := asError(t, err)
	if ce.Kind != KindTimeout || !ce.Retryable {
		t.Fatalf("got %v, want a retryable %s", err, KindTimeout)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("took %v with a 100ms connect timeout", el)
	}
	if !strings.Contains(err.Error(), "connect timeout of 100ms") {
		t.Errorf("message %q does not name the connect timeout", err)
	}
}

func TestTLSHandshakeTimeout(t *testing.T) {
	// A TCP server that accepts and never says a word.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	f := newFetcher(t, Options{TLSHandshakeTimeout: 100 * time.Millisecond})
	start := time.Now()
	_, err = fetch(t, f, testJob("https://"+ln.Addr().String()+"/", nil))
	ce := asError(t, err)
	if ce.Kind != KindTimeout || !ce.Retryable {
		t.Fatalf("got %v, want a retryable %s", err, KindTimeout)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("took %v with a 100ms TLS handshake timeout", el)
	}
	if !strings.Contains(err.Error(), "TLS handshake timeout") {
		t.Errorf("message %q does not name the TLS handshake", err)
	}
}

func TestResponseHeaderTimeout(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	f := newFetcher(t, Options{ResponseHeaderTimeout: 100 * time.Millisecond})
	start := time.Now()
	_, err := fetch(t, f, testJob(srv.URL, nil)) // the total timeout is 5s
	ce := asError(t, err)
	if ce.Kind != KindTimeout || !ce.Retryable {
		t.Fatalf("got %v, want a retryable %s", err, KindTimeout)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("took %v with a 100ms header timeout", el)
	}
	if !strings.Contains(err.Error(), "response headers") {
		t.Errorf("message %q does not say what was awaited", err)
	}
}

// TestRedirectLoop: a loop fails for good once a URL comes round a third
// time, and a chain longer than MaxRedirects once it passes the limit.
func TestRedirectLoop(t *testing.T) {
	var hits atomic.Int32
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/a":
			http.Redirect(w, r, "/b", http.StatusFound)
		case "/b":
			http.Redirect(w, r, "/a", http.StatusFound)
		default: // /hop/N → /hop/N+1, for ever
			var n int
			fmt.Sscanf(r.URL.Path, "/hop/%d", &n)
			http.Redirect(w, r, fmt.Sprintf("/hop/%d", n+1), http.StatusFound)
		}
	}))
	f := newFetcher(t, Options{}) // MaxRedirects defaults to 5
	for _, tt := range []struct {
		path     string
		requests int32
		msg      string
	}{
		{"/loop", 2, "a redirect loop"},
		{"/a", 4, "a redirect loop"},
		{"/hop/0", 6, "more than 5 redirects"},
	} {
		hits.Store(0)
		_, err := fetch(t, f, testJob(srv.URL+tt.path, nil))
		ce := asError(t, err)
		if ce.Kind != KindRedirects || ce.Retryable || Retryable(err) {
			t.Fatalf("%s: got %v, want a permanent %s", tt.path, err, KindRedirects)
		}
		if n := hits.Load(); n != tt.requests {
			t.Errorf("%s: %d requests, want %d", tt.path, n, tt.requests)
		}
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: message %q does not say %q", tt.path, err, tt.msg)
		}
	}
}

// TestHugeHeaders: response headers over the limit (here 1,000 headers of
// 900 bytes) fail the same way on every request, so the failure is
// permanent and says why, rather than a retried connection error.
func TestHugeHeaders(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := strings.Repeat("x", 900)
		for i := range 1000 {
			w.Header().Set(fmt.Sprintf("X-Filler-%d", i), v)
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<title>t</title>")
	}))
	f := newFetcher(t, Options{})
	_, err := fetch(t, f, testJob(srv.URL, nil))
	ce := asError(t, err)
	if ce.Kind != KindHeadersTooLarge || ce.Retryable {
		t.Fatalf("got %v, want a permanent %s", err, KindHeadersTooLarge)
	}
	if msg := err.Error(); !strings.Contains(msg, "response headers are larger than the 256 KiB") {
		t.Errorf("message %q does not say the headers are too large", msg)
	}
}
