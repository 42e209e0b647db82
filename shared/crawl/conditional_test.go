package crawl

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/job"
)

// validatorServer serves one page with an ETag and a Last-Modified, and
// answers a conditional request that matches either with 304, as
// net/http's ServeContent does. It records the conditional headers of
// every page request.
type validatorServer struct {
	etag    string
	lastMod time.Time

	mu   sync.Mutex
	seen []http.Header // If-None-Match and If-Modified-Since of each request
}

const conditionalPage = `<html><head><title>Widget</title></head><body><p class="price">12</p></body></html>`

func (s *validatorServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := http.Header{}
	for _, k := range []string{"If-None-Match", "If-Modified-Since"} {
		if v := r.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	s.mu.Lock()
	s.seen = append(s.seen, h)
	s.mu.Unlock()
	switch r.URL.Path {
	case "/moved":
		http.Redirect(w, r, "/page", http.StatusFound)
		return
	case "/always-304": // a broken server: 304 to an unconditional request
		w.WriteHeader(http.StatusNotModified)
		return
	case "/long-etag":
		w.Header().Set("ETag", `"`+strings.Repeat("x", MaxValidatorBytes)+`"`)
		writeHTML(w, conditionalPage)
		return
	}
	w.Header().Set("ETag", s.etag)
	w.Header().Set("Last-Modified", s.lastMod.UTC().Format(http.TimeFormat))
	notModified := false
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		notModified = inm == s.etag || inm == "*"
	} else if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !s.lastMod.Truncate(time.Second).After(t) {
			notModified = true
		}
	}
	if notModified {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeHTML(w, conditionalPage)
}

func (s *validatorServer) last() http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) == 0 {
		return nil
	}
	return s.seen[len(s.seen)-1]
}

func TestConditionalRequests(t *testing.T) {
	lastMod := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	vs := &validatorServer{etag: `"v1"`, lastMod: lastMod}
	srv := newServer(t, vs)
	f := newFetcher(t, Options{})
	lastModText := lastMod.Format(http.TimeFormat)
	// A required field the 304 never has to provide: nothing is extracted.
	rules := map[string]job.Rule{"price": {CSS: ".price", Required: true}}

	full, err := fetch(t, f, testJob(srv.URL+"/page", rules))
	if err != nil {
		t.Fatalf("unconditional fetch: %v", err)
	}
	if full.HTTPStatus != 200 || full.NotModified || full.ETag != `"v1"` || full.LastModified != lastModText ||
		full.Fields["price"] != "12" || full.ContentHash == "" {
		t.Errorf("unconditional fetch: page %+v, want 200 with the validators and fields", full)
	}
	if h := vs.last(); len(h) != 0 {
		t.Errorf("unconditional fetch sent %v, want no conditional headers", h)
	}

	tests := []struct {
		name     string
		path     string
		prev     *job.Previous
		wantSent http.Header
		want304  bool
	}{
		{"etag matches", "/page", &job.Previous{ETag: `"v1"`, ContentHash: full.ContentHash},
			http.Header{"If-None-Match": {`"v1"`}}, true},
		{"last-modified only", "/page", &job.Previous{LastModified: lastModText},
			http.Header{"If-Modified-Since": {lastModText}}, true},
		{"both", "/page", &job.Previous{ETag: `"v1"`, LastModified: lastModText},
			http.Header{"If-None-Match": {`"v1"`}, "If-Modified-Since": {lastModText}}, true},
		{"stale etag", "/page", &job.Previous{ETag: `"v0"`},
			http.Header{"If-None-Match": {`"v0"`}}, false},
		{"older last-modified", "/page", &job.Previous{LastModified: lastMod.Add(-time.Hour).Format(http.TimeFormat)},
			http.Header{"If-Modified-Since": {lastMod.Add(-time.Hour).Format(http.TimeFormat)}}, false},
		{"hash only: unconditional", "/page", &job.Previous{ContentHash: "h"}, http.Header{}, false},
		{"unsendable etag dropped", "/page", &job.Previous{ETag: "a\r\nX-Evil: 1", LastModified: lastModText},
			http.Header{"If-Modified-Since": {lastModText}}, true},
		{"through a redirect", "/moved", &job.Previous{ETag: `"v1"`},
			http.Header{"If-None-Match": {`"v1"`}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := testJob(srv.URL+tt.path, rules)
			j.Previous = tt.prev
			page, err := fetch(t, f, j)
			if err != nil {
				t.Fatalf("fetch: %v", err)
			}
			if got := vs.last(); !equalHeader(got, tt.wantSent) {
				t.Errorf("sent %v, want %v", got, tt.wantSent)
			}
			if !tt.want304 {
				if page.NotModified || page.HTTPStatus != 200 || page.ContentHash != full.ContentHash {
					t.Errorf("page %+v, want a full 200 page", page)
				}
				return
			}
			want := Page{URL: srv.URL + "/page", HTTPStatus: http.StatusNotModified, NotModified: true,
				ETag: `"v1"`, LastModified: lastModText}
			if page.URL != want.URL || page.HTTPStatus != want.HTTPStatus || !page.NotModified ||
				page.Fields != nil || page.ContentHash != "" || page.BodyHash != "" || page.Bytes != 0 ||
				page.ETag != want.ETag || page.LastModified != want.LastModified {
				t.Errorf("page %+v, want %+v (no body, no fields)", page, want)
			}
		})
	}

	t.Run("304 to an unconditional request is an error", func(t *testing.T) {
		_, err := fetch(t, f, testJob(srv.URL+"/always-304", nil))
		if ce := asError(t, err); ce.HTTPStatus != http.StatusNotModified || ce.Retryable {
			t.Errorf("error %v, want a permanent error with status 304", err)
		}
	})
	t.Run("long validator not kept", func(t *testing.T) {
		page, err := fetch(t, f, testJob(srv.URL+"/long-etag", nil))
		if err != nil {
			t.Fatal(err)
		}
		if page.ETag != "" {
			t.Errorf("ETag of %d bytes kept, want it dropped (over MaxValidatorBytes)", len(page.ETag))
		}
	})
}

func equalHeader(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range b {
		if a.Get(k) != b.Get(k) {
			return false
		}
	}
	return true
}
