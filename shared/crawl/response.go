package crawl

import (
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/cronless/cronless/shared/job"
)

// conditionalHeaders are the request headers of a fetch with the previous
// result's validators: the Fetcher's headers plus If-None-Match and
// If-Modified-Since for the validators it has. nil (the shared headers)
// when it has none, or only ones that cannot be sent.
func (f *Fetcher) conditionalHeaders(p *job.Previous) http.Header {
	if !p.Conditional() {
		return nil
	}
	var h http.Header
	add := func(name, v string) {
		if v == "" || !httpguts.ValidHeaderFieldValue(v) {
			return
		}
		if h == nil {
			h = f.headers.Clone()
		}
		h.Set(name, v)
	}
	add("If-None-Match", p.ETag)
	add("If-Modified-Since", p.LastModified)
	return h
}

// checkHeaders rejects a final response on its status and headers, before
// its body is read.
func (f *Fetcher) checkHeaders(st *fetchState) *Error {
	if st.status < 200 || st.status > 299 {
		return statusError(st.status, st.header, st.finalURL, f.now())
	}
	if cl := st.header.Get("Content-Length"); cl != "" {
		if n, err := parseContentLength(cl); err == nil && n > f.opts.MaxBodyBytes {
			return f.tooLarge(st.finalURL, n)
		}
	}
	// The transport decodes gzip it asked for and removes the header; any
	// Content-Encoding left is one we cannot decode.
	if ce := strings.TrimSpace(st.header.Get("Content-Encoding")); ce != "" && !strings.EqualFold(ce, "identity") {
		return &Error{Kind: KindContentType, URL: st.finalURL,
			Err: fmt.Errorf("the body has content encoding %q, which is not supported", ce)}
	}
	// colly gunzips *.xml.gz itself (with no limit); such a file is not a
	// page anyway.
	if u, err := url.Parse(st.finalURL); err == nil && strings.HasSuffix(strings.ToLower(u.Path), ".xml.gz") {
		return contentTypeErr(st.finalURL, "a compressed XML file")
	}
	if ct := st.header.Get("Content-Type"); ct != "" {
		st.mediaType = mediaType(ct)
		if !textual(st.mediaType) || strings.Contains(st.mediaType, "gzip") {
			return contentTypeErr(st.finalURL, st.mediaType)
		}
	}
	return nil
}

func (f *Fetcher) tooLarge(u string, n int64) *Error {
	err := fmt.Errorf("the body is larger than the limit of %d bytes; it was cut there", f.opts.MaxBodyBytes)
	if n >= 0 {
		err = fmt.Errorf("the body is %d bytes, larger than the limit of %d bytes", n, f.opts.MaxBodyBytes)
	}
	return &Error{Kind: KindTooLarge, URL: u, Err: err}
}

func contentTypeErr(u, mt string) *Error {
	return &Error{Kind: KindContentType, URL: u, Err: fmt.Errorf("the page is %s, not HTML or text", mt)}
}

// validator is a response's ETag or Last-Modified value, "" when it is
// absent or longer than MaxValidatorBytes.
func validator(h http.Header, name string) string {
	v := strings.TrimSpace(h.Get(name))
	if len(v) > MaxValidatorBytes {
		return ""
	}
	return v
}

func mediaType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt, _, _ = strings.Cut(ct, ";")
	}
	return strings.ToLower(strings.TrimSpace(mt))
}

func isHTML(mt string) bool { return mt == "text/html" || mt == "application/xhtml+xml" }

// textual reports whether a media type is a page crawl accepts: HTML (with
// extraction) or another text format (fetched and hashed, with no fields).
func textual(mt string) bool {
	switch {
	case strings.HasPrefix(mt, "text/"),
		mt == "application/xhtml+xml", mt == "application/json", mt == "application/xml",
		mt == "application/javascript", mt == "application/ecmascript",
		strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"):
		return true
	}
	return false
}
