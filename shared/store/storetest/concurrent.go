package storetest

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
)

// testConcurrentRuns puts 50 targets × 3 runs, each result one to three
// times and each run twice, from 8 goroutines in random order, and checks
// counters, latest and changed flags against a sequential model.
func testConcurrentRuns(t *testing.T, newStore func(t *testing.T) store.Store) {
	const (
		targets = 50
		runs    = 3
		writers = 8
	)
	s := newStore(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	target := func(i int) string { return fmt.Sprintf("t%02d", i) }
	resultOf := func(ti, ri int) job.Result {
		if (ti+ri)%7 == 0 {
			return failedResult(target(ti), ri)
		}
		return okResult(target(ti), ri, fmt.Sprint("h", (ti*ri)%3))
	}
	type op struct {
		run    *store.Run
		result *job.Result
	}
	var ops []op
	for ri := range runs {
		for range 2 {
			ops = append(ops, op{run: &store.Run{ID: runID(ri), Schedule: "hourly", ScheduledAt: tick(ri), Planned: targets}})
		}
		for ti := range targets {
			r := resultOf(ti, ri)
			for range 1 + rng.IntN(3) {
				ops = append(ops, op{result: &r})
			}
		}
	}
	rng.Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })

	var (
		mu      sync.Mutex
		stored  = map[string]int{} // target/run -> puts that were not duplicates
		created = map[string]int{} // run -> PutRuns that reported created
		wg      sync.WaitGroup
		work    = make(chan op)
	)
	for range writers {
		wg.Go(func() {
			for o := range work {
				if o.run != nil {
					c, err := s.PutRun(t.Context(), *o.run)
					if err != nil {
						t.Errorf("PutRun(%s): %v", o.run.ID, err)
						continue
					}
					if c {
						mu.Lock()
						created[o.run.ID]++
						mu.Unlock()
					}
					continue
				}
				out, err := s.PutResult(t.Context(), *o.result)
				if err != nil {
					t.Errorf("PutResult(%s/%s): %v", o.result.TargetID, o.result.RunID, err)
					continue
				}
				if !out.Duplicate {
					mu.Lock()
					stored[o.result.TargetID+"/"+o.result.RunID]++
					mu.Unlock()
				}
			}
		})
	}
	for _, o := range ops {
		work <- o
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	for ri := range runs {
		want := store.Run{ID: runID(ri), Schedule: "hourly", ScheduledAt: tick(ri), Planned: targets}
		for ti := range targets {
			r := resultOf(ti, ri)
			if r.Status == job.StatusOK {
				want.Succeeded++
			} else {
				want.Failed++
			}
			if n := stored[r.TargetID+"/"+r.RunID]; n != 1 {
				t.Errorf("%s/%s stored by %d puts, want exactly 1", r.TargetID, r.RunID, n)
			}
		}
		checkRun(t, getRun(t, s, want.ID), want)
		if created[want.ID] != 1 {
			t.Errorf("PutRun(%s) reported created %d times, want once", want.ID, created[want.ID])
		}
		if got := runResults(t, s, want.ID); len(got) != targets {
			t.Errorf("RunResults(%s) has %d results, want %d", want.ID, len(got), targets)
		}
	}

	all := latest(t, s, "")
	if len(all) != targets {
		t.Fatalf("Latest(\"\") has %d results, want %d", len(all), targets)
	}
	for ti, got := range all {
		// Sequential model of the changed flags: each ok result against
		// the target's previous ok result.
		prev, wantChanged := "", map[int]bool{}
		for ri := range runs {
			if r := resultOf(ti, ri); r.Status == job.StatusOK {
				wantChanged[ri] = prev != "" && prev != r.ContentHash
				prev = r.ContentHash
			}
		}
		want := resultOf(ti, runs-1)
		want.Changed = wantChanged[runs-1]
		checkResult(t, "Latest of "+target(ti), got, want)
		for ri := range runs {
			if got := getResult(t, s, target(ti), runID(ri)); got.Changed != wantChanged[ri] {
				t.Errorf("Result(%s, tick %d).Changed = %v, want %v", target(ti), ri, got.Changed, wantChanged[ri])
			}
		}
	}
}

// testConcurrentOneTarget puts 24 results of one target (ok with one of
// three hashes, or failed), each one to three times, from 8 goroutines in
// random order, so that neighbours in the target's chain of ok results
// arrive at the same time; then checks every Changed flag, the latest
// result and the run counters against a sequential model.
func testConcurrentOneTarget(t *testing.T, newStore func(t *testing.T) store.Store) {
	const (
		runs    = 24
		writers = 8
	)
	s := newStore(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	results := make([]job.Result, runs)
	for i := range results {
		if rng.IntN(5) == 0 {
			results[i] = failedResult("a", i)
		} else {
			results[i] = okResult("a", i, fmt.Sprint("h", rng.IntN(3)))
		}
	}
	var puts []job.Result
	for _, r := range results {
		for range 1 + rng.IntN(3) {
			puts = append(puts, r)
		}
	}
	rng.Shuffle(len(puts), func(i, j int) { puts[i], puts[j] = puts[j], puts[i] })

	var (
		wg   sync.WaitGroup
		work = make(chan job.Result)
	)
	for range writers {
		wg.Go(func() {
			for r := range work {
				if _, err := s.PutResult(t.Context(), r); err != nil {
					t.Errorf("PutResult(%s/%s): %v", r.TargetID, r.RunID, err)
				}
			}
		})
	}
	for _, r := range puts {
		work <- r
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	prev := ""
	for i, r := range results {
		want := false
		if r.Status == job.StatusOK {
			want = prev != "" && prev != r.ContentHash
			prev = r.ContentHash
		}
		results[i].Changed = want
		if got := getResult(t, s, "a", runID(i)); got.Changed != want {
			t.Errorf("Result(tick %d %q).Changed = %v, want %v", i, r.ContentHash, got.Changed, want)
		}
		got := getRun(t, s, runID(i))
		if got.Done() != 1 {
			t.Errorf("Run(tick %d).Done() = %d, want 1", i, got.Done())
		}
	}
	if got := latest(t, s, "a"); len(got) != 1 {
		t.Errorf("Latest(a) = %v, want one result", targetsOf(got))
	} else {
		checkResult(t, "Latest(a)", got[0], results[runs-1])
	}
}
