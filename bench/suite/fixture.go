package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cronless/cronless/bench/fixture"
)

// serveFixture is the fixture child: it serves the site with latency on a
// free port of 127.0.0.1, prints its URL, and serves until its stdin
// closes. GET /_stats reports the connections it accepted and the requests
// it served, so the suite can tell how many connections a contender opened.
func serveFixture(latency string) error {
	d, err := time.ParseDuration(latency)
	if err != nil {
		return err
	}
	ln, err := fixture.Listen("127.0.0.1:0")
	if err != nil {
		return err
	}
	var conns, reqs atomic.Int64
	site := fixture.Handler(d)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_stats", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(fixtureStats{Conns: conns.Load(), Requests: reqs.Load()})
	})
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqs.Add(1)
		site.ServeHTTP(w, r)
	}))
	srv := &http.Server{
		Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		},
	}
	fmt.Printf("http://%s\n", ln.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	go func() {
		<-ctx.Done()
		sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
		defer c()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

type fixtureStats struct {
	Conns    int64 `json:"conns"`
	Requests int64 `json:"requests"`
}

// fixtureProc is a running fixture child.
type fixtureProc struct {
	Base    string
	Latency time.Duration
	stop    func()
}

// startFixture starts the fixture in a child process (this binary, -serve).
func startFixture(ctx context.Context, latency time.Duration) (*fixtureProc, error) {
	cmd := exec.CommandContext(ctx, self(), "-serve", latency.String())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() {
		stdin.Close()
		_ = cmd.Wait()
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "http://127.0.0.1:") {
		stop()
		return nil, fmt.Errorf("fixture server: %q: %v", line, err)
	}
	return &fixtureProc{Base: strings.TrimSpace(line), Latency: latency, stop: stop}, nil
}

// Stats reads the fixture's counters.
func (f *fixtureProc) Stats() (fixtureStats, error) {
	var s fixtureStats
	resp, err := http.Get(f.Base + "/_stats")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// URLs writes the flat list of n pages to path.
func (f *fixtureProc) URLs(path string, n int) ([]string, error) {
	urls := make([]string, n)
	for i := range urls {
		urls[i] = fmt.Sprintf("%s/page/%d", f.Base, i)
	}
	return urls, os.WriteFile(path, []byte(strings.Join(urls, "\n")+"\n"), 0o644)
}

func self() string {
	exe, err := os.Executable()
	if err != nil {
		return os.Args[0]
	}
	return exe
}
