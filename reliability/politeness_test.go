package reliability_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/dlq"
	"github.com/cronless/cronless/shared/job"
)

// The acceptance of issue 13, run as a user runs cronless: the CLI binary,
// `cronless run`, against fixture sites on loopback addresses (127.0.0.2,
// 127.0.0.3, … are loopback too, so each is a host of its own). Each site
// measures, at the server, how many requests are in flight at once and how
// many start in each second.

// fixtureHost is a site on one loopback address.
type fixtureHost struct {
	*httptest.Server
	host string

	mu       sync.Mutex
	inFlight int
	maxAtOne int
	perSec   map[int64]int // page requests started, by Unix second (robots.txt rides on its page)
	pages    int           // page requests (not robots.txt)
}

// newSite serves h on addr (127.0.0.x), counting every request.
func newFixtureHost(t *testing.T, addr string, h http.Handler) *fixtureHost {
	t.Helper()
	ln, err := net.Listen("tcp", addr+":0")
	if err != nil {
		t.Fatalf("listen on %s (a loopback address): %v", addr, err)
	}
	s := &fixtureHost{host: addr, perSec: map[int64]int{}}
	s.Server = &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.inFlight++
		s.maxAtOne = max(s.maxAtOne, s.inFlight)
		if r.URL.Path != "/robots.txt" {
			s.pages++
			s.perSec[time.Now().Unix()]++
		}
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			s.inFlight--
			s.mu.Unlock()
		}()
		h.ServeHTTP(w, r)
	})}}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// busiestSecond is the most page requests that started in one second.
// robots.txt is not counted: each worker fetches it once per host, with its
// first page (docs/aws.md, "Politeness across the fleet"), so two workers
// starting together would otherwise count 3 in that second.
func (s *fixtureHost) busiestSecond() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	most := 0
	for _, n := range s.perSec {
		most = max(most, n)
	}
	return most
}

func (s *fixtureHost) atOnce() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxAtOne
}

// slowPages answers every page after d, like a slow but healthy site.
func slowPages(d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			http.NotFound(w, r)
			return
		}
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, "<title>%s</title><h1>ok</h1>", r.URL.Path)
	})
}

// targetsFile writes a targets file: header (schedules, defaults, hosts),
// then n targets on each site.
func targetsFile(t *testing.T, header string, n int, sites ...*fixtureHost) (path string, ids []string) {
	t.Helper()
	var b strings.Builder
	b.WriteString(header)
	b.WriteString("targets:\n")
	for si, s := range sites {
		for i := range n {
			id := fmt.Sprintf("s%d-p%02d", si, i)
			ids = append(ids, id)
			fmt.Fprintf(&b, "  - { id: %s, url: \"%s/p/%d\", schedule: tick, extract: { title: { css: title } } }\n", id, s.URL, i)
		}
	}
	path = filepath.Join(t.TempDir(), "targets.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, ids
}

// runOnce runs `cronless run --once` to its end.
func runOnce(t *testing.T, bin, targets, db string, extra ...string) string {
	t.Helper()
	args := append([]string{"run", "--once", "--targets", targets, "--db", db, "--allow-private", "--log-level", "error"}, extra...)
	cmd := exec.Command(bin, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("cronless %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// results reads every stored result of the database's runs, by target.
func results(t *testing.T, b *cliBackend) map[string]job.Result {
	t.Helper()
	ctx := context.Background()
	runs, err := b.store.Runs(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]job.Result{}
	for _, run := range runs {
		rs, err := b.store.RunResults(ctx, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			out[r.TargetID] = r
		}
	}
	return out
}

const slowHeader = `schedules:
  tick: { expression: "rate(1 hour)" }
defaults: { timeout: 5s }
`

// TestSlowHostNothingDeadLettered: 60 pages on one host, each answered
// after 1 s, with the default politeness (2 at once, 1 a second) and a
// 5 s timeout. Before issue 13, 24 of them were dead-lettered as timeouts:
// the wait for a host slot counted against each page's timeout.
func TestSlowHostNothingDeadLettered(t *testing.T) {
	t.Parallel()
	bin := buildCLI(t)
	s := newFixtureHost(t, "127.0.0.2", slowPages(time.Second))
	tf, ids := targetsFile(t, slowHeader, 60, s)
	db := filepath.Join(t.TempDir(), "local.db")
	runOnce(t, bin, tf, db)

	b := openCLIBackend(t, db)
	planned, stored, dead, lost := b.tally(t, ids)
	if planned != 60 || stored != 60 || dead != 0 || lost != 0 {
		t.Errorf("planned %d, stored %d, dead-lettered %d, lost %d; want all 60 stored", planned, stored, dead, lost)
	}
	for id, r := range results(t, b) {
		if r.Status != job.StatusOK {
			t.Errorf("%s: %s %v, want ok", id, r.Status, r.Error)
		}
	}
	if n := s.atOnce(); n > 2 {
		t.Errorf("the site saw %d requests at once, want at most 2", n)
	}
	if n := s.busiestSecond(); n > 2 {
		t.Errorf("the site saw %d page requests start in one second, want at most 2 (1 a second, +1 for rounding)", n)
	}
}

// TestTwoWorkersShareTheRate: the same with two processes on one database,
// as two workers on AWS: one plans and crawls (run --once), the other only
// crawls (run, whose hourly schedule does not fire before the end). The
// rate is the fleet's: the site sees at most 1 a second (+1 for rounding).
func TestTwoWorkersShareTheRate(t *testing.T) {
	t.Parallel()
	bin := buildCLI(t)
	s := newFixtureHost(t, "127.0.0.3", slowPages(time.Second))
	tf, ids := targetsFile(t, slowHeader, 60, s)
	db := filepath.Join(t.TempDir(), "local.db")

	second := exec.Command(bin, "run", "--targets", tf, "--db", db, "--allow-private", "--log-level", "error")
	var out strings.Builder
	second.Stdout, second.Stderr = &out, &out
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = second.Process.Kill() // our own process, by PID
		_ = second.Wait()
	}()
	runOnce(t, bin, tf, db)

	b := openCLIBackend(t, db)
	planned, stored, dead, lost := b.tally(t, ids)
	if planned != 60 || stored != 60 || dead != 0 || lost != 0 {
		t.Errorf("planned %d, stored %d, dead-lettered %d, lost %d; want all 60 stored", planned, stored, dead, lost)
	}
	if n := s.busiestSecond(); n > 2 {
		t.Errorf("the site saw %d page requests start in one second from two workers, want at most 2", n)
	}
	if n := s.atOnce(); n > 4 {
		t.Errorf("the site saw %d requests at once, want at most 2 per worker", n)
	}
	if second.ProcessState != nil {
		t.Fatalf("the second worker ended early:\n%s", out.String())
	}
}

// TestSlowHostDoesNotSlowOthers: one tick with a slow host (60 pages of
// 1 s at 1 a second) and 200 fast pages on ten other hosts (10 a second
// each, set in hosts:). The fast hosts finish at their own pace, long
// before the slow one.
func TestSlowHostDoesNotSlowOthers(t *testing.T) {
	t.Parallel()
	bin := buildCLI(t)
	slow := newFixtureHost(t, "127.0.0.4", slowPages(time.Second))
	var fast []*fixtureHost
	var hosts strings.Builder
	hosts.WriteString("hosts:\n")
	for i := range 10 {
		s := newFixtureHost(t, fmt.Sprintf("127.0.0.%d", 10+i), slowPages(0))
		fast = append(fast, s)
		fmt.Fprintf(&hosts, "  %s: { rate: 10/s }\n", s.host)
	}
	header := slowHeader + hosts.String()
	// 60 slow pages, then 20 on each fast host.
	var b strings.Builder
	b.WriteString(header + "targets:\n")
	for i := range 60 {
		fmt.Fprintf(&b, "  - { id: slow-%02d, url: \"%s/p/%d\", schedule: tick }\n", i, slow.URL, i)
	}
	for si, s := range fast {
		for i := range 20 {
			fmt.Fprintf(&b, "  - { id: fast%d-%02d, url: \"%s/p/%d\", schedule: tick }\n", si, i, s.URL, i)
		}
	}
	tf := filepath.Join(t.TempDir(), "targets.yaml")
	if err := os.WriteFile(tf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "local.db")
	runOnce(t, bin, tf, db)

	var lastFast, lastSlow, first time.Time
	for id, r := range results(t, openCLIBackend(t, db)) {
		if r.Status != job.StatusOK {
			t.Errorf("%s: %s %v, want ok", id, r.Status, r.Error)
		}
		if first.IsZero() || r.FetchedAt.Before(first) {
			first = r.FetchedAt
		}
		if strings.HasPrefix(id, "fast") && r.FetchedAt.After(lastFast) {
			lastFast = r.FetchedAt
		}
		if strings.HasPrefix(id, "slow") && r.FetchedAt.After(lastSlow) {
			lastSlow = r.FetchedAt
		}
	}
	// Paced alone, the fast hosts take 2 s (20 at 10 a second), the slow
	// one about 60 s; allow the fast ones ample slack, well short of that.
	if fastTook, slowTook := lastFast.Sub(first), lastSlow.Sub(first); fastTook > 20*time.Second || slowTook < 50*time.Second {
		t.Errorf("the fast hosts' pages were done %s after the first, the slow host's %s; want the fast ones at their own pace (about 2 s), the slow one at 1 a second (about 60 s)", fastTook, slowTook)
	}
	for _, s := range fast {
		if n := s.busiestSecond(); n > 11 {
			t.Errorf("%s saw %d page requests start in one second, want at most 11 (10 a second, +1)", s.host, n)
		}
	}
}

// TestHostileHost: a host with a redirect loop, chains of 4 and 7 hops,
// an endless body, a body that stalls and huge headers, all at once, with
// ordinary pages among them. Each gets its own right answer; none is
// dead-lettered for waiting behind the others.
func TestHostileHost(t *testing.T) {
	t.Parallel()
	bin := buildCLI(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/chain/{n}", func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscan(r.PathValue("n"), &n)
		if n == 0 {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<title>end of the chain</title>")
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/chain/%d", n-1), http.StatusFound)
	})
	mux.HandleFunc("/endless", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		chunk := []byte(strings.Repeat("<p>again</p>", 1000))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/stall", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<title>stalling")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		v := strings.Repeat("x", 900)
		for i := range 1000 {
			w.Header().Set(fmt.Sprintf("X-Filler-%d", i), v)
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<title>t</title>")
	})
	mux.Handle("/p/", slowPages(500*time.Millisecond))
	s := newFixtureHost(t, "127.0.0.5", mux)

	var b strings.Builder
	b.WriteString(`schedules:
  tick: { expression: "rate(1 hour)" }
defaults: { timeout: 5s }
targets:
`)
	want := map[string]string{ // target → "ok" or the error kind
		"chain4": "ok", "loop": "too_many_redirects", "chain7": "too_many_redirects",
		"headers": "headers_too_large", "endless": "body_too_large", "stall": "timeout",
	}
	paths := map[string]string{"chain4": "/chain/4", "chain7": "/chain/7", "loop": "/loop", "headers": "/headers", "endless": "/endless", "stall": "/stall"}
	for id, p := range paths {
		fmt.Fprintf(&b, "  - { id: %s, url: \"%s%s\", schedule: tick }\n", id, s.URL, p)
	}
	for i := range 10 {
		id := fmt.Sprintf("page%d", i)
		want[id] = "ok"
		fmt.Fprintf(&b, "  - { id: %s, url: \"%s/p/%d\", schedule: tick }\n", id, s.URL, i)
	}
	tf := filepath.Join(t.TempDir(), "targets.yaml")
	if err := os.WriteFile(tf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "local.db")
	runOnce(t, bin, tf, db, "--max-receives", "2")

	be := openCLIBackend(t, db)
	got := map[string]string{}
	for id, r := range results(t, be) {
		got[id] = string(r.Status)
		if r.Error != nil {
			got[id] = r.Error.Kind
		}
	}
	// A page that fails for good has a failed result; one that keeps
	// timing out is dead-lettered after its receives, with its last error.
	letters, err := dlq.List(context.Background(), be.jobsDLQ, dlq.Options{Visibility: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range letters {
		if _, ok := got[l.TargetID]; ok {
			t.Errorf("%s has a result and a dead letter", l.TargetID)
		}
		got[l.TargetID] = "dead-lettered"
		if l.TargetID != "stall" {
			t.Errorf("%s was dead-lettered; only the stalling page may be", l.TargetID)
		}
	}
	if got["stall"] == "dead-lettered" {
		got["stall"] = "timeout" // checked below, by its attempts
		if kind := lastAttemptKind(t, be, "stall"); kind != "timeout" {
			t.Errorf("the stalling page was dead-lettered after a %q attempt, want timeout", kind)
		}
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: %q, want %q", id, got[id], w)
		}
	}
	if n := s.atOnce(); n > 2 {
		t.Errorf("the host saw %d requests at once, want at most 2", n)
	}
}

// lastAttemptKind is the error kind of a target's latest failed attempt.
func lastAttemptKind(t *testing.T, b *cliBackend, target string) string {
	t.Helper()
	runs, err := b.store.Runs(context.Background(), 1)
	if err != nil || len(runs) == 0 {
		t.Fatalf("runs: %v", err)
	}
	as, err := b.store.Attempts(context.Background(), runs[0].ID, target)
	if err != nil || len(as) == 0 {
		t.Fatalf("attempts of %s: %v (%d)", target, err, len(as))
	}
	return as[len(as)-1].Error.Kind
}
