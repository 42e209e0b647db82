package crawl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/job"
)

// concurrencyServer counts the requests in flight per Host name (port
// stripped) and records when each arrived.
type concurrencyServer struct {
	hold   time.Duration
	mu     sync.Mutex
	now    map[string]int
	max    map[string]int
	maxAll int
	all    int
	starts map[string][]time.Time
}

func newConcurrencyServer(hold time.Duration) *concurrencyServer {
	return &concurrencyServer{hold: hold, now: map[string]int{}, max: map[string]int{}, starts: map[string][]time.Time{}}
}

func (s *concurrencyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host, _, _ := net.SplitHostPort(r.Host)
	s.mu.Lock()
	s.now[host]++
	s.all++
	s.max[host] = max(s.max[host], s.now[host])
	s.maxAll = max(s.maxAll, s.all)
	s.starts[host] = append(s.starts[host], time.Now())
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.now[host]--
		s.all--
		s.mu.Unlock()
	}()
	select {
	case <-time.After(s.hold):
	case <-r.Context().Done():
		return
	}
	if r.URL.Path == "/robots.txt" {
		_, _ = w.Write([]byte("User-agent: *\nAllow: /\n"))
		return
	}
	writeHTML(w, "<title>ok</title>")
}

// twoHosts resolves a.test and b.test to the loopback server.
var twoHosts = stubResolver{"a.test": {"127.0.0.1"}, "b.test": {"127.0.0.1"}}

// fetchAll fetches every URL concurrently and fails the test on an error.
func fetchAll(t *testing.T, f *Fetcher, urls []string, robots bool) {
	t.Helper()
	var wg sync.WaitGroup
	for _, u := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j := testJob(u, nil)
			if robots {
				j.Robots = nil
			}
			if _, err := fetch(t, f, j); err != nil {
				t.Errorf("%s: %v", u, err)
			}
		}()
	}
	wg.Wait()
}

func hostURLs(srvURL string, hosts []string, n int) []string {
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srvURL, "http://"))
	var out []string
	for i := range n {
		for _, h := range hosts {
			out = append(out, fmt.Sprintf("http://%s:%s/p/%d", h, port, i))
		}
	}
	return out
}

func TestHostConcurrency(t *testing.T) {
	for _, tt := range []struct {
		name string
		opt  int
		want int
	}{
		{"default", 0, DefaultHostConcurrency},
		{"one", 1, 1},
		{"four", 4, 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newConcurrencyServer(30 * time.Millisecond)
			srv := newServer(t, s)
			f := newFetcher(t, Options{Resolver: twoHosts, HostConcurrency: tt.opt})
			fetchAll(t, f, hostURLs(srv.URL, []string{"a.test", "b.test"}, 8), true)
			for _, h := range []string{"a.test", "b.test"} {
				if s.max[h] != tt.want {
					t.Errorf("%s: at most %d requests at once, want %d", h, s.max[h], tt.want)
				}
			}
			// The hosts do not wait on each other.
			if s.maxAll != 2*tt.want {
				t.Errorf("at most %d requests at once over both hosts, want %d", s.maxAll, 2*tt.want)
			}
		})
	}
	t.Run("unlimited", func(t *testing.T) {
		s := newConcurrencyServer(50 * time.Millisecond)
		srv := newServer(t, s)
		f := newFetcher(t, Options{Resolver: twoHosts, HostConcurrency: -1})
		fetchAll(t, f, hostURLs(srv.URL, []string{"a.test"}, 8), false)
		if s.max["a.test"] < 5 {
			t.Errorf("at most %d requests at once with no limit", s.max["a.test"])
		}
	})
}

func TestHostDelay(t *testing.T) {
	const delay = 60 * time.Millisecond
	s := newConcurrencyServer(0)
	srv := newServer(t, s)
	f := newFetcher(t, Options{Resolver: twoHosts, HostConcurrency: 4, HostDelay: delay})
	start := time.Now()
	fetchAll(t, f, hostURLs(srv.URL, []string{"a.test", "b.test"}, 4), true) // robots.txt counts too
	el := time.Since(start)
	for _, h := range []string{"a.test", "b.test"} {
		st := s.starts[h]
		slices.SortFunc(st, func(a, b time.Time) int { return a.Compare(b) })
		if len(st) != 5 {
			t.Fatalf("%s: %d requests, want 5 (robots.txt and 4 pages)", h, len(st))
		}
		// The server sees a request a moment after the fetcher lets it go,
		// and on a busy machine that moment varies: two requests released
		// 60 ms apart may arrive 12 ms apart when the first is late. A late
		// arrival never makes a later one early, though, so each request is
		// checked against the first: the k-th arrives at least k delays
		// after it, less a little slack for the first's own lateness.
		for i := 1; i < len(st); i++ {
			if since, want := st[i].Sub(st[0]), time.Duration(i)*delay; since < want-20*time.Millisecond {
				t.Errorf("%s: request %d arrived %v after the first, want at least %v (%d × %v)", h, i, since, want, i, delay)
			}
		}
	}
	// The two hosts are paced side by side, not one after the other.
	if el > 8*delay {
		t.Errorf("took %v for 5 requests per host %v apart", el, delay)
	}
}

// TestHostSlotsReleased: every way a fetch can end gives its slot back.
func TestHostSlotsReleased(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/robots.txt", robotsText("User-agent: *\nDisallow: /private\n"))
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { writeHTML(w, "<title>ok</title>") })
	mux.HandleFunc("/404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write(make([]byte, 4096))
	})
	mux.HandleFunc("/png", func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Content-Type", "image/png") })
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/to-private", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/private", http.StatusFound) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("/required", func(w http.ResponseWriter, r *http.Request) { writeHTML(w, "<p>no h1</p>") })
	srv := newServer(t, mux)
	f := newFetcher(t, Options{HostConcurrency: 1, MaxBodyBytes: 1024})
	for _, path := range []string{"/404", "/500", "/big", "/png", "/loop", "/to-private", "/private", "/slow", "/required"} {
		j := testJob(srv.URL+path, nil)
		j.Robots = nil
		j.TimeoutMS = 200
		if path == "/required" {
			j.Extract = map[string]job.Rule{"h": {CSS: "h1", Required: true}}
		}
		if _, err := fetch(t, f, j); err == nil {
			t.Errorf("%s: no error", path)
		}
	}
	j := testJob(srv.URL+"/ok", nil)
	j.TimeoutMS = 1000
	if _, err := fetch(t, f, j); err != nil {
		t.Fatalf("after the failures: %v", err)
	}
	if n := f.rt.(*politeTransport).hosts.len(); n != 0 {
		t.Errorf("%d hosts still tracked after every fetch ended", n)
	}
}

func TestHostLimiter(t *testing.T) {
	one := hostLimits{max: 1}
	l := newHostLimiter("request")
	release, err := l.acquire(context.Background(), "a", one)
	if err != nil {
		t.Fatal(err)
	}
	// A second request waits, and gives up with its context.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := l.acquire(ctx, "a", one); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "slots of a") {
		t.Errorf("got %v", err)
	}
	// Another host does not wait.
	rb, err := l.acquire(context.Background(), "b", one)
	if err != nil {
		t.Fatal(err)
	}
	rb()
	got := make(chan struct{})
	go func() {
		r, err := l.acquire(context.Background(), "a", one)
		if err == nil {
			r()
		}
		close(got)
	}()
	time.Sleep(10 * time.Millisecond)
	release()
	<-got
	if n := l.len(); n != 0 {
		t.Errorf("%d hosts tracked when idle", n)
	}

	// With a delay, an idle host is remembered until its delay is over,
	// and swept when the map grows.
	now := time.Unix(1000, 0)
	paced := hostLimits{every: time.Second}
	l = newHostLimiter("request")
	l.now = func() time.Time { return now }
	for i := range pruneAt {
		r, err := l.acquire(context.Background(), fmt.Sprint(i), paced)
		if err != nil {
			t.Fatal(err)
		}
		r()
	}
	if n := l.len(); n != pruneAt {
		t.Fatalf("%d hosts tracked, want %d in their delay", n, pruneAt)
	}
	now = now.Add(2 * time.Second)
	r, _ := l.acquire(context.Background(), "new", paced)
	r()
	if n := l.len(); n != 1 {
		t.Errorf("%d hosts tracked after a sweep, want 1", n)
	}
}
