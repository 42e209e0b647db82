// Package urlfetch stands in for google.golang.org/appengine/urlfetch in
// cronless builds: it has the one function colly v2 calls, for its
// Collector.Appengine option, which cronless never uses. See ../README.md.
package urlfetch

import (
	"context"
	"errors"
	"net/http"
)

// ErrUnavailable is returned by every request of a Client: App Engine's
// URL Fetch service is not linked into cronless.
var ErrUnavailable = errors.New("urlfetch: App Engine URL Fetch is not available in cronless builds (third_party/appengine)")

// Client returns an HTTP client whose every request fails with
// ErrUnavailable. The real one sends requests through App Engine's URL
// Fetch service, which exists only on the App Engine first-generation
// runtimes.
func Client(context.Context) *http.Client {
	return &http.Client{Transport: unavailable{}}
}

type unavailable struct{}

func (unavailable) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	return nil, ErrUnavailable
}
