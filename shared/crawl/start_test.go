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
	s := newConcurrencyServer(700 * time.Millisecond)
	srv := newServer(t, s)
	f := newFetcher(t, Options{Resolver: twoHosts, HostConcurrency: 1})
	urls := hostURLs(srv.URL, []string{"a.test"}, 3)
	// The invocation ends in 5 s; each page has a 1 s timeout, so a page
	// may wait until 5 - 1 - StartReserve = 1 s from now. Each page takes
	// 700 ms, one at a time: the first starts at once, the second after
	// 700 ms, the third would start after 1.4 s and is deferred.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
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
	for i, err := range errs[:2] {
		if err != nil {
			t.Errorf("page %d: %v, want ok", i, err)
		}
	}
	var d *Deferred
	if !errors.As(errs[2], &d) || d.Host != "a.test" || d.After < MinDeferral {
		t.Errorf("page 2: %v (%T), want a *Deferred for a.test of at least %s", errs[2], errs[2], MinDeferral)
	}
	if n := len(s.starts["a.test"]); n != 2 {
		t.Errorf("the host saw %d requests, want 2: a deferred page sends nothing", n)
	}

	// An invocation shorter than the page's timeout: a page may wait for
	// half of what is left, then runs on the rest.
	short, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	for i, u := range hostURLs(srv.URL, []string{"b.test"}, 3) {
		wg.Go(func() {
			j := testJob(u, nil)
			j.TimeoutMS = 10000
			_, errs[i] = f.Fetch(short, j)
		})
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	for i, err := range errs[:2] {
		if err != nil {
			t.Errorf("short invocation, page %d: %v, want ok (it waited %d ms of the 1 s it may)", i, err, 700*i)
		}
	}
	if !errors.As(errs[2], &d) {
		t.Errorf("short invocation, page 2: %v, want a *Deferred", errs[2])
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
