package planner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/metrics"
	"github.com/cronless/cronless/shared/obs"
	"github.com/cronless/cronless/shared/queue"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/targets"
)

// Sharded planning (docs/scale.md). A schedule's targets in a stored list
// (cronless targets import) are planned in shards: the tick's planner
// records the run with its shard count and sends one ShardMessage per shard
// of the schedule's layout to itself, as an asynchronous invocation each
// (locally: on the ticks queue); each is one planner invocation, which
// reads its shard's targets and their validators by key, records its part
// of the run and sends its jobs.

// ShardVersion is the version of the ShardMessage contract.
const ShardVersion = 1

// ShardMessage is the event of one shard of one run: what the tick's
// planner sends itself.
type ShardMessage struct {
	V           int           `json:"v"`
	RunID       string        `json:"run_id"`
	Schedule    string        `json:"schedule"`
	ScheduledAt time.Time     `json:"scheduled_at"`
	Shard       targets.Shard `json:"shard"`
	// PacedFrom is when the shard's hosts' pacing starts: the k-th job of a
	// host is due k / rate after it, whichever shard plans it.
	PacedFrom time.Time `json:"paced_from"`
	// PreviousRuns are the schedule's most recent runs before this one,
	// newest first, read once by the tick's planner: the runs whose results
	// give the shard's validators.
	PreviousRuns []string `json:"previous_runs,omitempty"`
	// Tail, when set, is the first of the shard's last few targets, which
	// the tick's planner planned itself (tails.go): the shard plans its
	// targets before it.
	Tail string `json:"tail,omitempty"`
}

// DecodeShardMessage decodes a shard's event strictly and checks it; what
// is wrong is an ErrBadTick (retrying will not help).
func DecodeShardMessage(body []byte) (ShardMessage, error) {
	var m ShardMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return ShardMessage{}, fmt.Errorf("%w: shard event: %v", ErrBadTick, err)
	}
	var problems []string
	if m.V != ShardVersion {
		problems = append(problems, fmt.Sprintf("v is %d, want %d", m.V, ShardVersion))
	}
	if m.RunID == "" || m.Schedule == "" || m.ScheduledAt.IsZero() || m.PacedFrom.IsZero() {
		problems = append(problems, "run_id, schedule, scheduled_at and paced_from are required")
	} else if m.RunID != job.RunID(m.Schedule, m.ScheduledAt) {
		problems = append(problems, fmt.Sprintf("run_id %q is not schedule %q's run at %s", m.RunID, m.Schedule, m.ScheduledAt.Format(time.RFC3339)))
	}
	if m.Shard.Schedule != m.Schedule || m.Shard.Index < 0 || m.Shard.Group < targets.AllGroups || m.Shard.Group >= targets.Groups {
		problems = append(problems, fmt.Sprintf("shard %+v is not a shard of schedule %q", m.Shard, m.Schedule))
	}
	if m.Tail != "" && !m.Shard.Holds(m.Tail) {
		problems = append(problems, fmt.Sprintf("tail %q is not a target ID of shard %d", m.Tail, m.Shard.Index))
	}
	if len(problems) > 0 {
		return ShardMessage{}, fmt.Errorf("%w: shard event: %s", ErrBadTick, strings.Join(problems, "; "))
	}
	return m, nil
}

// TargetList is what sharded planning needs of the stored target list
// (store.TargetList).
type TargetList interface {
	TargetLayouts(ctx context.Context) (map[string]targets.Layout, error)
	RecentRuns(ctx context.Context, schedule string, before time.Time, n int) ([]string, error)
	ShardTargets(ctx context.Context, sh targets.Shard) ([]targets.Stored, error)
	ShardTail(ctx context.Context, sh targets.Shard, n int) ([]targets.Stored, error)
	ShardPrevious(ctx context.Context, sh targets.Shard, runIDs []string, ids []string) ([]store.Validators, error)
	PutPlanPart(ctx context.Context, part store.PlanPart) (created bool, err error)
}

// PlanLead is how long after the tick is planned a sharded run's pacing
// starts. Every shard that starts within it paces its hosts' jobs from the
// same instant, so a host whose targets span shards gets exactly its rate.
// The shards are asynchronous invocations, started as soon as Lambda takes
// them (up to 1,000 new execution environments every 10 s per function:
// Lambda Developer Guide, "Lambda scaling behavior"), so the ~100 shards of
// a million targets start well within it. A shard that starts later
// (throttled, or retried after an error) paces from its own start instead
// (ShardResponse.Late): no burst of overdue jobs, at the price of a host
// spanning it and an earlier shard getting up to twice its rate while both
// send.
const PlanLead = 10 * time.Second

// ShardResponse is what one shard planned.
type ShardResponse struct {
	RunID   string `json:"run_id"`
	Shard   int    `json:"shard"`
	Planned int    `json:"planned"`
	// NewPart is false when the shard was planned before (the same jobs are
	// sent again and absorbed downstream; nothing is counted twice).
	NewPart bool `json:"new_part"`
	// Unplannable are the targets not planned because targets.yaml no longer
	// defines their schedule or extract (each logged with why).
	Unplannable int `json:"unplannable,omitempty"`
	// Late is how long after PacedFrom the shard started, when that was
	// after it (then its pacing starts at its own start).
	Late time.Duration `json:"late,omitempty"`
}

// WithPlanLead sets how long after a tick is planned its shards' pacing
// starts (default PlanLead). The local pipeline plans its shards in the
// same process a moment later, and takes a shorter one.
func WithPlanLead(d time.Duration) Option {
	return func(p *Planner) {
		if d >= 0 {
			p.lead = d
		}
	}
}

// WithTargetList plans each tick's stored targets (list) in shards, one
// event per shard sent with shards: on AWS an asynchronous invocation of
// the planner itself (lambdaasync), locally the ticks queue.
func WithTargetList(list TargetList, shards Sender) Option {
	return func(p *Planner) { p.list, p.shards = list, shards }
}

// shardsOf returns the shards of schedule's stored targets: none without a
// target list or when the list holds none of the schedule's targets.
func (p *Planner) shardsOf(ctx context.Context, schedule string) ([]targets.Shard, error) {
	if p.list == nil {
		return nil, nil
	}
	layouts, err := p.list.TargetLayouts(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the stored targets' layout: %w", err)
	}
	return layouts[schedule].Shards, nil
}

// recentRuns reads the schedule's most recent runs before at once per
// tick: the runs whose results give the stored targets' validators. None
// when the read fails: the stored targets' requests are then unconditional,
// which is only more expensive.
func (p *Planner) recentRuns(ctx context.Context, schedule string, at time.Time, log *zap.Logger) []string {
	prev, err := p.list.RecentRuns(ctx, schedule, at, store.PreviousRuns)
	if err != nil {
		log.Warn("previous runs not read; the stored targets' requests are unconditional", zap.Error(err))
		return nil
	}
	return prev
}

// sendShards sends run's event to each shard (run is the event without
// its shard); tails are the first IDs of the shards' tails the tick
// planned, by shard index.
func (p *Planner) sendShards(ctx context.Context, run ShardMessage, shards []targets.Shard, tails map[int]string) error {
	msgs := make([]queue.Outgoing, 0, len(shards))
	names := make([]string, 0, len(shards))
	for _, sh := range shards {
		m := run
		m.Shard, m.Tail = sh, tails[sh.Index]
		body, err := job.Encode(m)
		if err != nil {
			return err
		}
		msgs = append(msgs, queue.Outgoing{ID: fmt.Sprintf("shard-%d", sh.Index), Body: body})
		names = append(names, fmt.Sprintf("shard %d", sh.Index))
	}
	return p.send(ctx, p.shards, "shard events", msgs, names)
}

// HandleShard plans one shard of a run. A repeated message plans the same
// jobs again; its part is recorded once.
func (p *Planner) HandleShard(ctx context.Context, m ShardMessage) (ShardResponse, error) {
	if p.list == nil {
		return ShardResponse{}, fmt.Errorf("%w: a shard event reached a planner without a target list", ErrBadTick)
	}
	log := obs.FromContext(ctx, p.log).With(obs.RunID(m.RunID), zap.String("schedule", m.Schedule), zap.Int("shard", m.Shard.Index))
	resp := ShardResponse{RunID: m.RunID, Shard: m.Shard.Index}
	stored, err := p.list.ShardTargets(ctx, m.Shard)
	if err != nil {
		return resp, fmt.Errorf("read shard %d of %s: %w", m.Shard.Index, m.RunID, err)
	}
	part := m
	if m.Tail != "" { // the tick planned the targets from Tail on
		stored = stored[:sort.Search(len(stored), func(i int) bool { return stored[i].ID >= m.Tail })]
		part.Shard.To = m.Tail
	}
	planned, err := p.planStored(ctx, part, stored, log)
	if err != nil {
		return resp, fmt.Errorf("plan shard %d of %s: %w", m.Shard.Index, m.RunID, err)
	}
	msgs, ids := planned.msgs, planned.ids
	resp.Unplannable, resp.Late = planned.unplannable, planned.late
	// The part is recorded before its jobs are sent, as the run is.
	created, err := p.list.PutPlanPart(ctx, store.PlanPart{RunID: m.RunID, Shard: m.Shard.Index, Planned: len(msgs), Targets: ids})
	if err != nil {
		return resp, fmt.Errorf("record shard %d of %s: %w", m.Shard.Index, m.RunID, err)
	}
	resp.Planned, resp.NewPart = len(msgs), created
	if err := p.send(ctx, p.jobs, "jobs", msgs, ids); err != nil {
		return resp, fmt.Errorf("plan shard %d of %s: %w", m.Shard.Index, m.RunID, err)
	}
	if resp.Late > 0 {
		log.Warn("shard started after its pacing began; its hosts are paced from its own start",
			zap.Duration("late", resp.Late))
	}
	log.Info("shard planned", zap.Int("planned", len(msgs)), zap.Bool("new_part", created), zap.Int("unplannable", resp.Unplannable),
		zap.Duration("paced_over", planned.pace.span), zap.String("slowest_host", planned.pace.slowest))
	p.metrics.Add(metrics.JobsPlanned, m.Schedule, "", float64(len(msgs)))
	if err := p.metrics.Flush(); err != nil {
		log.Warn("metrics not written", zap.Error(err))
	}
	return resp, nil
}

// storedJobs are the jobs planned for some stored targets of a shard.
type storedJobs struct {
	msgs []queue.Outgoing
	ids  []string // msgs' targets, in order
	// unplannable counts the targets not planned: targets.yaml no longer
	// defines their schedule or extract (each is logged).
	unplannable int
	late        time.Duration // how long after PacedFrom they were paced from
	pace        *pacer
}

// planStored plans the jobs of stored, targets of m's shard in ID order
// (m.Shard bounds the part of it they are in): each is resolved against
// targets.yaml, gets the validators of its newest result in the run's
// previous runs (read by key, over m.Shard's range), and is paced by its
// rank from m.PacedFrom (or from now, when that has passed).
func (p *Planner) planStored(ctx context.Context, m ShardMessage, stored []targets.Stored, log *zap.Logger) (storedJobs, error) {
	out := storedJobs{msgs: make([]queue.Outgoing, 0, len(stored)), ids: make([]string, 0, len(stored))}
	tgts := make([]targets.Target, 0, len(stored))
	ranks := make([]int, 0, len(stored))
	for _, s := range stored {
		t, err := p.targets.Resolve(s.Entry)
		if err == nil && t.Schedule != m.Schedule {
			err = fmt.Errorf("target %q is of schedule %q now, not %q", s.ID, t.Schedule, m.Schedule)
		}
		if err != nil {
			// Not planned; said once per tick, loudly: the user fixes
			// targets.yaml or the list.
			log.Error("target not planned", zap.String("target_id", s.ID), zap.Error(err))
			out.unplannable++
			continue
		}
		tgts = append(tgts, t)
		ranks = append(ranks, s.Rank)
		out.ids = append(out.ids, t.ID)
	}
	prev := p.shardPrevious(ctx, m.Shard, m.PreviousRuns, tgts, out.ids, log)

	now := p.now().UTC()
	base := m.PacedFrom
	if now.After(base) {
		out.late, base = now.Sub(base), now
	}
	own := p.ownPerHost(m.Schedule)
	out.pace = newPacer(base)
	for i, t := range tgts {
		j := t.Job(m.RunID, m.ScheduledAt)
		j.Previous = prev[t.ID]
		host := t.Host()
		delay, notBefore := out.pace.at(host, own[host]+ranks[i], t.HostRate, now)
		j.NotBefore = notBefore
		body, err := job.Encode(j)
		if err != nil {
			return out, err
		}
		out.msgs = append(out.msgs, queue.Outgoing{ID: entryID(len(out.msgs)), Body: body,
			Attributes: job.Attributes(j.RunID, j.TargetID), Delay: delay})
	}
	return out, nil
}

// shardPrevious returns the validators of some of sh's targets, as
// previous does for a whole tick; none when the read fails.
func (p *Planner) shardPrevious(ctx context.Context, sh targets.Shard, runIDs []string, tgts []targets.Target, ids []string, log *zap.Logger) map[string]*job.Previous {
	if len(tgts) == 0 || len(runIDs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, previousTimeout)
	defer cancel()
	vs, err := p.list.ShardPrevious(ctx, sh, runIDs, ids)
	if err != nil {
		log.Warn("previous results not read; these stored targets' requests are unconditional", zap.Int("shard", sh.Index), zap.Error(err))
		return nil
	}
	return validators(tgts, vs)
}

// ownPerHost is how many of schedule's targets.yaml targets each host has:
// they are planned first (ranks 0 …), so a stored target's rank follows
// them.
func (p *Planner) ownPerHost(schedule string) map[string]int {
	p.ownMu.Lock()
	defer p.ownMu.Unlock()
	if n, ok := p.own[schedule]; ok {
		return n
	}
	n := map[string]int{}
	for _, t := range p.targets.TargetsFor(schedule) {
		n[t.Host()]++
	}
	if p.own == nil {
		p.own = map[string]map[string]int{}
	}
	p.own[schedule] = n
	return n
}

// HandleEvent is the planner Lambda's handler: EventBridge Scheduler
// invokes it with a Tick, and the tick's planner with a ShardMessage per
// shard of a stored target list. It tells them apart by the shard field.
func (p *Planner) HandleEvent(ctx context.Context, payload json.RawMessage) (any, error) {
	var probe struct {
		Shard json.RawMessage `json:"shard"`
	}
	if err := json.Unmarshal(payload, &probe); err != nil {
		return nil, fmt.Errorf("%w: the event is not a JSON object: %v", ErrBadTick, err)
	}
	if probe.Shard != nil {
		m, err := DecodeShardMessage(payload)
		if err != nil {
			return nil, err
		}
		return p.HandleShard(ctx, m)
	}
	var tick Tick
	if err := json.Unmarshal(payload, &tick); err != nil {
		return nil, err
	}
	return p.Handle(ctx, tick)
}
