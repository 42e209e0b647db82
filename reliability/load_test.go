package reliability_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cronless/cronless/reliability"
	"github.com/cronless/cronless/shared/queue"
)

// TestLoad is fault class 9: many targets through the local pipeline in
// bounded memory, and a large localq drained with no loss.
func TestLoad(t *testing.T) {
	quickParallel(t)
	t.Run("pipeline", testLoadPipeline)
	t.Run("queue", testLoadQueue)
}

// heapBound is the most live heap the 10,000-target run may reach: the
// pipeline holds a batch per invocation, not the run.
const heapBound = 256 << 20

func testLoadPipeline(t *testing.T) {
	n := size.load
	e := newEnv(t, backendLocal, envOpts{vis: 30 * time.Second})
	r := newRig(t, e, rigOpts{n: n, concurrency: 4, hostConc: 32, timeout: 30 * time.Second, seed: seed(t)})
	runtime.GC()
	sampler := reliability.StartSampler(20 * time.Millisecond)
	start := time.Now()
	stop := r.start()
	r.plan(context.Background(), t0)
	r.waitDrained(10 * time.Minute)
	stop()
	took := time.Since(start)
	heap, rss := sampler.Stop()
	tl := r.check()
	r.settle()
	if tl.stored != n || tl.lost != 0 {
		t.Errorf("%d of %d stored, %d lost", tl.stored, n, tl.lost)
	}
	if heap > heapBound {
		t.Errorf("peak live heap %s MiB, want at most %s MiB", reliability.MiB(heap), reliability.MiB(heapBound))
	}
	t.Logf("%d targets in %.1fs (%.0f/s), peak heap %s MiB, RSS %s MiB", n, took.Seconds(), float64(n)/took.Seconds(),
		reliability.MiB(heap), reliability.MiB(rss))
	figures.Add(reliability.Row{Class: "9a load: targets through the pipeline", Backend: backendLocal, Planned: tl.planned,
		Stored: tl.stored, DeadLettered: tl.deadPairs, Duplicates: int(r.counted.dups.Load()), Lost: tl.lost,
		PeakHeap: heap, PeakRSS: rss, Took: took,
		Note: fmt.Sprintf("%d targets, one run, real crawls of an httptest site (host concurrency 32), 4 invocations at once per function: %.0f results/s. Bound checked: live heap ≤ %s MiB.",
			n, float64(n)/took.Seconds(), reliability.MiB(heapBound))})
}

func testLoadQueue(t *testing.T) {
	n := size.queueLoad
	e := newEnv(t, backendLocal, envOpts{vis: 30 * time.Second})
	q := e.jobs
	ctx := context.Background()
	runtime.GC()
	sampler := reliability.StartSampler(20 * time.Millisecond)
	start := time.Now()
	// Send n messages, 8 batches at once.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	var sendErr atomic.Value
	for i := 0; i < n; i += queue.MaxBatch {
		batch := make([]queue.Outgoing, 0, queue.MaxBatch)
		for j := i; j < min(i+queue.MaxBatch, n); j++ {
			batch = append(batch, queue.Outgoing{ID: "m" + strconv.Itoa(j-i), Body: strconv.Itoa(j)})
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := q.SendBatch(ctx, batch); err != nil {
				sendErr.Store(err)
			}
		})
	}
	wg.Wait()
	if err := sendErr.Load(); err != nil {
		t.Fatal(err)
	}
	sent := time.Since(start)
	if d := depth(t, q); d.Visible != n {
		t.Fatalf("queue holds %+v after sending %d", d, n)
	}
	// Drain with 4 consumers: receive 10, delete them.
	seen := make([]atomic.Int32, n)
	var receives atomic.Int64
	for range 4 {
		wg.Go(func() {
			for empty := 0; empty < 3; {
				msgs, err := q.Receive(ctx, queue.ReceiveOptions{Max: 10})
				if err != nil {
					t.Error(err)
					return
				}
				if len(msgs) == 0 {
					empty++
					time.Sleep(10 * time.Millisecond)
					continue
				}
				empty = 0
				rh := make([]string, len(msgs))
				for i, m := range msgs {
					k, err := strconv.Atoi(m.Body)
					if err != nil || k < 0 || k >= n {
						t.Errorf("message %q was never sent", m.Body)
						continue
					}
					seen[k].Add(1)
					receives.Add(1)
					rh[i] = m.ReceiptHandle
				}
				if err := q.Delete(ctx, rh); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	heap, rss := sampler.Stop()
	lost, dups := 0, 0
	for i := range seen {
		switch c := int(seen[i].Load()); {
		case c == 0:
			lost++
		case c > 1:
			dups += c - 1
		}
	}
	if d := depth(t, q); d.Total() != 0 {
		t.Errorf("queue holds %+v after draining", d)
	}
	if lost > 0 {
		t.Errorf("%d of %d messages never received", lost, n)
	}
	t.Logf("%d messages: sent in %.1fs, drained in %.1fs; %d duplicates, %d lost; peak heap %s MiB", n, sent.Seconds(),
		(took - sent).Seconds(), dups, lost, reliability.MiB(heap))
	figures.Add(reliability.Row{Class: "9b load: localq drained", Backend: backendLocal, Planned: n, Stored: n - lost,
		Duplicates: dups, Lost: lost, PeakHeap: heap, PeakRSS: rss, Took: took,
		Note: fmt.Sprintf("%d messages sent (8 batches of 10 at once, %.0f/s), then received and deleted by 4 consumers (%.0f/s); every message received, the queue empty.",
			n, float64(n)/sent.Seconds(), float64(n)/(took-sent).Seconds())})
}
