// Package crawl fetches one page for a job and extracts its fields.
//
// A Fetcher is built once per process (a warm Lambda reuses it) and is safe
// for concurrent use. It owns the shared pieces: one http.Transport with
// keep-alive whose dialer refuses private and internal addresses (checked
// after DNS resolution, for every connection including redirects and
// robots.txt), a per-host limit of concurrent requests and of their pace
// (politeness, see polite.go), and a bounded robots.txt cache. Each Fetch
// builds a small colly Collector on that transport, bound to the fetch's
// context, so cancellation and the job's timeout abort the request.
//
// colly v2.3.0 notes (what this package does instead, and why):
//   - colly reads the body with io.ReadAll under a LimitReader and truncates
//     silently at MaxBodySize; a page's body is read here instead, by the
//     collector's transport (body.go), into a pooled buffer, with the limit
//     enforced on the decompressed stream as it streams (a gzip bomb or an
//     endless body stops at the limit, as KindTooLarge). colly then sees an
//     empty body.
//   - colly parses every HTML page with goquery when any OnHTML callback is
//     registered, then builds an element (and its text) per match; this
//     package registers none and parses once with x/net/html, then runs its
//     compiled rules (extract.go) on that one tree.
//   - colly decodes legacy charsets only from the Content-Type header (or,
//     with DetectCharset, by statistical guessing over the whole body); it
//     never reads <meta charset>. charset.go does header, BOM and meta.
//   - colly's robots.txt cache is unbounded, ignores the request context and
//     caches a 5xx as "disallow all" forever: robots.go replaces it.
//   - colly.NewCollector reads COLLY_* environment variables; the collector
//     is built with Init instead so nothing in a Lambda's environment
//     changes the limits.
//
// Every failure is an *Error with a Kind (the wire value of job.Error.Kind)
// and a Retryable flag the worker uses to choose between redelivery and a
// permanent failed result.
package crawl

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/gocolly/colly/v2"

	"github.com/cronless/cronless/shared/job"
)

// Options configure a Fetcher. The zero value is usable.
type Options struct {
	// AllowPrivate lifts the private-address block (local use, tests, demo).
	AllowPrivate bool
	// UserAgent is used when the job sets none (default DefaultUserAgent).
	UserAgent string
	// Timeout is the total timeout of a fetch, robots.txt and any wait for
	// a per-host slot included, when the job sets none (default 10s).
	Timeout time.Duration
	// ConnectTimeout bounds the name resolution and TCP connect of one
	// connection (default 5s).
	ConnectTimeout time.Duration
	// TLSHandshakeTimeout bounds a TLS handshake (default 5s).
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for a response's headers once
	// the request is sent (default 10s). The total Timeout still applies.
	ResponseHeaderTimeout time.Duration
	// MaxBodyBytes caps the (decompressed) body (default 5 MiB).
	MaxBodyBytes int64
	// MaxRedirects caps the redirects followed (default 5).
	MaxRedirects int
	// HostConcurrency is how many requests this Fetcher sends to one host
	// at a time (default 2; negative: no limit). robots.txt and every
	// redirect hop count.
	HostConcurrency int
	// HostDelay is the least time between the starts of two requests to
	// one host (default 0: none).
	HostDelay time.Duration
	// DialContext is the underlying dialer, called with an address that
	// passed the address check (an IP, never a name). Tests use it to
	// route fake public addresses to a loopback server.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Resolver resolves host names (default net.DefaultResolver).
	Resolver Resolver
	// MemoryBudget bounds the memory of the HTML parses running at once,
	// in bytes (0: no bound); see memory.go and MemoryBudget.
	MemoryBudget int64
}

// Page is a fetched page and its extracted fields.
//
// A page fetched with validators (job.Previous) that the server answers
// with 304 Not Modified has HTTPStatus 304, NotModified set, and nothing
// else but its URL and the validators the 304 carried: no body is read and
// nothing is extracted.
type Page struct {
	URL        string         // the final URL, after redirects
	HTTPStatus int            // the final response's status
	Fields     map[string]any // string, []string, map[string]string (og) or []any (jsonld)
	// Truncated names the fields cut so that Fields fit job.MaxFieldsBytes
	// as JSON, and how (nil when none was).
	Truncated map[string]job.Truncation
	// ContentHash is the sha256 hex of the canonical JSON of the fields as
	// extracted, before any was cut: of Fields when none was.
	ContentHash string
	BodyHash    string // sha256 hex of the body (decompressed, in UTF-8)
	Bytes       int64  // the body's length (decompressed, as received)
	// ETag and LastModified are the final response's validators (empty
	// when it sent none, or one longer than MaxValidatorBytes).
	ETag         string
	LastModified string
	// NotModified: the server answered the conditional request with 304.
	NotModified bool
}

// MaxValidatorBytes bounds the ETag and Last-Modified values a Page keeps:
// they travel in every later job and result message, which SQS limits in
// size, so a longer one is dropped (the next fetch is then unconditional).
const MaxValidatorBytes = 512

// Fetcher fetches pages. Build it with New; it is safe for concurrent use.
type Fetcher struct {
	opts      Options
	transport *http.Transport
	rt        http.RoundTripper // transport behind the per-host limits
	jobs      *hostLimiter      // pages at once and their pace, per host (start.go)
	client    *http.Client      // robots.txt; pages go through colly on rt
	robots    *robotsCache
	rules     *ruleCache
	headers   http.Header // read-only after New: colly copies them per request
	now       func() time.Time
	mem       *memGate // nil: parses are not bounded
}

// positiveOr sets *v to def unless it is above zero.
func positiveOr[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// New returns a Fetcher with opts, defaults filled in.
func New(opts Options) *Fetcher {
	if opts.UserAgent == "" {
		opts.UserAgent = DefaultUserAgent
	}
	positiveOr(&opts.Timeout, DefaultTimeout)
	positiveOr(&opts.ConnectTimeout, DefaultConnectTimeout)
	positiveOr(&opts.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout)
	positiveOr(&opts.ResponseHeaderTimeout, DefaultResponseHeaderTimeout)
	positiveOr(&opts.MaxBodyBytes, DefaultMaxBodyBytes)
	positiveOr(&opts.MaxRedirects, DefaultMaxRedirects)
	if opts.HostConcurrency == 0 {
		opts.HostConcurrency = DefaultHostConcurrency
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	dial := opts.DialContext
	if dial == nil {
		dial = (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext
	}
	guard := &guardedDialer{allowPrivate: opts.AllowPrivate, resolver: opts.Resolver, dial: dial, timeout: opts.ConnectTimeout}
	// Keep as many idle connections per host as requests may run at once
	// to it, so a busy host is not redialled (at least 16; 256 unlimited).
	idlePerHost := 256
	if opts.HostConcurrency > 0 {
		idlePerHost = max(16, opts.HostConcurrency)
	}
	f := &Fetcher{
		opts: opts,
		transport: &http.Transport{
			// No proxy, ever: a proxy would dial on our behalf and bypass
			// the address check.
			Proxy:                  nil,
			DialContext:            guard.DialContext,
			ForceAttemptHTTP2:      true, // a custom DialContext turns HTTP/2 off otherwise
			MaxIdleConns:           256,
			MaxIdleConnsPerHost:    idlePerHost,
			IdleConnTimeout:        90 * time.Second,
			TLSHandshakeTimeout:    opts.TLSHandshakeTimeout,
			ResponseHeaderTimeout:  opts.ResponseHeaderTimeout,
			ExpectContinueTimeout:  time.Second,
			MaxResponseHeaderBytes: maxHeaderBytes,
			TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		},
		robots: newRobotsCache(robotsCacheSize, robotsCacheTTL),
		rules:  newRuleCache(ruleCacheSize),
		headers: http.Header{
			"Accept": {"text/html,application/xhtml+xml;q=0.9,text/*;q=0.8,*/*;q=0.5"},
		},
		now: time.Now,
		mem: newMemGate(opts.MemoryBudget),
	}
	f.rt = f.transport
	f.jobs = newHostLimiter("page")
	if opts.HostConcurrency > 0 || opts.HostDelay > 0 {
		f.rt = &politeTransport{next: f.transport, hosts: newHostLimiter("request"),
			lim: hostLimits{max: opts.HostConcurrency, every: opts.HostDelay}}
	}
	f.client = &http.Client{Transport: f.rt, CheckRedirect: f.checkRedirect}
	return f
}

// CloseIdleConnections closes the idle keep-alive connections.
func (f *Fetcher) CloseIdleConnections() { f.transport.CloseIdleConnections() }

// Fetch fetches j.URL, honouring robots.txt unless the job opts out, and
// extracts j.Extract. On an HTTP error the Page still carries the final URL
// and status. Every error is an *Error (see Retryable and KindOf).
func (f *Fetcher) Fetch(ctx context.Context, j job.Job) (Page, error) {
	u, err := parseTargetURL(j.URL)
	if err != nil {
		return Page{}, err
	}
	rules, err := f.rules.compile(j.Extract)
	if err != nil {
		err.(*Error).URL = j.URL
		return Page{}, err
	}
	timeout := j.Timeout(f.opts.Timeout)
	host, lim := job.Host(u), f.pageLimits(j)
	release, err := f.start(ctx, host, lim, timeout)
	if err != nil {
		return Page{}, err
	}
	defer release()
	// The page's own timeout runs only while the page is worked on: waits
	// for a per-host request slot stop it (polite.go).
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	pt := startPageTimer(timeout, func() { cancel(errPageTimeout) })
	defer pt.stop()
	ctx = context.WithValue(withPageTimer(ctx, pt), jobHostKey{}, jobHost{host: host, lim: lim})
	page, err := f.fetch(ctx, u, j, rules, timeout)
	var ce *Error
	if errors.As(err, &ce) && ce.RetryAfter > 0 {
		// The server asked for a pause: the host's other pages wait too.
		f.jobs.holdOff(host, min(ce.RetryAfter, maxHoldOff))
	}
	return page, err
}

// fetch is Fetch once the page may start, with ctx carrying its timeout.
func (f *Fetcher) fetch(ctx context.Context, u *url.URL, j job.Job, rules []*rule, timeout time.Duration) (Page, error) {
	ua := j.UserAgent
	if ua == "" {
		ua = f.opts.UserAgent
	}
	robots := j.RespectsRobots()
	if robots {
		if err := f.checkRobots(ctx, u, ua, timeout); err != nil {
			return Page{}, err
		}
	}
	return f.fetchPage(ctx, u.String(), ua, robots, rules, timeout, f.conditionalHeaders(j.Previous))
}

// parseTargetURL parses a job's URL: absolute http or https, with a host
// written the way browsers read it (see canonicalHost).
func parseTargetURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return nil, &Error{Kind: KindBadRule, URL: raw,
			Err: fmt.Errorf("url %q is not an absolute http or https URL", raw)}
	}
	if err := canonicalizeURLHost(u); err != nil {
		return nil, &Error{Kind: KindBadRule, URL: raw, Err: err}
	}
	return u, nil
}

// fetchState is what one fetch's transport and colly callbacks record.
type fetchState struct {
	status      int
	finalURL    string
	header      http.Header
	mediaType   string // from Content-Type; "" when absent (the body is sniffed)
	body        *bodyBuffer
	conditional bool // the request carries validators
	notModified bool // and the final response is a 304
}

func (f *Fetcher) newCollector(ctx context.Context, ua string, st *fetchState, redirect func(*http.Request, []*http.Request) error) *colly.Collector {
	// Not colly.NewCollector: it also applies COLLY_* environment variables,
	// which could silently change limits (MAX_BODY_SIZE, robots) in a Lambda.
	c := &colly.Collector{}
	c.Init()
	c.UserAgent = ua
	c.Headers = &f.headers
	c.MaxBodySize = 0               // the body never reaches colly (see pageTransport)
	c.AllowURLRevisit = true        // no visited-URL bookkeeping per fetch
	c.IgnoreRobotsTxt = true        // robots.txt is ours (see robots.go)
	c.ParseHTTPErrorResponse = true // statuses are classified by pageTransport
	c.Context = ctx
	c.WithTransport(&pageTransport{f: f, st: st})
	c.SetRequestTimeout(0) // the context carries the job's timeout
	c.SetRedirectHandler(redirect)
	return c
}

func (f *Fetcher) fetchPage(ctx context.Context, rawURL, ua string, robots bool, rules []*rule, timeout time.Duration, hdr http.Header) (Page, error) {
	st := &fetchState{finalURL: rawURL, conditional: hdr != nil}
	defer func() { st.body.release() }()
	c := f.newCollector(ctx, ua, st, f.pageRedirect(ua, robots, timeout))
	// hdr nil: colly copies the Fetcher's shared headers (what Visit does).
	err := c.Request(http.MethodGet, rawURL, nil, nil, hdr)
	page := Page{URL: st.finalURL, HTTPStatus: st.status}
	if st.header != nil {
		page.ETag, page.LastModified = validator(st.header, "ETag"), validator(st.header, "Last-Modified")
	}
	// fail returns a failure that came with (or after) the final response
	// with that response's status, which the worker records.
	fail := func(e *Error) (Page, error) {
		if e.HTTPStatus == 0 {
			e.HTTPStatus = st.status
		}
		return page, e
	}
	switch {
	case err != nil:
		return fail(classify(ctx, err, st.finalURL, timeout))
	case st.notModified:
		page.NotModified = true
		return page, nil
	case st.body == nil:
		return fail(&Error{Kind: KindConnection, Retryable: true, URL: st.finalURL,
			Err: fmt.Errorf("no response was received")})
	}
	body := st.body.b
	if st.mediaType == "" { // no Content-Type: sniff, as browsers do
		st.mediaType = mediaType(http.DetectContentType(body))
		if !textual(st.mediaType) {
			return fail(contentTypeErr(st.finalURL, st.mediaType))
		}
	}
	isPage := isHTML(st.mediaType)
	body = toUTF8(body, st.header.Get("Content-Type"), isPage)
	page.BodyHash, page.Bytes = hashBytes(body), int64(len(st.body.b))
	if !isPage {
		// Text that is not HTML: no fields, and required ones are missing.
		if err := requiredMissing(rules, st.finalURL, st.mediaType); err != nil {
			return fail(err)
		}
		page.Fields = map[string]any{}
		page.ContentHash = hashFields(page.Fields)
		return page, nil
	}
	release, merr := f.mem.acquire(ctx, len(body), st.finalURL)
	if merr != nil {
		return fail(merr)
	}
	defer release()
	doc, err := parseHTML(body)
	if err != nil {
		// x/net/html refuses documents nested deeper than 512 elements.
		return fail(&Error{Kind: KindContentType, URL: st.finalURL,
			Err: fmt.Errorf("the HTML could not be parsed: %v", err)})
	}
	fields, ferr := extract(doc, rules, newAbsolutizer(st.finalURL, doc), st.finalURL)
	if ferr != nil {
		return fail(ferr)
	}
	// The content hash is of every field as extracted, before fitFields
	// cuts any: a change past the cut is a change (docs/aws.md).
	encoded := canonicalJSON(fields)
	page.ContentHash = hashBytes(encoded)
	truncated, ferr := fitFields(fields, len(encoded), st.finalURL)
	if ferr != nil {
		return fail(ferr)
	}
	page.Fields, page.Truncated = fields, truncated
	return page, nil
}
