// Package contendtest runs a Go contender briefly in a test, against the
// fixture site served by httptest on 127.0.0.1.
package contendtest

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cronless/cronless/bench/contend"
	"github.com/cronless/cronless/bench/fixture"
)

// Smoke runs fn over n fixture pages with concurrency c and checks every
// output line.
func Smoke(t *testing.T, fn contend.RunFunc, n, c int) contend.Summary {
	t.Helper()
	srv := httptest.NewServer(fixture.Handler(0))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	urls := make([]string, n)
	for i := range urls {
		urls[i] = fmt.Sprintf("%s/page/%d", srv.URL, i)
	}
	list := filepath.Join(dir, "urls.txt")
	if err := os.WriteFile(list, []byte(strings.Join(urls, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.jsonl")
	s, err := contend.Run(context.Background(), t.Name(), []string{"-urls", list, "-concurrency", fmt.Sprint(c), "-out", out}, fn)
	if err != nil {
		t.Fatal(err)
	}
	if s.Errors > 0 || s.Pages != int64(n) {
		t.Fatalf("summary %+v, want %d pages and no errors", s, n)
	}
	if good, err := contend.Check(out, urls); err != nil || good != n {
		t.Fatalf("%d of %d lines right: %v", good, n, err)
	}
	return s
}
