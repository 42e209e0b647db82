package crawl

import (
	"bufio"
	"bytes"
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/temoto/robotstxt"
)

// robots.txt is handled here rather than by colly's built-in check because
// colly's (v2.3.0) keeps an unbounded per-Collector map with no expiry,
// fetches robots.txt without the request's context (a hung robots.txt
// ignores cancellation), turns a 5xx into a cached "disallow all" forever,
// and matches groups against the whole User-Agent string. This one is shared
// by all fetches of a Fetcher, bounded (LRU) and expiring, deduplicates
// concurrent fetches of the same robots.txt, and reports 5xx/429/unreachable
// as a retryable error that is not cached.

const (
	robotsMaxBytes   = 512 << 10 // Google reads the first 500 KiB
	robotsCacheSize  = 1000
	robotsCacheTTL   = time.Hour
	robotsUnavailMsg = "robots.txt could not be read, so the site counts as disallowed for now"
)

var errRobotsUnavailable = errors.New(robotsUnavailMsg)

type robotsEntry struct {
	key     string
	data    *robotstxt.RobotsData
	expires time.Time
}

type robotsCall struct {
	done   chan struct{}
	data   *robotstxt.RobotsData
	err    error
	ctxErr bool // the leader's own context ended: waiters must try themselves
}

// robotsCache is an LRU of parsed robots.txt files keyed by origin, with a TTL.
type robotsCache struct {
	mu       sync.Mutex
	max      int
	ttl      time.Duration
	now      func() time.Time
	ll       *list.List // of *robotsEntry, most recent first
	entries  map[string]*list.Element
	inflight map[string]*robotsCall
}

func newRobotsCache(max int, ttl time.Duration) *robotsCache {
	return &robotsCache{
		max: max, ttl: ttl, now: time.Now,
		ll:       list.New(),
		entries:  make(map[string]*list.Element),
		inflight: make(map[string]*robotsCall),
	}
}

// get returns the cached robots.txt of key, or calls fetch once for all
// concurrent callers. Failed fetches are not cached.
func (c *robotsCache) get(ctx context.Context, key string, fetch func(context.Context) (*robotstxt.RobotsData, error)) (*robotstxt.RobotsData, error) {
	for {
		c.mu.Lock()
		if el, ok := c.entries[key]; ok {
			e := el.Value.(*robotsEntry)
			if c.now().Before(e.expires) {
				c.ll.MoveToFront(el)
				c.mu.Unlock()
				return e.data, nil
			}
			c.ll.Remove(el)
			delete(c.entries, key)
		}
		if call, ok := c.inflight[key]; ok {
			c.mu.Unlock()
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-call.done:
			}
			if call.ctxErr {
				continue // the leader gave up for its own reasons; try again
			}
			return call.data, call.err
		}
		call := &robotsCall{done: make(chan struct{})}
		c.inflight[key] = call
		c.mu.Unlock()

		call.data, call.err = fetch(ctx)
		call.ctxErr = call.err != nil && ctx.Err() != nil

		c.mu.Lock()
		delete(c.inflight, key)
		if call.err == nil {
			c.ll.PushFront(&robotsEntry{key: key, data: call.data, expires: c.now().Add(c.ttl)})
			c.entries[key] = c.ll.Front()
			for c.ll.Len() > c.max {
				old := c.ll.Back()
				c.ll.Remove(old)
				delete(c.entries, old.Value.(*robotsEntry).key)
			}
		}
		c.mu.Unlock()
		close(call.done)
		return call.data, call.err
	}
}

func (c *robotsCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

// checkRobots returns a *Error of KindRobots when u's robots.txt disallows
// it for ua, and a classified error when robots.txt cannot be read.
func (f *Fetcher) checkRobots(ctx context.Context, u *url.URL, ua string, timeout time.Duration) error {
	origin := strings.ToLower(u.Scheme + "://" + u.Host)
	robotsURL := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/robots.txt"}).String()
	data, err := f.robots.get(ctx, origin, func(ctx context.Context) (*robotstxt.RobotsData, error) {
		return f.fetchRobots(ctx, robotsURL, ua, timeout)
	})
	if err != nil {
		var ce *Error
		if !errors.As(err, &ce) { // a waiter's own context ended
			return classify(ctx, err, robotsURL, timeout)
		}
		return err
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	agent := robotsAgent(ua)
	if !data.TestAgent(path, agent) {
		return &Error{Kind: KindRobots, URL: u.String(),
			Err: fmt.Errorf("%s disallows %s for user agent %q", robotsURL, path, agent)}
	}
	return nil
}

func (f *Fetcher) fetchRobots(ctx context.Context, robotsURL, ua string, timeout time.Duration) (*robotstxt.RobotsData, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, robotsURL, nil)
	if err != nil {
		return nil, &Error{Kind: KindBadRule, URL: robotsURL, Err: err}
	}
	req.Header.Set("User-Agent", ua)
	req.Header.Set("Accept", "text/plain,*/*;q=0.5")
	resp, err := f.client.Do(req)
	if err != nil {
		e := classify(ctx, err, robotsURL, timeout)
		if e.Kind == KindRedirects {
			// Google: too many redirects counts as "no robots.txt".
			return robotsAllowAll(), nil
		}
		if e.Retryable {
			e.Err = fmt.Errorf("%s: %w", robotsUnavailMsg, e.Err)
		}
		return nil, e
	}
	defer resp.Body.Close()
	switch s := resp.StatusCode; {
	case s == http.StatusTooManyRequests || s >= 500:
		// Google's spec: a server error is a temporary full disallow.
		e := statusError(s, resp.Header, robotsURL, time.Now())
		e.Err = errRobotsUnavailable
		return nil, e
	case s < 200 || s >= 300:
		// 4xx: there is no robots.txt, everything is allowed. An unfollowed
		// 3xx is treated the same way.
		return robotsAllowAll(), nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, robotsMaxBytes))
	if err != nil {
		e := classify(ctx, err, robotsURL, timeout)
		e.Err = fmt.Errorf("%s: %w", robotsUnavailMsg, e.Err)
		return nil, e
	}
	return parseRobots(body), nil
}

func robotsAllowAll() *robotstxt.RobotsData {
	d, _ := robotstxt.FromStatusAndBytes(http.StatusNotFound, nil)
	return d
}

// parseRobots parses leniently, as Google does: robotstxt rejects a whole
// file for a rule before the first User-agent or a bad Crawl-delay, so such
// lines are dropped and the file parsed again. A file that still does not
// parse allows everything.
func parseRobots(body []byte) *robotstxt.RobotsData {
	if d, err := robotstxt.FromBytes(body); err == nil {
		return d
	}
	var clean bytes.Buffer
	seenAgent := false
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 4096), robotsMaxBytes)
	for sc.Scan() {
		line := sc.Text()
		key, val, _ := strings.Cut(line, ":")
		key = strings.ToLower(strings.TrimSpace(key))
		val, _, _ = strings.Cut(val, "#")
		val = strings.TrimSpace(val)
		switch key {
		case "user-agent":
			seenAgent = true
		case "allow", "disallow":
			if !seenAgent {
				continue
			}
		case "crawl-delay":
			if _, err := strconv.ParseFloat(val, 64); !seenAgent || err != nil {
				continue
			}
		}
		clean.WriteString(line)
		clean.WriteByte('\n')
	}
	if d, err := robotstxt.FromBytes(clean.Bytes()); err == nil {
		return d
	}
	return robotsAllowAll()
}

// robotsAgent is the product token robots.txt groups are matched against:
// "cronless" for "cronless/0.1 (+https://…)", "foobot" for
// "Mozilla/5.0 (compatible; Foobot/2.1; +http://…)".
func robotsAgent(ua string) string {
	s := ua
	if i := strings.Index(strings.ToLower(s), "compatible;"); i >= 0 {
		s = s[i+len("compatible;"):]
	}
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "/ ;)"); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return ua
	}
	return strings.ToLower(s)
}
