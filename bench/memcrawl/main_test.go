package main

import (
	"math"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/cronless/cronless/bench/fixture"
)

// TestRun crawls one page through the worker core as a function of the
// given memory: ok when its parse fits the budget, body_too_large when not.
func TestRun(t *testing.T) {
	tests := []struct {
		name       string
		functionMB int
		pageBytes  int
		ok         bool
	}{
		{name: "fits in 512 MB", functionMB: 512, pageBytes: 256 << 10, ok: true},
		{name: "no gate", functionMB: 0, pageBytes: 256 << 10, ok: true},
		{name: "too big for 128 MB", functionMB: 128, pageBytes: 2 << 20, ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
			page := fixture.DocPage(1, tc.pageBytes)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/robots.txt" {
					_, _ = w.Write([]byte(fixture.RobotsTxt))
					return
				}
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				_, _ = w.Write(page)
			}))
			t.Cleanup(srv.Close)
			mb := ""
			if tc.functionMB > 0 {
				mb = strconv.Itoa(tc.functionMB)
			}
			t.Setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", mb)
			t.Setenv("GOMEMLIMIT", "")
			s, err := run([]string{"-concurrency", "2", "-urls", srv.URL + "/doc.html"})
			if err != nil {
				t.Fatal(err)
			}
			if tc.ok {
				if s.OK != 1 || s.Failed != nil {
					t.Errorf("summary %+v, want the page ok", s)
				}
				return
			}
			if s.OK != 0 || s.Failed["body_too_large"] != 1 || !strings.Contains(s.FirstFailure, "parse budget") {
				t.Errorf("summary %+v, want the page failed as body_too_large for the parse budget", s)
			}
		})
	}
}
