package crawl

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
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

// newFetcher builds a Fetcher for loopback test servers.
func newFetcher(t testing.TB, opts Options) *Fetcher {
	t.Helper()
	opts.AllowPrivate = true
	f := New(opts)
	t.Cleanup(f.CloseIdleConnections)
	return f
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return f.Fetch(ctx, j)
}

func writeHTML(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(body))
}
