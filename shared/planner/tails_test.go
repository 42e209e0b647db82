package planner_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/planner"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/targets"
)

// runAll plans a tick and every shard event it sent, and returns each
// stored target's job count and the number of shard events.
func runAll(t *testing.T, p *planner.Planner, jobs, plans *fakeSender) (planned map[string]int, shards int) {
	t.Helper()
	ctx := context.Background()
	if _, err := p.Handle(ctx, hourly()); err != nil {
		t.Fatal(err)
	}
	ms := shardMessages(t, plans.sent())
	for _, m := range ms {
		if _, err := p.HandleShard(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	planned = map[string]int{}
	for _, o := range jobs.sent() {
		planned[mustTarget(t, o)]++
	}
	return planned, len(ms)
}

// checkOnce fails unless every stored ID of want was planned exactly once.
func checkOnce(t *testing.T, planned map[string]int, want []string) {
	t.Helper()
	for _, id := range want {
		if planned[id] != 1 {
			t.Errorf("%s planned %d times, want once", id, planned[id])
		}
	}
}

func ids(es []targets.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

// A schedule of fewer than 10 stored targets is one shard that is all
// tail: the tick plans it with its own targets, in one batch, and sends no
// shard event (no invocation that would have nothing to do).
func TestSmallListPlannedByTheTick(t *testing.T) {
	es := entries(7)
	list := newFakeList(t, es)
	jobs, plans, runs := &fakeSender{}, &fakeSender{}, &fakeRuns{}
	p := planner.New(targetsFile(t, 2, ""), jobs, runs, planner.WithTargetList(list, plans), atTick)
	planned, shards := runAll(t, p, jobs, plans)
	checkOnce(t, planned, ids(es))
	if shards != 0 || len(jobs.batches) != 1 || len(runs.runs) != 1 || runs.runs[0].Shards != 0 || runs.runs[0].Planned != 2+7 {
		t.Errorf("%d shard events, %d batches, run %+v: want none, one batch, a run of 9 jobs and no shard", shards, len(jobs.batches), runs.runs)
	}
}

// When a shard's tail cannot be read, the shard plans all of its targets:
// a partial batch more, no job lost.
func TestTailUnreadLeftToTheShard(t *testing.T) {
	es := entries(targets.ShardSize + 1_003)
	list := newFakeList(t, es)
	list.failTail = errors.New("throttled")
	jobs, plans, runs := &fakeSender{}, &fakeSender{}, &fakeRuns{}
	p := planner.New(targetsFile(t, 0, ""), jobs, runs, planner.WithTargetList(list, plans), atTick)
	planned, shards := runAll(t, p, jobs, plans)
	checkOnce(t, planned, ids(es))
	if shards != len(list.layouts["hourly"].Shards) || runs.runs[0].Planned != 0 {
		t.Errorf("%d shard events, run %+v: want every shard, and no job planned by the tick", shards, runs.runs[0])
	}
	for _, m := range shardMessages(t, plans.sent()) {
		if m.Tail != "" {
			t.Errorf("shard %d was told the tick planned from %q", m.Shard.Index, m.Tail)
		}
	}
}

// The layout's counts are the last import's. A list changed since (a
// target added to or removed from a shard) is still planned exactly once:
// the tick plans what it read as the tail, the shard what comes before.
func TestTailOfAListChangedSinceItsLayout(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(l *fakeList) // on shard 0's targets
	}{
		{"added after the tail", func(l *fakeList) { l.add("s-zzz-last", 0) }},
		{"added before the tail", func(l *fakeList) { l.add("s-000000-first", 0) }},
		{"one removed", func(l *fakeList) { l.remove(0) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			list := newFakeList(t, entries(targets.ShardSize+1_003))
			tt.edit(list)
			var want []string
			for _, s := range list.stored {
				want = append(want, s.ID)
			}
			jobs, plans := &fakeSender{}, &fakeSender{}
			p := planner.New(targetsFile(t, 0, ""), jobs, &fakeRuns{}, planner.WithTargetList(list, plans), atTick)
			planned, _ := runAll(t, p, jobs, plans)
			checkOnce(t, planned, want)
			if len(planned) != len(want) {
				t.Errorf("%d targets planned, want %d", len(planned), len(want))
			}
			// At most one partial batch more for the changed shard.
			if max := (len(want)+queue.MaxBatch-1)/queue.MaxBatch + 1; len(jobs.batches) > max {
				t.Errorf("%d SendMessageBatch calls, want at most %d", len(jobs.batches), max)
			}
		})
	}
}

// A tick delivered again plans the same tails and tells the shards the
// same; the run is recorded once.
func TestTailsOfARepeatedTick(t *testing.T) {
	list := newFakeList(t, entries(targets.ShardSize+1_003))
	jobs, plans, runs := &fakeSender{}, &fakeSender{}, &fakeRuns{}
	p := planner.New(targetsFile(t, 0, ""), jobs, runs, planner.WithTargetList(list, plans), atTick)
	first, err := p.Handle(context.Background(), hourly())
	if err != nil {
		t.Fatal(err)
	}
	n, events := len(jobs.sent()), len(plans.sent())
	again, err := p.Handle(context.Background(), hourly())
	if err != nil {
		t.Fatal(err)
	}
	if !first.NewRun || again.NewRun || again.Tails != first.Tails || first.Tails == 0 {
		t.Fatalf("first %+v, again %+v: want the same tails, one new run", first, again)
	}
	if once, twice := sortedTargets(t, jobs.sent()[:n]), sortedTargets(t, jobs.sent()[n:]); !slices.Equal(once, twice) {
		t.Errorf("the repeated tick planned %v, the first %v", twice, once)
	}
	a, b := shardMessages(t, plans.sent()[:events]), shardMessages(t, plans.sent()[events:])
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("the repeated tick's shard events differ:\n%+v\n%+v", b, a)
	}
}

// atTick plans at the tick's time.
var atTick = planner.WithClock(func() time.Time { return tickAt })

// targets.yaml's own targets of a schedule with a stored list get their
// validators by key, as a shard's do (ShardPrevious over their IDs), not
// from store.Previous, which would read the previous run's every result.
func TestOwnTargetsOfAShardedScheduleReadByKey(t *testing.T) {
	tf := targetsFile(t, 2, "")
	list := newFakeList(t, entries(30))
	list.recent = []string{"hourly-20261127T080000Z"}
	own := tf.TargetsFor("hourly")[1]
	list.prev = []store.Validators{{TargetID: own.ID, URL: own.URL, Status: job.StatusOK, ETag: `"own"`, RulesHash: job.RulesHash(own.Extract)}}
	jobs, plans, runs := &fakeSender{}, &fakeSender{}, &fakeRuns{}
	p := planner.New(tf, jobs, runs, planner.WithTargetList(list, plans), atTick)
	if _, err := p.Handle(context.Background(), hourly()); err != nil {
		t.Fatal(err)
	}
	if runs.latestCalls != 0 {
		t.Errorf("store.Previous called %d times, want none for a schedule with a stored list", runs.latestCalls)
	}
	if pr := decodeJobs(t, jobs.sent())[own.ID].Previous; pr == nil || pr.ETag != `"own"` {
		t.Errorf("%s: previous %+v, want ETag \"own\"", own.ID, pr)
	}
	if len(list.asked) != 1 || !slices.Equal(list.asked[0], list.recent) {
		t.Errorf("ShardPrevious asked for %v, want %v once", list.asked, list.recent)
	}
}
