package crawl

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Kind is the class of a fetch failure. Its value goes on the wire as
// job.Error.Kind, so the values never change.
type Kind string

// The kinds of fetch failure.
const (
	KindTimeout     Kind = "timeout"
	KindConnection  Kind = "connection"
	KindHTTP5xx     Kind = "http_5xx"
	KindHTTP429     Kind = "http_429"
	KindHTTP4xx     Kind = "http_4xx"
	KindRobots      Kind = "robots_disallowed"
	KindBlocked     Kind = "blocked_address"
	KindTooLarge    Kind = "body_too_large"
	KindContentType Kind = "unsupported_content_type"
	KindRequired    Kind = "required_field_missing"
	KindBadRule     Kind = "bad_rule"
	KindRedirects   Kind = "too_many_redirects"
	// KindFieldsTooLarge: the extracted fields exceed job.MaxFieldsBytes
	// even cut to nothing (their names alone). Fields that are merely too
	// large are cut and marked (Page.Truncated) instead; results stored
	// before that carry this kind for them.
	KindFieldsTooLarge Kind = "fields_too_large"
	// KindHeadersTooLarge: the response's headers exceed what the crawler
	// reads, which they do on every request.
	KindHeadersTooLarge Kind = "headers_too_large"
)

// Error is a classified fetch failure: a Kind callers switch on, whether
// retrying can help, and the details a person needs to act on it.
type Error struct {
	Kind       Kind
	Retryable  bool
	HTTPStatus int           // the status of the response that failed, if any
	RetryAfter time.Duration // from Retry-After on 429 and 503; 0 when absent
	URL        string        // the URL that failed (after redirects, or robots.txt)
	Err        error         // the cause; its text is part of the message
}

// Error returns a message a user can act on, such as
//
//	GET https://x/: 503 Service Unavailable (retryable; the server failed, it will be retried)
func (e *Error) Error() string {
	var b strings.Builder
	if e.URL != "" {
		b.WriteString("GET ")
		b.WriteString(e.URL)
		b.WriteString(": ")
	}
	if e.HTTPStatus != 0 {
		b.WriteString(strconv.Itoa(e.HTTPStatus))
		if t := http.StatusText(e.HTTPStatus); t != "" {
			b.WriteByte(' ')
			b.WriteString(t)
		}
		if e.Err != nil {
			b.WriteString(": ")
		}
	}
	switch {
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	case e.HTTPStatus == 0:
		b.WriteString(string(e.Kind))
	}
	if e.Retryable {
		b.WriteString(" (retryable; ")
	} else {
		b.WriteString(" (permanent; ")
	}
	b.WriteString(e.hint())
	b.WriteByte(')')
	return b.String()
}

func (e *Error) hint() string {
	switch e.Kind {
	case KindTimeout:
		return "the server did not answer in time, it will be retried; raise timeout_ms if the site is slow"
	case KindConnection:
		if e.Retryable {
			return "the server could not be reached, it will be retried"
		}
		return "the connection cannot succeed as configured; retrying cannot help (see why above: the URL, the site's certificate, its headers)"
	case KindHTTP5xx:
		if e.RetryAfter > 0 {
			return "the server failed, it will be retried after " + e.RetryAfter.String()
		}
		return "the server failed, it will be retried"
	case KindHTTP429:
		if e.RetryAfter > 0 {
			return "the server is rate limiting, it will be retried after " + e.RetryAfter.String()
		}
		return "the server is rate limiting, it will be retried"
	case KindHTTP4xx:
		return "the server refused the page; check the URL"
	case KindRobots:
		return "robots.txt forbids it; set robots: false on the target only if you may crawl it anyway"
	case KindBlocked:
		return "private and internal addresses are not crawled; run with --allow-private or set allow_private: true to allow them"
	case KindTooLarge:
		return "the page is larger than the worker's body or memory limit"
	case KindContentType:
		return "only HTML and text pages are crawled"
	case KindRequired:
		return "check the selector, or make the field optional"
	case KindBadRule:
		return "fix the target's definition"
	case KindRedirects:
		return "point the target at the final URL"
	case KindFieldsTooLarge:
		return "extract fewer fields"
	case KindHeadersTooLarge:
		return "the site sends the same oversized headers every time; retrying cannot help, ask its owner or drop the target"
	}
	if e.Retryable {
		return "it will be retried"
	}
	return "it will not be retried"
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether err is worth retrying: a retryable *Error, a
// deadline, a cancellation (the work was not done, through no fault of the
// target) or a network timeout.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Retryable
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// KindOf returns the Kind of err: the Kind of the *Error it wraps, KindTimeout
// for deadlines and network timeouts, and KindConnection otherwise.
func KindOf(err error) Kind {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Kind
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return KindTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return KindTimeout
	}
	return KindConnection
}

// classify turns an error of the HTTP stack into an *Error. ctx is the
// fetch's context (with the job's timeout); timeout is that timeout.
func classify(ctx context.Context, err error, rawURL string, timeout time.Duration) *Error {
	var ce *Error
	if errors.As(err, &ce) {
		if ce.URL != "" {
			return ce
		}
		c := *ce
		c.URL = rawURL
		// The dialer does not know the URL: name a redirect's target.
		var ue *url.Error
		if errors.As(err, &ue) && ue.URL != rawURL && c.Err != nil {
			c.Err = fmt.Errorf("redirected to %s: %w", ue.URL, c.Err)
		}
		return &c
	}
	switch {
	case errors.Is(context.Cause(ctx), errPageTimeout):
		// The page's own timeout (its waits for host slots not counted).
		return &Error{Kind: KindTimeout, Retryable: true, URL: rawURL,
			Err: fmt.Errorf("no complete answer within %s: %w", timeout, err)}
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		// The caller's deadline: the worker's invocation ran out.
		return &Error{Kind: KindTimeout, Retryable: true, URL: rawURL,
			Err: fmt.Errorf("the invocation ran out of time before the page was done: %w", err)}
	case errors.Is(ctx.Err(), context.Canceled) || errors.Is(err, context.Canceled):
		return &Error{Kind: KindConnection, Retryable: true, URL: rawURL,
			Err: fmt.Errorf("the fetch was canceled before it finished: %w", err)}
	}
	// A shorter timeout inside the fetch: the TLS handshake's, the
	// response headers', or another caller's context.
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return &Error{Kind: KindTimeout, Retryable: true, URL: rawURL, Err: err}
	}
	// A certificate the client rejects stays rejected: retrying cannot help.
	var (
		unknownAuth x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalid     x509.CertificateInvalidError
		verifyErr   *tls.CertificateVerificationError
	)
	if errors.As(err, &unknownAuth) || errors.As(err, &hostErr) || errors.As(err, &invalid) || errors.As(err, &verifyErr) {
		return &Error{Kind: KindConnection, URL: rawURL, Err: err}
	}
	// Headers over the limit come back the same every time. Go's transport
	// says so only in its message (HTTP/1: "server response headers
	// exceeded", HTTP/2: "response header list larger than").
	if msg := err.Error(); strings.Contains(msg, "response headers exceeded") || strings.Contains(msg, "response header list larger than") {
		return &Error{Kind: KindHeadersTooLarge, URL: rawURL,
			Err: fmt.Errorf("the server's response headers are larger than the %d KiB the crawler reads, on every request: %w", maxHeaderBytes>>10, err)}
	}
	return &Error{Kind: KindConnection, Retryable: true, URL: rawURL, Err: err}
}

// statusError classifies a non-2xx final response.
func statusError(status int, h http.Header, finalURL string, now time.Time) *Error {
	e := &Error{HTTPStatus: status, URL: finalURL}
	switch {
	case status == http.StatusTooManyRequests:
		e.Kind, e.Retryable = KindHTTP429, true
		e.RetryAfter = parseRetryAfter(h.Get("Retry-After"), now)
	case status >= 500:
		e.Kind, e.Retryable = KindHTTP5xx, true
		if status == http.StatusServiceUnavailable {
			e.RetryAfter = parseRetryAfter(h.Get("Retry-After"), now)
		}
	case status >= 400:
		e.Kind = KindHTTP4xx
	default:
		// A 3xx that could not be followed (no Location, 304, 300) or a stray 1xx.
		e.Kind = KindHTTP4xx
		e.Err = errors.New("the final response is not a page (unexpected status)")
	}
	return e
}

// maxRetryAfter caps Retry-After: a queue cannot hold a message longer than
// a day or so anyway, and a hostile value must not overflow a Duration.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date.
// It returns 0 when the value is absent, invalid or in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if strings.Trim(v, "0123456789") == "" { // delay-seconds
		secs, err := strconv.ParseUint(v, 10, 64)
		if err != nil || secs > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter // only a range error is possible
		}
		return time.Duration(secs) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	d := t.Sub(now)
	switch {
	case d <= 0:
		return 0
	case d > maxRetryAfter:
		return maxRetryAfter
	}
	// The date has a one-second resolution: round up so a client never
	// retries a fraction of a second too early.
	if r := d % time.Second; r != 0 {
		d += time.Second - r
	}
	return d
}
