package crawl

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestWaitingIsNotTimingOut: eight pages of one host that each take 150 ms,
// one at a time, with a timeout of 300 ms each. Together they take 1.2 s,
// but each page's own time is 150 ms: the wait for the host's slot is not
// part of its timeout (issue 13: 24 of 60 slow pages were dead-lettered as
// timeouts for it).
func TestWaitingIsNotTimingOut(t *testing.T) {
	s := newConcurrencyServer(150 * time.Millisecond)
	srv := newServer(t, s)
	f := newFetcher(t, Options{Resolver: twoHosts, HostConcurrency: 1})
	var wg sync.WaitGroup
	for _, u := range hostURLs(srv.URL, []string{"a.test"}, 8) {
		wg.Go(func() {
			j := testJob(u, nil)
			j.TimeoutMS = 300
			if _, err := fetch(t, f, j); err != nil {
				t.Errorf("%s: %v", u, err)
			}
		})
	}
	wg.Wait()
	if s.max["a.test"] != 1 {
		t.Errorf("%d requests at once, want 1", s.max["a.test"])
	}
}

// TestDeferred: with a deadline on the context (a Lambda invocation's), a
// page that would have to wait past the last moment its whole timeout fits
// is not started and not failed: Fetch returns a *Deferred, and nothing is
// sent to the host. A page whose turn is now starts whatever is left.
func TestDeferred(t *testing.T) {
	s := newConcurrencyServer(400 * time.Millisecond)
	srv := newServer(t, s)
	f := newFetcher(t, Options{Resolver: twoHosts, HostConcurrency: 1})
	urls := hostURLs(srv.URL, []string{"a.test"}, 3)
	// The invocation ends in 1.5 s; each page has a 1 s timeout, so only a
	// page that starts within 1.5 - 1 - StartReserve (< 0) may wait: the
	// first starts at once, the other two are deferred.
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	errs := make([]error, len(urls))
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Go(func() {
			j := testJob(u, nil)
			j.TimeoutMS = 1000
			_, errs[i] = f.Fetch(ctx, j)
		})
		time.Sleep(20 * time.Millisecond) // in order
	}
	wg.Wait()
	if errs[0] != nil {
		t.Errorf("the first page: %v, want ok", errs[0])
	}
	for i, err := range errs[1:] {
		var d *Deferred
		if !errors.As(err, &d) || d.Host != "a.test" || d.After < MinDeferral {
			t.Errorf("page %d: %v (%T), want a *Deferred for a.test of at least %s", i+1, err, err, MinDeferral)
		}
	}
	if n := len(s.starts["a.test"]); n != 1 {
		t.Errorf("the host saw %d requests, want 1: a deferred page sends nothing", n)
	}
}

// TestRetryAfterHoldsTheHost: a 429 with Retry-After keeps the host's next
// pages in this Fetcher from starting before it; one that cannot wait that
// long is deferred by about the Retry-After.
func TestRetryAfterHoldsTheHost(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/limited" {
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		writeHTML(w, "<title>ok</title>")
	}))
	f := newFetcher(t, Options{})
	if _, err := fetch(t, f, testJob(srv.URL+"/limited", nil)); KindOf(err) != KindHTTP429 {
		t.Fatalf("got %v, want %s", err, KindHTTP429)
	}
	// 12 s left: less than the default 10 s timeout and StartReserve, so
	// the page may not wait at all.
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Second)
	defer cancel()
	_, err := f.Fetch(ctx, testJob(srv.URL+"/ok", nil))
	var d *Deferred
	if !errors.As(err, &d) || d.After < 110*time.Second || d.After > 121*time.Second {
		t.Fatalf("the next page: %v, want a *Deferred of about 120 s", err)
	}
}

// TestPageTimerPauses: the page timer fires after its running time only.
func TestPageTimerPauses(t *testing.T) {
	fired := make(chan time.Time, 1)
	start := time.Now()
	pt := startPageTimer(100*time.Millisecond, func() { fired <- time.Now() })
	defer pt.stop()
	time.Sleep(50 * time.Millisecond)
	pt.pause()
	pt.pause() // nested
	time.Sleep(150 * time.Millisecond)
	pt.resume()
	select {
	case <-fired:
		t.Fatal("fired while paused")
	default:
	}
	pt.resume()
	at := <-fired
	if el := at.Sub(start); el < 240*time.Millisecond {
		t.Errorf("fired after %s, want 100 ms of running time plus the 150 ms pause", el)
	}
	var nilTimer *pageTimer
	nilTimer.pause() // a fetch without a timer (robots.txt alone) pauses nothing
	nilTimer.resume()
}
