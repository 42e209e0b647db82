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
	failTail error
}

func newFakeList(t *testing.T, entries []targets.Entry) *fakeList {
	t.Helper()
	ch := targets.PlanList(nil, nil, entries)
	return &fakeList{layouts: ch.Layouts, stored: ch.Put, parts: map[string]store.PlanPart{}}
}

// add stores a target of shard index after the layout was computed, as an
// import that keeps the layout would (its count is then stale).
func (l *fakeList) add(id string, index int) {
	l.stored = append(l.stored, targets.Stored{Entry: targets.Entry{ID: id, URL: "https://added.example.com/" + id, Schedule: "hourly"},
		Shard: index, Rank: 0})
}

// remove drops the first stored target of shard index.
func (l *fakeList) remove(index int) {
	for i, s := range l.stored {
		if s.Shard == index {
			l.stored = slices.Delete(l.stored, i, i+1)
			return
		}
	}
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

func (l *fakeList) ShardTail(ctx context.Context, sh targets.Shard, n int) ([]targets.Stored, error) {
	if l.failTail != nil {
		return nil, l.failTail
	}
	all, err := l.ShardTargets(ctx, sh)
	return all[len(all)-min(n, len(all)):], err
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

// The tick's planner plans targets.yaml's own targets and the tail of each
// shard (its last count mod 10 targets), records the run with its shard
// count, and sends one event per shard of the schedule's layout; the
// shards plan the rest, in full batches, so that the whole run takes
// ceil(N/10) SendMessageBatch calls. Together they plan every stored
// target once, paced per host across shards as one planner would.
func TestShardedTick(t *testing.T) {
	ctx := context.Background()
	tf := targetsFile(t, 2, "  - { id: own-shared, url: \"https://shared.example.com/own\", schedule: hourly }\n")
	n := targets.ShardSize + 5_003 // two hash groups at least: 8 shards
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
	tails := 0
	for _, sh := range shards {
		tails += sh.Count % queue.MaxBatch
	}
	if tails == 0 {
		t.Fatalf("layout %+v: want shards whose counts are not multiples of 10", shards)
	}
	if resp.Planned != 3+tails || resp.Tails != tails || resp.Shards != len(shards) || len(shards) != targets.Groups {
		t.Fatalf("response %+v, want 3 own targets and %d of the shards' tails planned, and %d shards", resp, tails, targets.Groups)
	}
	if len(runs.runs) != 1 || runs.runs[0].Shards != len(shards) || runs.runs[0].Planned != 3+tails || len(runs.runs[0].Targets) != 3+tails {
		t.Fatalf("run recorded as %+v, want planned %d with %d shards", runs.runs, 3+tails, len(shards))
	}
	msgs := shardMessages(t, plans.sent())
	if len(msgs) != len(shards) {
		t.Fatalf("%d shard events, want one per shard (%d)", len(msgs), len(shards))
	}
	for i, m := range msgs {
		if m.Shard != shards[i] || m.RunID != resp.RunID || !m.PacedFrom.Equal(now.Add(planner.PlanLead)) ||
			!slices.Equal(m.PreviousRuns, list.recent) || (m.Tail == "") != (m.Shard.Count%queue.MaxBatch == 0) {
			t.Errorf("shard event %d: %+v", i, m)
		}
	}

	// Each shard is one invocation; with the tick's tails they plan every
	// stored target once.
	all := map[string]job.Job{}
	var sentAt []time.Duration // when each stored shared.example.com job is due, from PacedFrom
	collect := func(sent []queue.Outgoing, pacedFrom time.Time) {
		t.Helper()
		for _, o := range sent {
			j, err := job.DecodeJob([]byte(o.Body))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(j.TargetID, "s-") {
				continue // targets.yaml's own
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
				sentAt = append(sentAt, due.Sub(pacedFrom))
			}
		}
	}
	collect(jobs.sent(), now.Add(planner.PlanLead))
	if len(all) != tails {
		t.Fatalf("the tick planned %d stored targets, want the %d of the tails", len(all), tails)
	}
	for _, m := range msgs {
		before := len(jobs.sent())
		r, err := p.HandleShard(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if want := m.Shard.Count - m.Shard.Count%queue.MaxBatch; !r.NewPart || r.Planned != want || r.Late != 0 {
			t.Errorf("shard %d: %+v, want a new part of %d jobs, not late", m.Shard.Index, r, want)
		}
		collect(jobs.sent()[before:], m.PacedFrom)
	}
	if len(all) != n {
		t.Fatalf("the tick and the shards planned %d jobs, want %d", len(all), n)
	}
	if list.created != len(shards) {
		t.Errorf("%d plan parts recorded, want %d", list.created, len(shards))
	}
	// Every batch full but one: ceil(N/10) SendMessageBatch calls.
	partial := 0
	for _, b := range jobs.batches {
		if len(b) < queue.MaxBatch {
			partial++
		}
	}
	if want := (n + 3 + queue.MaxBatch - 1) / queue.MaxBatch; len(jobs.batches) != want || partial > 1 {
		t.Errorf("%d SendMessageBatch calls (%d partial), want ceil(%d/10) = %d", len(jobs.batches), partial, n+3, want)
	}
	// shared.example.com has one own target (rank 0) and every third stored
	// one: at 1 a second, one job due in each second from PacedFrom + 1 s.
	slices.Sort(sentAt)
	for i, d := range sentAt {
		if want := time.Duration(i+1) * time.Second; d != want {
			t.Fatalf("shared.example.com's job %d is due %s after the pacing starts, want %s (one a second across shards and tails)", i, d, want)
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
	if once, twice := sortedTargets(t, jobs.sent()[:n]), sortedTargets(t, jobs.sent()[n:]); !slices.Equal(once, twice) {
		t.Fatalf("the repeated shard sent jobs of %v, the first time %v", twice, once)
	}
}

// sortedTargets are the target IDs of sent jobs, sorted: batches go out in
// parallel, so two sendings are compared by their targets, not their order.
func sortedTargets(t *testing.T, sent []queue.Outgoing) []string {
	t.Helper()
	ids := make([]string, len(sent))
	for i, o := range sent {
		ids[i] = mustTarget(t, o)
	}
	slices.Sort(ids)
	return ids
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
	es := entries(15) // a shard of 10 and a tail of 5
	es[2].Extract = "gone"
	es[13].Extract = "gone"
	list := newFakeList(t, es)
	jobs, plans, runs := &fakeSender{}, &fakeSender{}, &fakeRuns{}
	p := planner.New(tf, jobs, runs, planner.WithTargetList(list, plans))
	tick, err := p.Handle(ctx, hourly())
	if err != nil {
		t.Fatal(err)
	}
	if tick.Planned != 4 || slices.Contains(runs.runs[0].Targets, es[13].ID) {
		t.Errorf("tick %+v, run targets %v: want the tail's 4 plannable targets", tick, runs.runs[0].Targets)
	}
	r, err := p.HandleShard(ctx, shardMessages(t, plans.sent())[0])
	if err != nil {
		t.Fatal(err)
	}
	if r.Planned != 9 || r.Unplannable != 1 {
		t.Fatalf("%+v, want 9 planned and 1 unplannable", r)
	}
	part := list.parts[r.RunID+"/0"]
	if slices.Contains(part.Targets, es[2].ID) || len(part.Targets) != 9 {
		t.Errorf("part targets %v, want the 9 planned", part.Targets)
	}
}

// The shard's validators come from the runs the tick named, and only
// usable ones (same URL and rules, ok) make its requests conditional.
func TestShardValidators(t *testing.T) {
	ctx := context.Background()
	tf := targetsFile(t, 0, "")
	es := entries(13) // a shard of 10 and a tail of 3, which the tick plans
	list := newFakeList(t, es)
	list.recent = []string{"hourly-20261127T080000Z"}
	rules := job.RulesHash(nil)
	list.prev = []store.Validators{
		{TargetID: es[0].ID, URL: es[0].URL, Status: job.StatusOK, ETag: `"a"`, RulesHash: rules},
		{TargetID: es[1].ID, URL: "https://elsewhere.example.com/", Status: job.StatusOK, ETag: `"b"`, RulesHash: rules},
		{TargetID: es[2].ID, URL: es[2].URL, Status: job.StatusFailed, ETag: `"c"`, RulesHash: rules},
		{TargetID: es[12].ID, URL: es[12].URL, Status: job.StatusOK, ETag: `"d"`, RulesHash: rules},
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
	if pr := got[es[12].ID].Previous; pr == nil || pr.ETag != `"d"` {
		t.Errorf("%s (the tick's tail): previous %+v, want ETag \"d\"", es[12].ID, pr)
	}
	for _, e := range es[1:12] {
		if got[e.ID].Previous != nil {
			t.Errorf("%s: previous %+v, want none (other URL, not ok, or no result)", e.ID, got[e.ID].Previous)
		}
	}
	// The tick for its tail, the shard for the rest.
	if len(list.asked) != 2 || !slices.Equal(list.asked[0], list.recent) || !slices.Equal(list.asked[1], list.recent) {
		t.Errorf("ShardPrevious asked for %v, want %v twice", list.asked, list.recent)
	}
}

// HandleEvent tells ticks from shard events, and plans each; a shard event
// that does not decode is a bad tick (retrying will not help), one whose
// shard fails to read is an error to retry.
func TestHandleEvent(t *testing.T) {
	ctx := context.Background()
	tf := targetsFile(t, 1, "")
	list := newFakeList(t, entries(13)) // a shard of 10 and a tail of 3
	jobs, shards := &fakeSender{}, &fakeSender{}
	p := planner.New(tf, jobs, &fakeRuns{}, planner.WithTargetList(list, shards))

	tick, _ := json.Marshal(hourly())
	out, err := p.HandleEvent(ctx, tick)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := out.(planner.Response); !ok || r.Planned != 1+3 || r.Shards != 1 {
		t.Fatalf("a tick gave %#v, want a planner.Response of 1+3 jobs and 1 shard", out)
	}
	shard := []byte(shards.sent()[0].Body)
	out, err = p.HandleEvent(ctx, shard)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := out.(planner.ShardResponse); !ok || r.Planned != 10 || !r.NewPart {
		t.Fatalf("a shard event gave %#v, want a planner.ShardResponse of 10 jobs", out)
	}
	if len(jobs.sent()) != 4+10 {
		t.Errorf("%d jobs sent, want the tick's 4 and the shard's 10", len(jobs.sent()))
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
		{"tail outside the shard", func(m *planner.ShardMessage) { m.Shard.To, m.Tail = "m", "z" }, `tail "z" is not a target ID of shard`},
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
		planner.WithTargetList(newFakeList(t, entries(13)), plans), planner.WithPlanLead(time.Second))
	if _, err := p.Handle(context.Background(), hourly()); err != nil {
		t.Fatal(err)
	}
	if m := shardMessages(t, plans.sent())[0]; !m.PacedFrom.Equal(tickAt.Add(time.Second)) {
		t.Errorf("paced from %s, want the tick's planning + 1s", m.PacedFrom)
	}
}
