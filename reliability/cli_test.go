package reliability_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cronless/cronless/reliability"
	"github.com/cronless/cronless/shared/dlq"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/queue/localq"
	"github.com/cronless/cronless/shared/sqlite"
	"github.com/cronless/cronless/shared/standin"
	"github.com/cronless/cronless/shared/store/localstore"
)

// cli is the cronless binary, built once for the whole package (see
// buildCLI) into a temporary directory TestMain removes.
var cli struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// buildCLI builds the cronless binary once (with the race detector when the
// test has it, so the build reuses the test's compiled packages).
func buildCLI(t *testing.T) string {
	t.Helper()
	cli.once.Do(func() {
		if cli.dir, cli.err = os.MkdirTemp("", "cronless-reliability-"); cli.err != nil {
			return
		}
		cli.bin = filepath.Join(cli.dir, "cronless")
		args := []string{"build", "-o", cli.bin}
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "-race" && s.Value == "true" {
					args = append(args, "-race")
				}
			}
		}
		cmd := exec.Command("go", append(args, "./cmd/cronless")...)
		cmd.Dir = standin.Root()
		if out, err := cmd.CombinedOutput(); err != nil {
			cli.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if cli.err != nil {
		t.Fatal(cli.err)
	}
	return cli.bin
}

// cliBackend opens the local backend a CLI process wrote, to check it.
type cliBackend struct {
	store                                     *localstore.Store
	ticks, jobs, jobsDLQ, results, resultsDLQ queue.Queue
}

func openCLIBackend(t *testing.T, path string) *cliBackend {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	qb, err := localq.New(db)
	if err != nil {
		t.Fatal(err)
	}
	b := &cliBackend{}
	for _, q := range []struct {
		dst  *queue.Queue
		name string
	}{{&b.ticks, "cronless-ticks"}, {&b.jobs, "cronless-targets"}, {&b.jobsDLQ, "cronless-targets-dlq"}, {&b.results, "cronless-results"}, {&b.resultsDLQ, "cronless-results-dlq"}} {
		lq, err := qb.Queue(ctx, q.name)
		if err != nil {
			t.Fatal(err)
		}
		*q.dst = lq
	}
	if b.store, err = localstore.New(ctx, db); err != nil {
		t.Fatal(err)
	}
	return b
}

// cliTally checks that every run in the backend is complete: each planned
// (run, target) a stored result or a dead letter, counters equal to the
// results. It returns planned, stored, dead-lettered pairs and lost.
func (b *cliBackend) tally(t *testing.T, ids []string) (planned, stored, dead, lost int) {
	t.Helper()
	ctx := context.Background()
	runs, err := b.store.Runs(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	deadSet := map[string]bool{}
	for _, q := range []queue.Queue{b.jobsDLQ, b.resultsDLQ} {
		ls, err := dlq.List(ctx, q, dlq.Options{Visibility: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ls {
			deadSet[l.RunID+"/"+l.TargetID] = true
		}
	}
	for _, run := range runs {
		res, err := b.store.RunResults(ctx, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, r := range res {
			got[r.TargetID] = true
		}
		if run.Done() != len(res) || len(got) != len(res) {
			t.Errorf("double counting: run %s counts %d, %d results stored (%d distinct)", run.ID, run.Done(), len(res), len(got))
		}
		if run.Planned != len(ids) {
			t.Errorf("run %s planned %d, want %d", run.ID, run.Planned, len(ids))
		}
		for _, id := range ids {
			planned++
			switch {
			case got[id]:
				stored++
			case deadSet[run.ID+"/"+id]:
				dead++
			default:
				lost++
				t.Errorf("lost: run %s target %s is neither a result nor a dead letter", run.ID, id)
			}
		}
	}
	for _, q := range []queue.Queue{b.ticks, b.jobs, b.results} {
		if d := depth(t, q); d.Total() != 0 {
			t.Errorf("%s holds %+v after the run", q.Name(), d)
		}
	}
	return planned, stored, dead, lost
}

// killAfter starts cmd and kills it with SIGKILL once until() holds (or
// the limit passes); it reports whether the process had already ended by
// itself.
func killAfter(t *testing.T, cmd *exec.Cmd, until func() bool, limit time.Duration) (exited bool) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	for end := time.Now().Add(limit); time.Now().Before(end) && !until(); {
		select {
		case <-done:
			return true
		case <-time.After(2 * time.Millisecond):
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL) // no deferred cleanup runs
	<-done
	return false
}

// nextSecond sleeps until just after the next whole second.
func nextSecond() {
	now := time.Now()
	time.Sleep(now.Truncate(time.Second).Add(time.Second + 10*time.Millisecond).Sub(now))
}

// killRuns starts the CLI with args up to size.kills times, each in a new
// second (so that each start plans its own run: the run ID is the tick's
// second), and kills it with SIGKILL once after pages() more pages were
// served; it returns how many starts it killed (a start that ends by
// itself first ends the loop).
func killRuns(t *testing.T, bin string, args []string, s *site, pages func() int) (kills int) {
	t.Helper()
	for range size.kills {
		before, k := s.pageHits(), pages()
		nextSecond()
		cmd := exec.Command(bin, args...)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if killAfter(t, cmd, func() bool { return s.pageHits()-before >= k }, 30*time.Second) {
			t.Logf("run finished before its kill: %s", out.String())
			break
		}
		kills++
		t.Logf("kill %d after %d pages", kills, s.pageHits()-before)
	}
	return kills
}

// restart runs the CLI to its end (in a new second, so that it plans its
// own run) after a kill, and returns its peak RSS.
func restart(t *testing.T, bin string, args ...string) (rss uint64) {
	t.Helper()
	nextSecond()
	cmd := exec.Command(bin, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("the restarted run failed: %v\n%s", err, out.String())
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = uint64(ru.Maxrss) << 10
	}
	return rss
}

// TestRunSurvivesSIGKILL kills `cronless run --once` with SIGKILL at random
// points of the drain and restarts it on the same database: every run
// (the killed ones too) completes, nothing is counted twice.
func TestRunSurvivesSIGKILL(t *testing.T) {
	quickParallel(t)
	bin := buildCLI(t)
	d := newDice(seed(t))
	n := 30
	if full {
		n = 120
	}
	s := newSite(t, 25*time.Millisecond)
	ids := targetIDs(n)
	dir := t.TempDir()
	tfile, db := filepath.Join(dir, "targets.yaml"), filepath.Join(dir, "local.db")
	if err := os.WriteFile(tfile, []byte(targetsYAML(s.URL, ids)), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "--once", "--db", db, "--targets", tfile, "--allow-private", "--visibility-timeout", "1s",
		"--function-timeout", "1s", "--retry-delay", "0s", "--concurrency", "2", "--host-concurrency", "4", "--log-level", "error"}
	start := time.Now()
	// Kill once between the first page and half of the pages since this
	// start were served: the planner sends a tick's jobs while the workers
	// already crawl the first ones, so the early kills land in the middle
	// of the planning (the tick is then planned again by the next start).
	kills := killRuns(t, bin, args, s, func() int { return 1 + d.intN(n/2) })
	rss := restart(t, bin, args...)
	b := openCLIBackend(t, db)
	planned, stored, dead, lost := b.tally(t, ids)
	runs := planned / n
	t.Logf("%d kills, %d runs: planned %d, stored %d, dead %d, lost %d; %d pages crawled", kills, runs, planned, stored, dead, lost, s.pageHits())
	if stored != planned {
		t.Errorf("%d of %d planned pairs stored; want all (no target fails)", stored, planned)
	}
	figures.Add(reliability.Row{Class: "6 cronless run SIGKILLed and restarted", Backend: "local (CLI)", Planned: planned, Stored: stored,
		DeadLettered: dead, Duplicates: s.pageHits() - stored, Faults: kills, Lost: lost, PeakRSS: rss, Took: time.Since(start),
		Note: fmt.Sprintf("%d targets; SIGKILL at random points of the planning and the drain, %d times, then a restart that runs to the end on the same database: all %d runs (one per start: the killed runs are finished by the restart's drain) complete. Duplicates: pages crawled again after a kill. Peak RSS: the last CLI process.", n, kills, runs)})
}

// TestRunKilledWhilePlanning kills `cronless run --once` with SIGKILL while
// its planner is still sending the tick's jobs, then restarts it: the
// killed tick waits in the ticks queue, the restart plans that run again as
// the same run, and both runs complete. (Regression: locally a tick killed
// mid-planning was lost and its run stayed half-planned; on AWS Lambda
// retries it.)
func TestRunKilledWhilePlanning(t *testing.T) {
	quickParallel(t)
	bin := buildCLI(t)
	n := 200 // 20 batches of jobs: a planning long enough to be killed in
	if full {
		n = 1000
	}
	s := newSite(t, 0)
	ids := targetIDs(n)
	dir := t.TempDir()
	tfile := filepath.Join(dir, "targets.yaml")
	if err := os.WriteFile(tfile, []byte(targetsYAML(s.URL, ids)), 0o644); err != nil {
		t.Fatal(err)
	}
	args := func(db string) []string {
		return []string{"run", "--once", "--db", db, "--targets", tfile, "--allow-private", "--visibility-timeout", "2s",
			"--function-timeout", "2s", "--retry-delay", "0s", "--log-level", "error"}
	}
	start := time.Now()
	// Kill as soon as the first page is served: the workers crawl the first
	// jobs while the planner still sends the rest. A kill that came after
	// the whole tick was sent is tried again on a fresh database.
	var db string
	kills, sent := 0, n
	for try := 0; try < 8 && sent == n; try++ {
		db = filepath.Join(dir, fmt.Sprintf("local-%d.db", try))
		before := s.pageHits()
		cmd := exec.Command(bin, args(db)...)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if killAfter(t, cmd, func() bool { return s.pageHits() > before }, 30*time.Second) {
			t.Fatalf("run finished before its kill: %s", out.String())
		}
		kills++
		sent = sentJobs(t, db)
		t.Logf("kill %d: %d of %d jobs of the run sent", kills, sent, n)
	}
	if sent == n {
		t.Fatalf("none of %d kills landed while the planner was sending", kills)
	}
	rss := restart(t, bin, args(db)...)
	b := openCLIBackend(t, db)
	planned, stored, dead, lost := b.tally(t, ids)
	if want := 2 * n; planned != want {
		t.Errorf("%d pairs planned, want %d: the killed run and the restart's", planned, want)
	}
	if stored != planned {
		t.Errorf("%d of %d planned pairs stored; want all (no target fails)", stored, planned)
	}
	figures.Add(reliability.Row{Class: "6 cronless run SIGKILLed while planning", Backend: "local (CLI)", Planned: planned, Stored: stored,
		DeadLettered: dead, Duplicates: s.pageHits() - stored, Faults: kills, Lost: lost, PeakRSS: rss, Took: time.Since(start),
		Note: fmt.Sprintf("%d targets; SIGKILL at the first page served, while the planner was still sending the tick's jobs (%d of %d jobs sent; %d tries), then a restart on that database: the killed tick waits in the ticks queue and is planned again as the same run.", n, sent, n, kills)})
}

// sentJobs counts the jobs of the backend's only run that were sent: in a
// queue, dead-lettered or with a stored result (a job whose result is
// stored or on its way may count twice: never fewer than were sent).
func sentJobs(t *testing.T, path string) int {
	t.Helper()
	b := openCLIBackend(t, path)
	ctx := context.Background()
	runs, err := b.store.Runs(ctx, 1)
	if err != nil || len(runs) == 0 {
		t.Fatalf("the killed start recorded no run (%v)", err)
	}
	res, err := b.store.RunResults(ctx, runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	sent := len(res)
	for _, q := range []queue.Queue{b.jobs, b.jobsDLQ, b.results, b.resultsDLQ} {
		sent += depth(t, q).Total()
	}
	return sent
}

// TestDLQReplaySurvivesSIGKILL dead-letters a run's jobs, then kills
// `cronless dlq replay` with SIGKILL at random points, replays the rest and
// drains: every dead-lettered job becomes a result, once. (The kill test of
// the command itself, on both backends and with a consumer running, is
// TestDLQReplaySurvivesKill in cmd/cronless; this one adds the end-to-end
// figures.)
func TestDLQReplaySurvivesSIGKILL(t *testing.T) {
	quickParallel(t)
	bin := buildCLI(t)
	d := newDice(seed(t))
	n := 20
	if full {
		n = 100
	}
	s := newSite(t, 0)
	ids := targetIDs(n)
	s.fail(ids...)
	dir := t.TempDir()
	tfile, db := filepath.Join(dir, "targets.yaml"), filepath.Join(dir, "local.db")
	if err := os.WriteFile(tfile, []byte(targetsYAML(s.URL, ids)), 0o644); err != nil {
		t.Fatal(err)
	}
	run := []string{"run", "--once", "--db", db, "--targets", tfile, "--allow-private", "--visibility-timeout", "1s",
		"--function-timeout", "1s", "--retry-delay", "0s", "--max-receives", "2", "--log-level", "error"}
	start := time.Now()
	if out, err := exec.Command(bin, run...).CombinedOutput(); err != nil {
		t.Fatalf("first run: %v\n%s", err, out)
	}
	b := openCLIBackend(t, db)
	if dd := depth(t, b.jobsDLQ); dd.Total() != n {
		t.Fatalf("targets DLQ holds %d, want all %d jobs", dd.Total(), n)
	}
	s.heal()
	hitsBefore := s.pageHits()
	replay := []string{"dlq", "replay", "--all", "--rate", "40", "--visibility", "1s", "-o", "json", "--db", db}
	kills := 0
	for range size.kills {
		cmd := exec.Command(bin, replay...)
		delay := time.Duration(50+d.intN(600)) * time.Millisecond
		deadline := time.Now().Add(delay)
		if killAfter(t, cmd, func() bool { return time.Now().After(deadline) }, time.Minute) {
			break
		}
		kills++
		// Nothing is lost at any kill: every job is in the DLQ or the queue (or both).
		if got := depth(t, b.jobsDLQ).Total() + depth(t, b.jobs).Total(); got < n {
			t.Fatalf("after kill %d: DLQ + queue hold %d < %d", kills, got, n)
		}
	}
	time.Sleep(1100 * time.Millisecond) // what the killed replays held comes back
	if out, err := exec.Command(bin, replay...).CombinedOutput(); err != nil {
		t.Fatalf("final replay: %v\n%s", err, out)
	}
	queued := depth(t, b.jobs).Total()
	if out, err := exec.Command(bin, run...).CombinedOutput(); err != nil { // drains the replayed jobs (and plans one more run)
		t.Fatalf("drain: %v\n%s", err, out)
	}
	planned, stored, dead, lost := b.tally(t, ids)
	if stored != planned || dead != 0 {
		t.Errorf("%d of %d planned pairs stored, %d dead-lettered; want all stored", stored, planned, dead)
	}
	dups := s.pageHits() - hitsBefore - 2*n // the replayed run's n, and the new run's n
	t.Logf("%d kills; %d messages queued for %d jobs; %d duplicates crawled", kills, queued, n, dups)
	figures.Add(reliability.Row{Class: "7 cronless dlq replay SIGKILLed", Backend: "local (CLI)", Planned: n, Stored: n - (planned - stored),
		DeadLettered: n, Replayed: n, Duplicates: dups, Faults: kills, Lost: lost, Took: time.Since(start),
		Note: fmt.Sprintf("all %d jobs of a run dead-lettered, then `dlq replay --all --rate 40` killed %d times at random (50-650 ms); the final replay left %d messages for %d jobs; every job became one result. cmd/cronless TestDLQReplaySurvivesKill covers both backends with a consumer running.", n, kills, queued, n)})
}

// TestShardedRunSurvivesSIGKILL is TestRunSurvivesSIGKILL with the targets
// in a stored list (cronless targets import) of small shards (of at most
// 15 targets, so that most have a body their own invocation plans and a
// tail the tick plans): the kills
// land while the shards are planned and drained, and the restart finishes
// every run with each run's planned count exactly its targets, every
// shard's part recorded once.
func TestShardedRunSurvivesSIGKILL(t *testing.T) {
	quickParallel(t)
	bin := buildCLI(t)
	d := newDice(seed(t))
	// Shards of up to 15 targets: most are planned by their own shard event
	// but for their tail, which the tick plans; some are all tail.
	n := 120
	if full {
		n = 240
	}
	s := newSite(t, 25*time.Millisecond)
	ids := targetIDs(n)
	dir := t.TempDir()
	tfile, list, db := filepath.Join(dir, "targets.yaml"), filepath.Join(dir, "list.csv"), filepath.Join(dir, "local.db")
	if err := os.WriteFile(tfile, []byte(targetsYAML(s.URL, nil)+" []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var csv strings.Builder
	csv.WriteString("id,url,schedule\n")
	for _, id := range ids {
		fmt.Fprintf(&csv, "%s,%s/p/%s,tick\n", id, s.URL, id)
	}
	if err := os.WriteFile(list, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	imp := exec.Command(bin, "targets", "import", list, "--targets", tfile, "--db", db, "--shard-size", "15")
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	args := []string{"run", "--once", "--db", db, "--targets", tfile, "--allow-private", "--visibility-timeout", "1s",
		"--function-timeout", "1s", "--retry-delay", "0s", "--concurrency", "2", "--host-concurrency", "4", "--log-level", "error"}
	start := time.Now()
	// Early kills (after 1 to n/4 pages) land while the shards are still
	// being planned: the first shards' jobs are crawled while the last ones
	// are planned.
	kills := killRuns(t, bin, args, s, func() int { return 1 + d.intN(n/4) })
	rss := restart(t, bin, args...)
	b := openCLIBackend(t, db)
	planned, stored, dead, lost := b.tally(t, ids)
	runs, err := b.store.Runs(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.Planned != n || r.Shards == 0 || r.PlannedShards != r.Shards {
			t.Errorf("run %s: planned %d in %d of %d shards, want %d in all", r.ID, r.Planned, r.PlannedShards, r.Shards, n)
		}
	}
	t.Logf("%d kills, %d runs: planned %d, stored %d, dead %d, lost %d; %d pages crawled", kills, len(runs), planned, stored, dead, lost, s.pageHits())
	if stored != planned || planned != n*len(runs) {
		t.Errorf("%d of %d planned pairs stored (%d runs of %d); want all", stored, planned, len(runs), n)
	}
	figures.Add(reliability.Row{Class: "10 sharded cronless run SIGKILLed and restarted", Backend: "local (CLI)", Planned: planned, Stored: stored,
		DeadLettered: dead, Duplicates: s.pageHits() - stored, Faults: kills, Lost: lost, PeakRSS: rss, Took: time.Since(start),
		Note: fmt.Sprintf("%d targets imported as a stored list in shards of at most 15; SIGKILL at random points of the shards' planning and the drain, %d times, then a restart that runs to the end: all %d runs complete, each planned exactly once per target.", n, kills, len(runs))})
}
