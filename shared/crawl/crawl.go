// Package crawl fetches one page for a job and extracts its fields.
//
// A Fetcher is built once per process (a warm Lambda reuses it) and is safe
// for concurrent use. It owns the shared pieces: one http.Transport with
// keep-alive whose dialer refuses private and internal addresses (checked
// after DNS resolution, for every connection including redirects and
// robots.txt), and a bounded robots.txt cache. Each Fetch builds a small
// colly Collector on that transport, bound to the fetch's context, so
// cancellation and the job's timeout abort the request.
//
// Every failure is an *Error with a Kind (the wire value of job.Error.Kind)
// and a Retryable flag the worker uses to choose between redelivery and a
// permanent failed result.
package crawl

import (
	"context"
	"crypto/tls"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cronless/cronless/shared/job"
	"github.com/gocolly/colly/v2"
)

// Defaults for the zero values of Options.
const (
	DefaultUserAgent    = "cronless/1.0 (+https://github.com/cronless/cronless)"
	DefaultTimeout      = 10 * time.Second
	DefaultMaxBodyBytes = 5 << 20
	DefaultMaxRedirects = 5
)

// Options configure a Fetcher. The zero value is usable.
type Options struct {
	// AllowPrivate lifts the private-address block (local use, tests, demo).
	AllowPrivate bool
	// UserAgent is used when the job sets none (default DefaultUserAgent).
	UserAgent string
	// Timeout is the total timeout of a fetch, robots.txt included, when the
	// job sets none (default 10s).
	Timeout time.Duration
	// MaxBodyBytes caps the (decompressed) body (default 5 MiB).
	MaxBodyBytes int64
	// MaxRedirects caps the redirects followed (default 5).
	MaxRedirects int
	// DialContext is the underlying dialer, called with an address that
	// passed the address check (an IP, never a name). Tests use it to
	// route fake public addresses to a loopback server.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Resolver resolves host names (default net.DefaultResolver).
	Resolver Resolver
}

// Page is a fetched page and its extracted fields.
type Page struct {
	URL         string         // the final URL, after redirects
	HTTPStatus  int            // the final response's status
	Fields      map[string]any // string, []string, or map[string]string (og)
	ContentHash string         // sha256 hex of the canonical JSON of Fields
	BodyHash    string         // sha256 hex of the body (decompressed, in UTF-8)
	Bytes       int64          // the body's length
}

// Fetcher fetches pages. Build it with New; it is safe for concurrent use.
type Fetcher struct {
	opts      Options
	transport *http.Transport
	client    *http.Client // robots.txt; pages go through colly on the same transport
	robots    *robotsCache
	headers   http.Header // read-only after New: colly copies them per request
	now       func() time.Time
}

// New returns a Fetcher with opts, defaults filled in.
func New(opts Options) *Fetcher {
	if opts.UserAgent == "" {
		opts.UserAgent = DefaultUserAgent
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxRedirects <= 0 {
		opts.MaxRedirects = DefaultMaxRedirects
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	dial := opts.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	guard := &guardedDialer{allowPrivate: opts.AllowPrivate, resolver: opts.Resolver, dial: dial}
	f := &Fetcher{
		opts: opts,
		transport: &http.Transport{
			// No proxy, ever: a proxy would dial on our behalf and bypass
			// the address check.
			Proxy:                  nil,
			DialContext:            guard.DialContext,
			ForceAttemptHTTP2:      true, // a custom DialContext turns HTTP/2 off otherwise
			MaxIdleConns:           256,
			MaxIdleConnsPerHost:    16,
			IdleConnTimeout:        90 * time.Second,
			TLSHandshakeTimeout:    5 * time.Second,
			ExpectContinueTimeout:  time.Second,
			MaxResponseHeaderBytes: 256 << 10,
			TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		},
		robots: newRobotsCache(robotsCacheSize, robotsCacheTTL),
		headers: http.Header{
			"Accept": {"text/html,application/xhtml+xml;q=0.9,text/*;q=0.8,*/*;q=0.5"},
		},
		now: time.Now,
	}
	f.client = &http.Client{Transport: f.transport, CheckRedirect: f.checkRedirect}
	return f
}

// CloseIdleConnections closes the idle keep-alive connections.
func (f *Fetcher) CloseIdleConnections() { f.transport.CloseIdleConnections() }

// Fetch fetches j.URL, honouring robots.txt unless the job opts out, and
// extracts j.Extract. On an HTTP error the Page still carries the final URL
// and status. Every error is an *Error (see Retryable and KindOf).
func (f *Fetcher) Fetch(ctx context.Context, j job.Job) (Page, error) {
	u, err := url.Parse(j.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Page{}, &Error{Kind: KindBadRule, URL: j.URL,
			Err: fmt.Errorf("url %q is not an absolute http or https URL", j.URL)}
	}
	rules, err := compileRules(j.Extract)
	if err != nil {
		err.(*Error).URL = j.URL
		return Page{}, err
	}
	timeout := j.Timeout(f.opts.Timeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ua := j.UserAgent
	if ua == "" {
		ua = f.opts.UserAgent
	}
	if j.RespectsRobots() {
		if err := f.checkRobots(ctx, u, ua, timeout); err != nil {
			return Page{}, err
		}
	}
	// Per-host politeness (a delay or concurrency cap per host) will wait
	// here, between the robots.txt check and the request.
	return f.fetchPage(ctx, u.String(), ua, rules, timeout)
}

// fetchState collects what colly's callbacks see during one fetch. The
// callbacks run synchronously inside Visit (the collector is not Async).
type fetchState struct {
	err       *Error
	status    int
	finalURL  string
	header    http.Header
	mediaType string
	html      bool
	responded bool
	extracted bool
	fields    map[string]any
	lastErr   error // the last error colly reported to OnError
	bodyHash  string
	bytes     int64
}

func (f *Fetcher) newCollector(ctx context.Context, ua string) *colly.Collector {
	// Not colly.NewCollector: it also applies COLLY_* environment variables,
	// which could silently change limits (MAX_BODY_SIZE, robots) in a Lambda.
	c := &colly.Collector{}
	c.Init()
	c.UserAgent = ua
	c.Headers = &f.headers
	// One byte over the limit: colly truncates silently at MaxBodySize, so
	// reading limit+1 bytes is how a too-large body is told from a full one.
	c.MaxBodySize = int(f.opts.MaxBodyBytes + 1)
	c.AllowURLRevisit = true        // no visited-URL bookkeeping per fetch
	c.IgnoreRobotsTxt = true        // robots.txt is ours (see robots.go)
	c.ParseHTTPErrorResponse = true // colly treats 203-299 as errors otherwise; we classify statuses ourselves
	c.Context = ctx
	c.WithTransport(f.transport)
	c.SetRequestTimeout(0) // the context carries the job's timeout
	c.SetRedirectHandler(f.checkRedirect)
	return c
}

func (f *Fetcher) fetchPage(ctx context.Context, rawURL, ua string, rules []rule, timeout time.Duration) (Page, error) {
	st := &fetchState{finalURL: rawURL}
	c := f.newCollector(ctx, ua)
	c.OnResponseHeaders(func(r *colly.Response) {
		st.status, st.finalURL, st.header = r.StatusCode, r.Request.URL.String(), *r.Headers
		if err := f.checkHeaders(st); err != nil {
			st.err = err
			r.Request.Abort() // do not download what will be rejected
		}
	})
	c.OnResponse(func(r *colly.Response) {
		st.responded = true
		if int64(len(r.Body)) > f.opts.MaxBodyBytes {
			st.err = f.tooLarge(st.finalURL, -1)
			return
		}
		if st.mediaType == "" { // no Content-Type: sniff, as colly does
			st.mediaType = mediaType(http.DetectContentType(r.Body))
			if !textual(st.mediaType) {
				st.err = contentTypeErr(st.finalURL, st.mediaType)
				return
			}
		}
		st.html = isHTML(st.mediaType)
		st.bodyHash, st.bytes = hashBytes(r.Body), int64(len(r.Body))
	})
	// One callback on <head>, which the HTML parser always creates, and
	// extraction over the whole document from there: colly computes the
	// text of every element it hands to a callback, and the text of <html>
	// (the whole page) was a fifth of the allocations of a fetch.
	c.OnHTML("head", func(e *colly.HTMLElement) {
		if st.err != nil || st.extracted || !st.html || len(e.DOM.Nodes) == 0 {
			return
		}
		st.extracted = true
		doc := e.DOM.Nodes[0]
		for doc.Parent != nil {
			doc = doc.Parent // the document node, so selectors may name <html>
		}
		fields, err := extract(doc, rules, absolutizer(e.Request), st.finalURL)
		if err != nil {
			st.err = err.(*Error)
			return
		}
		st.fields = fields
	})

	// colly v2.3.0 reports an HTML parse error only to OnError: Visit
	// returns nil (the OnXML step overwrites it).
	c.OnError(func(_ *colly.Response, err error) { st.lastErr = err })

	err := c.Visit(rawURL)
	page := Page{URL: st.finalURL, HTTPStatus: st.status}
	switch {
	case st.err != nil:
		return page, st.err
	case err != nil:
		return page, classify(ctx, err, st.finalURL, timeout)
	case !st.responded:
		return page, &Error{Kind: KindConnection, Retryable: true, URL: st.finalURL,
			Err: fmt.Errorf("no response was received")}
	}
	if st.html && !st.extracted {
		// x/net/html refuses documents nested deeper than 512 elements.
		return page, &Error{Kind: KindContentType, URL: st.finalURL,
			Err: fmt.Errorf("the HTML could not be parsed: %v", st.lastErr)}
	}
	if !st.extracted {
		// Text that is not HTML: no fields, and required ones are missing.
		if err := requiredMissing(rules, st.finalURL, st.mediaType); err != nil {
			return page, err
		}
		st.fields = map[string]any{}
	}
	page.Fields = st.fields
	page.ContentHash = hashFields(st.fields)
	page.BodyHash = st.bodyHash
	page.Bytes = st.bytes
	return page, nil
}

// checkHeaders rejects a response on its status and headers, before its body
// is read.
func (f *Fetcher) checkHeaders(st *fetchState) *Error {
	if st.status < 200 || st.status > 299 {
		return statusError(st.status, st.header, st.finalURL, f.now())
	}
	if cl := st.header.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n > f.opts.MaxBodyBytes {
			return f.tooLarge(st.finalURL, n)
		}
	}
	// The transport decodes gzip it asked for and removes the header; any
	// Content-Encoding left is one we cannot decode (or that colly would
	// decompress without a limit).
	if ce := strings.TrimSpace(st.header.Get("Content-Encoding")); ce != "" && !strings.EqualFold(ce, "identity") {
		return &Error{Kind: KindContentType, URL: st.finalURL,
			Err: fmt.Errorf("the body has content encoding %q, which is not supported", ce)}
	}
	// colly gunzips *.xml.gz itself, with no limit on what it inflates.
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
	err := fmt.Errorf("the body is larger than the limit of %d bytes", f.opts.MaxBodyBytes)
	if n >= 0 {
		err = fmt.Errorf("the body is %d bytes, larger than the limit of %d bytes", n, f.opts.MaxBodyBytes)
	}
	return &Error{Kind: KindTooLarge, URL: u, Err: err}
}

func contentTypeErr(u, mt string) *Error {
	return &Error{Kind: KindContentType, URL: u, Err: fmt.Errorf("the page is %s, not HTML or text", mt)}
}

// checkRedirect is the http.Client's CheckRedirect, for pages and robots.txt.
// Each hop's address is checked by the dialer.
func (f *Fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > f.opts.MaxRedirects {
		return &Error{Kind: KindRedirects, URL: via[0].URL.String(),
			Err: fmt.Errorf("more than %d redirects (the last to %s)", f.opts.MaxRedirects, req.URL)}
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		e := &Error{Kind: KindHTTP4xx, URL: via[len(via)-1].URL.String(),
			Err: fmt.Errorf("redirect to %s: only http and https URLs are fetched", req.URL.Redacted())}
		if req.Response != nil {
			e.HTTPStatus = req.Response.StatusCode
		}
		return e
	}
	return nil
}

// absolutizer resolves URLs against the page's base URL: its final URL, or
// <base href> (colly has resolved it into the request's base). colly's
// AbsoluteURL parses the base again for every value with a WHATWG parser and
// turns fragment-only references into ""; this parses the base once and
// falls back to colly for what net/url rejects.
func absolutizer(r *colly.Request) func(string) string {
	var base *url.URL
	if b := r.AbsoluteURL(""); b != "" {
		base, _ = url.Parse(b)
	}
	return func(v string) string {
		if base != nil {
			if u, err := base.Parse(v); err == nil {
				return u.String()
			}
		}
		if a := r.AbsoluteURL(v); a != "" {
			return a
		}
		return v
	}
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
