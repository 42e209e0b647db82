package crawl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/net/html"
)

// pageTransport is the RoundTripper of one page fetch's collector. It
// passes redirects through (the client follows them), and for the final
// response checks the status and headers, then reads the body itself into
// a pooled buffer, enforcing the body limit on the decompressed stream as
// it arrives. colly gets the response with an empty body: it would read it
// with io.ReadAll, growing a fresh buffer per page, and cut it silently at
// its MaxBodySize.
type pageTransport struct {
	f  *Fetcher
	st *fetchState
}

func (t *pageTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.f.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if isRedirect(resp) {
		return resp, nil
	}
	st := t.st
	st.status, st.finalURL, st.header = resp.StatusCode, req.URL.String(), resp.Header
	if resp.StatusCode == http.StatusNotModified && st.conditional {
		// Unchanged since the validators were sent: there is no body to
		// read (a 304 has none), and nothing to extract.
		resp.Body.Close()
		st.notModified = true
		resp.Body, resp.ContentLength = http.NoBody, 0
		return resp, nil
	}
	if e := t.f.checkHeaders(st); e != nil {
		resp.Body.Close() // unread: the connection is dropped, nothing more is downloaded
		return nil, e
	}
	body, err := t.f.readBody(resp.Body, resp.ContentLength, st.finalURL)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	st.body = body
	resp.Body, resp.ContentLength = http.NoBody, 0
	return resp, nil
}

// isRedirect reports whether the client will follow resp (it has a
// Location to follow); anything else is a final response.
func isRedirect(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return resp.Header.Get("Location") != ""
	}
	return false
}

// bodyBuffer is a pooled page body.
type bodyBuffer struct{ b []byte }

const (
	minBodyBuffer = 32 << 10  // most pages fit, so most reads never grow
	maxPooledBody = 512 << 10 // larger buffers are left to the GC
)

var bodyPool = sync.Pool{New: func() any { return &bodyBuffer{b: make([]byte, 0, minBodyBuffer)} }}

func (b *bodyBuffer) release() {
	if b == nil || cap(b.b) > maxPooledBody {
		return
	}
	b.b = b.b[:0]
	bodyPool.Put(b)
}

// readBody reads r (already decompressed by the transport) to its end into
// a pooled buffer. It stops reading as soon as the body passes the limit:
// the rest is never downloaded, nor inflated.
func (f *Fetcher) readBody(r io.Reader, contentLength int64, u string) (*bodyBuffer, error) {
	limit := f.opts.MaxBodyBytes
	buf := bodyPool.Get().(*bodyBuffer)
	b := buf.b[:0]
	if contentLength > 0 && contentLength <= limit && int64(cap(b)) < contentLength+1 {
		b = make([]byte, 0, contentLength+1) // +1: the read that sees EOF needs room
	}
	for {
		if len(b) == cap(b) {
			// Grow (doubling), but never past limit+1: one byte over the
			// limit is how a too-large body is told from a full one.
			n := min(int64(max(2*cap(b), 4096)), limit+1)
			if n <= int64(len(b)) {
				buf.b = b
				buf.release()
				return nil, f.tooLarge(u, -1)
			}
			nb := make([]byte, len(b), n)
			copy(nb, b)
			b = nb
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > limit {
			buf.b = b
			buf.release()
			return nil, f.tooLarge(u, -1)
		}
		if errors.Is(err, io.EOF) {
			buf.b = b
			return buf, nil
		}
		if err != nil {
			buf.b = b
			buf.release()
			return nil, fmt.Errorf("reading the body: %w", err)
		}
	}
}

func parseContentLength(v string) (int64, error) {
	return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
}

// parseHTML parses a page once; extraction and the base URL work on this
// one tree.
func parseHTML(body []byte) (*html.Node, error) {
	return html.Parse(bytes.NewReader(body))
}
