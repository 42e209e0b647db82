package crawl

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// checkRedirect is the CheckRedirect of every request, pages and robots.txt:
// the redirect limit, the scheme, and the target's host written the way
// browsers read it. Each hop's address is then checked by the dialer.
func (f *Fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	// A loop ends when a URL comes round a third time: the second visit
	// is allowed, as some sites set a cookie and redirect to the same URL.
	seen := 0
	for _, v := range via {
		if v.URL.String() == req.URL.String() {
			seen++
		}
	}
	if seen >= 2 {
		return &Error{Kind: KindRedirects, URL: via[0].URL.String(),
			Err: fmt.Errorf("a redirect loop: %s is redirected to a third time, after %d redirects", req.URL.Redacted(), len(via)-1)}
	}
	if len(via) > f.opts.MaxRedirects {
		return &Error{Kind: KindRedirects, URL: via[0].URL.String(),
			Err: fmt.Errorf("more than %d redirects (the last to %s)", f.opts.MaxRedirects, req.URL.Redacted())}
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return redirectRefused(req, via, errors.New("only http and https URLs are fetched"))
	}
	if err := canonicalizeURLHost(req.URL); err != nil {
		return redirectRefused(req, via, err)
	}
	return nil
}

func redirectRefused(req *http.Request, via []*http.Request, err error) *Error {
	e := &Error{Kind: KindHTTP4xx, URL: via[len(via)-1].URL.String(),
		Err: fmt.Errorf("redirect to %s: %w", req.URL.Redacted(), err)}
	if req.Response != nil {
		e.HTTPStatus = req.Response.StatusCode
	}
	return e
}

// pageRedirect is a page fetch's CheckRedirect: checkRedirect, then the
// target's robots.txt, so a redirect cannot lead where robots.txt forbids.
func (f *Fetcher) pageRedirect(ua string, robots bool, timeout time.Duration) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if err := f.checkRedirect(req, via); err != nil {
			return err
		}
		if !robots {
			return nil
		}
		err := f.checkRobots(req.Context(), req.URL, ua, timeout)
		var ce *Error
		if errors.As(err, &ce) && ce.Kind == KindRobots {
			c := *ce
			c.Err = fmt.Errorf("redirected from %s: %w", via[len(via)-1].URL.Redacted(), ce.Err)
			return &c
		}
		return err
	}
}
