package crawl

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/job"
	"github.com/temoto/robotstxt"
)

func TestRobots(t *testing.T) {
	tests := []struct {
		name      string
		robots    func(w http.ResponseWriter, r *http.Request)
		path      string
		ua        string
		kind      Kind // "" = fetched
		retryable bool
	}{
		{name: "allowed", path: "/public", robots: robotsText("User-agent: *\nDisallow: /private\n")},
		{name: "disallowed", path: "/private/x", kind: KindRobots,
			robots: robotsText("User-agent: *\nDisallow: /private\n")},
		{name: "disallowed with query", path: "/search?q=1", kind: KindRobots,
			robots: robotsText("User-agent: *\nDisallow: /search?q=\n")},
		{name: "allow beats shorter disallow", path: "/private/ok", robots: robotsText("User-agent: *\nDisallow: /private\nAllow: /private/ok\n")},
		{name: "our group", path: "/x", ua: "cronless/1.0 (+https://example.com)", kind: KindRobots,
			robots: robotsText("User-agent: *\nAllow: /\n\nUser-agent: cronless\nDisallow: /\n")},
		{name: "compatible token", path: "/x", ua: "Mozilla/5.0 (compatible; FooBot/2.1)", kind: KindRobots,
			robots: robotsText("User-agent: foobot\nDisallow: /\n")},
		{name: "other group", path: "/x", ua: "cronless/1.0", robots: robotsText("User-agent: otherbot\nDisallow: /\n")},
		{name: "lenient parse", path: "/private", kind: KindRobots,
			robots: robotsText("Disallow: /stray\nUser-agent: *\nCrawl-delay: soon\nDisallow: /private\n")},
		{name: "404 allows all", path: "/private", robots: status(404)},
		{name: "403 allows all", path: "/private", robots: status(403)},
		{name: "500 is a retryable disallow", path: "/x", robots: status(500), kind: KindHTTP5xx, retryable: true},
		{name: "503", path: "/x", robots: status(503), kind: KindHTTP5xx, retryable: true},
		{name: "429", path: "/x", robots: status(429), kind: KindHTTP429, retryable: true},
		{name: "unreachable", path: "/x", robots: hangUp, kind: KindConnection, retryable: true},
		{name: "redirect loop allows all", path: "/x", robots: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/robots.txt", http.StatusFound)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pageHits atomic.Int32
			mux := http.NewServeMux()
			mux.HandleFunc("/robots.txt", tt.robots)
			mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
				pageHits.Add(1)
				writeHTML(w, "<title>ok</title>")
			})
			srv := newServer(t, mux)
			f := newFetcher(t, Options{})
			j := testJob(srv.URL+tt.path, nil)
			j.Robots = nil // the default: respected
			j.UserAgent = tt.ua
			_, err := fetch(t, f, j)
			if tt.kind == "" {
				if err != nil {
					t.Fatalf("Fetch: %v", err)
				}
				if pageHits.Load() != 1 {
					t.Errorf("page fetched %d times", pageHits.Load())
				}
				return
			}
			ce := asError(t, err)
			if ce.Kind != tt.kind || ce.Retryable != tt.retryable {
				t.Fatalf("got %v, want kind %s retryable %v", err, tt.kind, tt.retryable)
			}
			if pageHits.Load() != 0 {
				t.Errorf("the page was fetched despite robots.txt")
			}
			if !strings.Contains(err.Error(), "robots.txt") {
				t.Errorf("message %q does not mention robots.txt", err)
			}
		})
	}
}

func robotsText(s string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(s))
	}
}

func status(code int) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }
}

func hangUp(w http.ResponseWriter, r *http.Request) {
	if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
		conn.Close()
	}
}

func TestRobotsIgnoredAndCached(t *testing.T) {
	var robotsHits atomic.Int32
	fail := atomic.Bool{}
	mux := http.NewServeMux()
	mux.HandleFunc("/robots.txt", func(w http.ResponseWriter, r *http.Request) {
		robotsHits.Add(1)
		if fail.Load() {
			w.WriteHeader(503)
			return
		}
		_, _ = w.Write([]byte("User-agent: *\nDisallow: /private\n"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { writeHTML(w, "ok") })
	srv := newServer(t, mux)
	f := newFetcher(t, Options{})

	// Robots: false skips robots.txt entirely.
	if _, err := fetch(t, f, testJob(srv.URL+"/private", nil)); err != nil {
		t.Fatalf("robots off: %v", err)
	}
	if robotsHits.Load() != 0 {
		t.Fatalf("robots.txt fetched with robots off")
	}
	// A 5xx is not cached: the next fetch asks again.
	fail.Store(true)
	j := testJob(srv.URL+"/a", nil)
	j.Robots = nil
	for range 2 {
		if _, err := fetch(t, f, j); KindOf(err) != KindHTTP5xx {
			t.Fatalf("got %v", err)
		}
	}
	if n := robotsHits.Load(); n != 2 {
		t.Errorf("robots.txt fetched %d times after two 503s, want 2", n)
	}
	// A good robots.txt is fetched once per host.
	fail.Store(false)
	for _, p := range []string{"/a", "/b", "/private"} {
		j.URL = srv.URL + p
		_, _ = fetch(t, f, j)
	}
	if n := robotsHits.Load(); n != 3 {
		t.Errorf("robots.txt fetched %d times, want 3", n)
	}
}

func TestRobotsCacheBoundAndTTL(t *testing.T) {
	c := newRobotsCache(2, time.Hour)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	calls := 0
	get := func(key string) {
		t.Helper()
		_, err := c.get(context.Background(), key, func(context.Context) (*robotstxt.RobotsData, error) {
			calls++
			return robotsAllowAll(), nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	get("a")
	get("b")
	get("a") // hit; a is now the most recent
	get("c") // evicts b
	if calls != 3 || c.len() != 2 {
		t.Fatalf("calls=%d len=%d", calls, c.len())
	}
	get("a") // still cached
	if calls != 3 {
		t.Errorf("a was evicted instead of b")
	}
	get("b") // refetched
	if calls != 4 {
		t.Errorf("b was not evicted")
	}
	now = now.Add(2 * time.Hour)
	get("b") // expired
	if calls != 5 {
		t.Errorf("expired entry served")
	}
	// Errors are not cached.
	_, err := c.get(context.Background(), "d", func(context.Context) (*robotstxt.RobotsData, error) {
		return nil, errors.New("down")
	})
	if err == nil || c.len() != 2 {
		t.Errorf("err=%v len=%d", err, c.len())
	}
}

func TestRobotsWaiterRetriesAfterLeaderCancel(t *testing.T) {
	c := newRobotsCache(10, time.Hour)
	leaderIn := make(chan struct{})
	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.get(leaderCtx, "k", func(ctx context.Context) (*robotstxt.RobotsData, error) {
			close(leaderIn)
			<-ctx.Done()
			return nil, ctx.Err()
		})
		done <- err
	}()
	<-leaderIn
	waiter := make(chan error, 1)
	go func() {
		_, err := c.get(context.Background(), "k", func(context.Context) (*robotstxt.RobotsData, error) {
			return robotsAllowAll(), nil
		})
		waiter <- err
	}()
	time.Sleep(10 * time.Millisecond) // let the waiter queue up behind the leader
	cancelLeader()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("leader: %v", err)
	}
	if err := <-waiter; err != nil {
		t.Errorf("waiter inherited the leader's cancellation: %v", err)
	}
}

func TestRobotsAgent(t *testing.T) {
	tests := map[string]string{
		"cronless/1.0 (+https://x)":                       "cronless",
		"Mozilla/5.0 (compatible; Foobot/2.1; +http://x)": "foobot",
		"MyBot":    "mybot",
		"curl/8.0": "curl",
		"":         "",
		"/weird":   "/weird",
	}
	for in, want := range tests {
		if got := robotsAgent(in); got != want {
			t.Errorf("robotsAgent(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRobotsOnRedirect: robots.txt is checked for every redirect target,
// on the same host and on another one; a disallowed target is a permanent
// robots_disallowed, and it is never requested.
func TestRobotsOnRedirect(t *testing.T) {
	var otherPage, otherRobots atomic.Int32
	other := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			otherRobots.Add(1)
			_, _ = w.Write([]byte("User-agent: *\nDisallow: /\n"))
			return
		}
		otherPage.Add(1)
		writeHTML(w, "<title>other</title>")
	}))
	var privateHits atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/robots.txt", robotsText("User-agent: *\nDisallow: /private\n"))
	mux.HandleFunc("/to-private", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/private/x", http.StatusFound)
	})
	mux.HandleFunc("/to-other", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/page", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/to-public", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/public", http.StatusFound)
	})
	mux.HandleFunc("/private/", func(w http.ResponseWriter, r *http.Request) {
		privateHits.Add(1)
		writeHTML(w, "<title>private</title>")
	})
	mux.HandleFunc("/public", func(w http.ResponseWriter, r *http.Request) { writeHTML(w, "<title>public</title>") })
	srv := newServer(t, mux)
	f := newFetcher(t, Options{})
	respecting := func(u string) job.Job { j := testJob(u, nil); j.Robots = nil; return j }

	page, err := fetch(t, f, respecting(srv.URL+"/to-public"))
	if err != nil || page.Fields["title"] != "public" {
		t.Fatalf("allowed redirect: page=%+v err=%v", page, err)
	}
	for _, tt := range []struct{ path, target string }{
		{"/to-private", srv.URL + "/private/x"},
		{"/to-other", other.URL + "/page"},
	} {
		_, err := fetch(t, f, respecting(srv.URL+tt.path))
		ce := asError(t, err)
		if ce.Kind != KindRobots || ce.Retryable {
			t.Fatalf("%s: got %v, want a permanent %s", tt.path, err, KindRobots)
		}
		if msg := err.Error(); !strings.Contains(msg, "redirected from "+srv.URL+tt.path) || !strings.Contains(msg, "robots.txt") || ce.URL != tt.target {
			t.Errorf("%s: message %q (URL %s) should name the redirect and its target", tt.path, msg, ce.URL)
		}
	}
	if privateHits.Load() != 0 || otherPage.Load() != 0 {
		t.Errorf("disallowed targets were fetched: %d, %d", privateHits.Load(), otherPage.Load())
	}
	if otherRobots.Load() != 1 {
		t.Errorf("the other host's robots.txt was fetched %d times, want 1", otherRobots.Load())
	}
	// robots: false on the target follows the redirect anyway.
	page, err = fetch(t, f, testJob(srv.URL+"/to-private", nil))
	if err != nil || page.Fields["title"] != "private" {
		t.Errorf("robots off: page=%+v err=%v", page, err)
	}
}
