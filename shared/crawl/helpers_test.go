package crawl

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/job"
)

// newServer starts an httptest server on 127.0.0.1.
func newServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// newFetcher builds a Fetcher for loopback test servers. Unless the test
// brings its own, the resolver knows no names and the dialer fails the test
// on any address that is not loopback, so nothing leaves the machine even
// when the code under test is broken.
func newFetcher(t testing.TB, opts Options) *Fetcher {
	t.Helper()
	opts.AllowPrivate = true
	if opts.Resolver == nil {
		opts.Resolver = stubResolver{}
	}
	if opts.DialContext == nil {
		opts.DialContext = loopbackDialer(t)
	}
	f := New(opts)
	t.Cleanup(f.CloseIdleConnections)
	return f
}

// loopbackDialer dials loopback addresses only, and fails the test when
// asked for any other.
func loopbackDialer(t testing.TB) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil || !ap.Addr().Unmap().IsLoopback() {
			t.Errorf("dial of non-loopback address %s", addr)
			return nil, errors.New("test dialer: refusing non-loopback " + addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}

func noRobots() *bool { b := false; return &b }

// testJob is a valid job for u that ignores robots.txt.
func testJob(u string, extract map[string]job.Rule) job.Job {
	return job.Job{
		V: job.Version, RunID: "r-1", Schedule: "s", TargetID: "t-1", URL: u,
		ScheduledAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		Extract:     extract, Robots: noRobots(),
	}
}

// asError asserts err is an *Error and returns it.
func asError(t testing.TB, err error) *Error {
	t.Helper()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *crawl.Error", err, err)
	}
	return ce
}

func fetch(t testing.TB, f *Fetcher, j job.Job) (Page, error) {
	t.Helper()
	// Cancelled after a while, so a broken fetch cannot hang the test, but
	// with no deadline: a context's deadline makes a page that must wait
	// for its host hand itself back (Deferred) instead.
	ctx, cancel := context.WithCancel(context.Background())
	defer time.AfterFunc(30*time.Second, cancel).Stop()
	defer cancel()
	return f.Fetch(ctx, j)
}

func writeHTML(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(body))
}
