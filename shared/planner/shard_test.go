package planner_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/planner"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/targets"
)

// fakeList is a stored target list in memory, laid out by targets.PlanList
// as a store lays it out, with plan parts kept first-wins.
type fakeList struct {
	mu       sync.Mutex
	layouts  map[string]targets.Layout
	stored   []targets.Stored
	parts    map[string]store.PlanPart // run/shard
	created  int
	recent   []string
	prev     []store.Validators
	asked    [][]string // the run IDs ShardPrevious was asked for
	failRead error
}

func newFakeList(t *testing.T, entries []targets.Entry) *fakeList {
	t.Helper()
	ch := targets.PlanList(nil, nil, entries)
	return &fakeList{layouts: ch.Layouts, stored: ch.Put, parts: map[string]store.PlanPart{}}
}

func (l *fakeList) TargetLayouts(context.Context) (map[string]targets.Layout, error) {
	return l.layouts, nil
}

func (l *fakeList) RecentRuns(_ context.Context, schedule string, before time.Time, n int) ([]string, error) {
	return l.recent, nil
}

func (l *fakeList) ShardTargets(_ context.Context, sh targets.Shard) ([]targets.Stored, error) {
	if l.failRead != nil {
		return nil, l.failRead
	}
	var out []targets.Stored
	for _, s := range l.stored {
		if s.Schedule == sh.Schedule && s.Shard == sh.Index {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b targets.Stored) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (l *fakeList) ShardPrevious(_ context.Context, sh targets.Shard, runIDs []string, ids []string) ([]store.Validators, error) {
	l.mu.Lock()
	l.asked = append(l.asked, runIDs)
	l.mu.Unlock()
	var out []store.Validators
	for _, v := range l.prev {
		if slices.Contains(ids, v.TargetID) {
			out = append(out, v)
		}
	}
	return out, nil
}

func (l *fakeList) PutPlanPart(_ context.Context, p store.PlanPart) (bool, error) {
	if err := store.CheckPlanPart(p); err != nil {
		return false, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	k := fmt.Sprintf("%s/%d", p.RunID, p.Shard)
	if _, ok := l.parts[k]; ok {
		return false, nil
	}
	l.parts[k] = p
	l.created++
	return true, nil
}

// entries are n stored targets on "hourly": every third on
// shared.example.com, the others on a host of their own.
func entries(n int) []targets.Entry {
	es := make([]targets.Entry, n)
	for i := range es {
		host := fmt.Sprintf("own-%d.example.com", i)
		if i%3 == 0 {
			host = "shared.example.com"
		}
		es[i] = targets.Entry{ID: fmt.Sprintf("s-%06d", i), URL: fmt.Sprintf("https://%s/p/%d", host, i), Schedule: "hourly"}
	}
	return es
}

// shardMessages decodes the shard events sent.
func shardMessages(t *testing.T, sent []queue.Outgoing) []planner.ShardMessage {
	t.Helper()
	var ms []planner.ShardMessage
	for _, o := range sent {
		m, err := planner.DecodeShardMessage([]byte(o.Body))
		if err != nil {
			t.Fatalf("shard event does not decode: %v\n%s", err, o.Body)
		}
		ms = append(ms, m)
	}
	return ms
}

// The tick's planner plans targets.yaml's own targets, records the run with
// its shard count, and sends one event per shard of the schedule's
// layout; the shards together plan every stored target once, paced per
// host across shards as one planner would.
func TestShardedTick(t *testing.T) {
	ctx := context.Background()
	tf := targetsFile(t, 2, "  - { id: own-shared, url: \"https://shared.example.com/own\", schedule: hourly }\n")
	n := targets.ShardSize + 5_000 // two hash groups at least: 8 shards
	list := newFakeList(t, entries(n))
	list.recent = []string{"hourly-older", "hourly-oldest"}
	jobs, plans, runs := &fakeSender{}, &fakeSender{}, &fakeRuns{}
	now := tickAt.Add(3 * time.Second)
	p := planner.New(tf, jobs, runs, planner.WithClock(func() time.Time { return now }),
		planner.WithTargetList(list, plans))

	resp, err := p.Handle(ctx, hourly())
	if err != nil {
		t.Fatal(err)
	}
	shards := list.layouts["hourly"].Shards
	if resp.Planned != 3 || resp.Shards != len(shards) || len(shards) != targets.Groups {
		t.Fatalf("response %+v, want 3 own targets planned and %d shards", resp, targets.Groups)
	}
	if len(runs.runs) != 1 || runs.runs[0].Shards != len(shards) || runs.runs[0].Planned != 3 {
		t.Fatalf("run recorded as %+v, want planned 3 with %d shards", runs.runs, len(shards))
	}
	msgs := shardMessages(t, plans.sent())
	if len(msgs) != len(shards) {
		t.Fatalf("%d shard events, want one per shard (%d)", len(msgs), len(shards))
	}
	for i, m := range msgs {
		if m.Shard != shards[i] || m.RunID != resp.RunID || !m.PacedFrom.Equal(now.Add(planner.PlanLead)) ||
			!slices.Equal(m.PreviousRuns, list.recent) {
			t.Errorf("shard event %d: %+v", i, m)
		}
	}

	// Each shard is one invocation; together they plan every stored target.
	all := map[string]job.Job{}
	var sentAt []time.Duration // when each shared.example.com job is due, from PacedFrom
	for _, m := range msgs {
		before := len(jobs.sent())
		r, err := p.HandleShard(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if !r.NewPart || r.Planned != m.Shard.Count || r.Late != 0 {
			t.Errorf("shard %d: %+v, want a new part of %d jobs, not late", m.Shard.Index, r, m.Shard.Count)
		}
		for _, o := range jobs.sent()[before:] {
			j, err := job.DecodeJob([]byte(o.Body))
			if err != nil {
				t.Fatal(err)
			}
			if _, dup := all[j.TargetID]; dup {
				t.Errorf("%s planned twice", j.TargetID)
			}
			all[j.TargetID] = j
			if strings.Contains(j.URL, "shared.example.com") {
				// Sent at now, due after its delay, or at its not_before past
				// SQS's longest delay.
				due := now.Add(o.Delay)
				if !j.NotBefore.IsZero() {
					due = j.NotBefore
				}
				sentAt = append(sentAt, due.Sub(m.PacedFrom))
			}
		}
	}
	if len(all) != n {
		t.Fatalf("the shards planned %d jobs, want %d", len(all), n)
	}
	if list.created != len(shards) {
		t.Errorf("%d plan parts recorded, want %d", list.created, len(shards))
	}
	// shared.example.com has one own target (rank 0) and every third stored
	// one: at 1 a second, one job due in each second from PacedFrom + 1 s.
	slices.Sort(sentAt)
	for i, d := range sentAt {
		if want := time.Duration(i+1) * time.Second; d != want {
			t.Fatalf("shared.example.com's job %d is due %s after the pacing starts, want %s (one a second across shards)", i, d, want)
		}
	}
}

// A shard event delivered again plans the same jobs, and its part is not
// recorded twice.
func TestShardRepeated(t *testing.T) {
	ctx := context.Background()
	tf := targetsFile(t, 0, "")
	list := newFakeList(t, entries(30))
	jobs, plans := &fakeSender{}, &fakeSender{}
	p := planner.New(tf, jobs, &fakeRuns{}, planner.WithClock(func() time.Time { return tickAt }), planner.WithTargetList(list, plans))
	if _, err := p.Handle(ctx, hourly()); err != nil {
		t.Fatal(err)
	}
	m := shardMessages(t, plans.sent())[0]
	first, err := p.HandleShard(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	n := len(jobs.sent())
	again, err := p.HandleShard(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if !first.NewPart || again.NewPart || again.Planned != first.Planned || len(jobs.sent()) != 2*n {
		t.Fatalf("first %+v, again %+v, %d jobs sent; want the same %d jobs twice and one part", first, again, len(jobs.sent()), n)
	}
	// The batches go out in parallel: compare the targets, not the order.
	var once, twice []string
	for i, o := range jobs.sent() {
		if i < n {
			once = append(once, mustTarget(t, o))
		} else {
			twice = append(twice, mustTarget(t, o))
		}
	}
	slices.Sort(once)
	slices.Sort(twice)
	if !slices.Equal(once, twice) {
		t.Fatalf("the repeated shard sent jobs of %v, the first time %v", twice, once)
	}
}

// A shard that starts after its pacing began paces from its own start: its
// hosts' overdue jobs are not all sent at once.
func TestShardLatePacesFromItsStart(t *testing.T) {
	ctx := context.Background()
	tf := targetsFile(t, 0, "")
	list := newFakeList(t, entries(30)) // 10 on shared.example.com
	jobs, plans := &fakeSender{}, &fakeSender{}
	now := tickAt
	p := planner.New(tf, jobs, &fakeRuns{}, planner.WithClock(func() time.Time { return now }), planner.WithTargetList(list, plans))
	if _, err := p.Handle(ctx, hourly()); err != nil {
		t.Fatal(err)
	}
	m := shardMessages(t, plans.sent())[0]
	now = m.PacedFrom.Add(time.Minute)
	r, err := p.HandleShard(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if r.Late != time.Minute {
		t.Errorf("late %s, want 1m", r.Late)
	}
	var delays []time.Duration
	for _, o := range jobs.sent() {
		if strings.Contains(o.Body, "shared.example.com") {
			delays = append(delays, o.Delay)
		}
	}
	slices.Sort(delays)
	for i, d := range delays {
		if d != time.Duration(i)*time.Second {
			t.Fatalf("shared.example.com's delays %v, want 0s, 1s, … from the shard's start", delays)
		}
	}
}

// A stored target whose extract targets.yaml no longer defines is not
// planned, and said; the others are.
func TestShardUnplannableTarget(t *testing.T) {
	ctx := context.Background()
	tf := targetsFile(t, 0, "")
	es := entries(5)
	es[2].Extract = "gone"
	list := newFakeList(t, es)
	jobs, plans := &fakeSender{}, &fakeSender{}
	p := planner.New(tf, jobs, &fakeRuns{}, planner.WithTargetList(list, plans))
	if _, err := p.Handle(ctx, hourly()); err != nil {
		t.Fatal(err)
	}
	r, err := p.HandleShard(ctx, shardMessages(t, plans.sent())[0])
	if err != nil {
		t.Fatal(err)
	}
	if r.Planned != 4 || r.Unplannable != 1 {
		t.Fatalf("%+v, want 4 planned and 1 unplannable", r)
	}
	part := list.parts[r.RunID+"/0"]
	if slices.Contains(part.Targets, es[2].ID) || len(part.Targets) != 4 {
		t.Errorf("part targets %v, want the 4 planned", part.Targets)
	}
}

// The shard's validators come from the runs the tick named, and only
// usable ones (same URL and rules, ok) make its requests conditional.
func TestShardValidators(t *testing.T) {
	ctx := context.Background()
	tf := targetsFile(t, 0, "")
	es := entries(3)
	list := newFakeList(t, es)
	list.recent = []string{"hourly-20261127T080000Z"}
	rules := job.RulesHash(nil)
	list.prev = []store.Validators{
		{TargetID: es[0].ID, URL: es[0].URL, Status: job.StatusOK, ETag: `"a"`, RulesHash: rules},
		{TargetID: es[1].ID, URL: "https://elsewhere.example.com/", Status: job.StatusOK, ETag: `"b"`, RulesHash: rules},
		{TargetID: es[2].ID, URL: es[2].URL, Status: job.StatusFailed, ETag: `"c"`, RulesHash: rules},
	}
	jobs, plans := &fakeSender{}, &fakeSender{}
	p := planner.New(tf, jobs, &fakeRuns{}, planner.WithTargetList(list, plans))
	if _, err := p.Handle(ctx, hourly()); err != nil {
		t.Fatal(err)
	}
	if _, err := p.HandleShard(ctx, shardMessages(t, plans.sent())[0]); err != nil {
		t.Fatal(err)
	}
	got := decodeJobs(t, jobs.sent())
	if pr := got[es[0].ID].Previous; pr == nil || pr.ETag != `"a"` {
		t.Errorf("%s: previous %+v, want ETag \"a\"", es[0].ID, pr)
	}
	for _, e := range es[1:] {
		if got[e.ID].Previous != nil {
			t.Errorf("%s: previous %+v, want none (other URL, or not ok)", e.ID, got[e.ID].Previous)
		}
	}
	if len(list.asked) != 1 || !slices.Equal(list.asked[0], list.recent) {
		t.Errorf("ShardPrevious asked for %v, want %v", list.asked, list.recent)
	}
}

// HandleEvent tells ticks from shard events, and plans each; a shard event
// that does not decode is a bad tick (retrying will not help), one whose
// shard fails to read is an error to retry.
func TestHandleEvent(t *testing.T) {
	ctx := context.Background()
	tf := targetsFile(t, 1, "")
	list := newFakeList(t, entries(3))
	jobs, shards := &fakeSender{}, &fakeSender{}
	p := planner.New(tf, jobs, &fakeRuns{}, planner.WithTargetList(list, shards))

	tick, _ := json.Marshal(hourly())
	out, err := p.HandleEvent(ctx, tick)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := out.(planner.Response); !ok || r.Planned != 1 || r.Shards != 1 {
		t.Fatalf("a tick gave %#v, want a planner.Response of 1 job and 1 shard", out)
	}
	shard := []byte(shards.sent()[0].Body)
	out, err = p.HandleEvent(ctx, shard)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := out.(planner.ShardResponse); !ok || r.Planned != 3 || !r.NewPart {
		t.Fatalf("a shard event gave %#v, want a planner.ShardResponse of 3 jobs", out)
	}
	if len(jobs.sent()) != 1+3 {
		t.Errorf("%d jobs sent, want the tick's 1 and the shard's 3", len(jobs.sent()))
	}
	if _, err := p.HandleEvent(ctx, []byte(`{"v":1,"run_id":"x","shard":{}}`)); !errors.Is(err, planner.ErrBadTick) ||
		!strings.Contains(err.Error(), "run_id, schedule, scheduled_at and paced_from are required") {
		t.Errorf("a malformed shard event: %v, want ErrBadTick naming what is missing", err)
	}
	list.failRead = errors.New("throttled")
	if _, err := p.HandleEvent(ctx, shard); err == nil || errors.Is(err, planner.ErrBadTick) || !strings.Contains(err.Error(), "throttled") {
		t.Errorf("a shard whose read fails: %v, want an error to retry", err)
	}
	if _, err := p.HandleEvent(ctx, []byte(`{"detail-type":"Scheduled Event"}`)); !errors.Is(err, planner.ErrBadTick) {
		t.Errorf("an EventBridge rule's event: %v, want ErrBadTick", err)
	}
}

// A shard event is decoded strictly, and what is wrong is named.
func TestDecodeShardMessage(t *testing.T) {
	runID := job.RunID("hourly", tickAt)
	ok := planner.ShardMessage{V: planner.ShardVersion, RunID: runID, Schedule: "hourly", ScheduledAt: tickAt,
		Shard: targets.Shard{Schedule: "hourly", Group: targets.AllGroups}, PacedFrom: tickAt}
	body, _ := json.Marshal(ok)
	if _, err := planner.DecodeShardMessage(body); err != nil {
		t.Fatalf("a good message: %v", err)
	}
	for _, tt := range []struct {
		name string
		edit func(m *planner.ShardMessage)
		want string
	}{
		{"version", func(m *planner.ShardMessage) { m.V = 2 }, "v is 2, want 1"},
		{"run of another time", func(m *planner.ShardMessage) { m.RunID = job.RunID("hourly", tickAt.Add(time.Hour)) }, "is not schedule"},
		{"shard of another schedule", func(m *planner.ShardMessage) { m.Shard.Schedule = "daily" }, "is not a shard of schedule"},
		{"group out of range", func(m *planner.ShardMessage) { m.Shard.Group = targets.Groups }, "is not a shard of schedule"},
		{"no paced_from", func(m *planner.ShardMessage) { m.PacedFrom = time.Time{} }, "paced_from are required"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := ok
			tt.edit(&m)
			body, _ := json.Marshal(m)
			if _, err := planner.DecodeShardMessage(body); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
	if _, err := planner.DecodeShardMessage([]byte(`{"v":1,"surprise":true}`)); err == nil || !strings.Contains(err.Error(), "surprise") {
		t.Errorf("an unknown field: %v", err)
	}
}

// WithPlanLead moves when a sharded run's pacing starts.
func TestPlanLead(t *testing.T) {
	plans := &fakeSender{}
	p := planner.New(targetsFile(t, 0, ""), &fakeSender{}, &fakeRuns{}, planner.WithClock(func() time.Time { return tickAt }),
		planner.WithTargetList(newFakeList(t, entries(3)), plans), planner.WithPlanLead(time.Second))
	if _, err := p.Handle(context.Background(), hourly()); err != nil {
		t.Fatal(err)
	}
	if m := shardMessages(t, plans.sent())[0]; !m.PacedFrom.Equal(tickAt.Add(time.Second)) {
		t.Errorf("paced from %s, want the tick's planning + 1s", m.PacedFrom)
	}
}
