package dynamo

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cronless/cronless/shared/store/dynamo/ddb"
	"github.com/cronless/cronless/shared/targets"
)

// The stored target list (docs/aws.md, "Table"): a target is an item of its
// shard's partition, TL#<schedule>#<shard index>, keyed T#<target ID>, so a
// shard is one Query by key and the shards of a tick, planned at once, read
// as many partition keys. Its schedule and shard are its PK's and its ID its
// SK's; the item holds only the entry's own settings and its rank, some 100
// bytes. A schedule's layout (its shards' bounds) is one item of the
// partition TLAYOUT, read once per tick and per shard.

func targetListPK(schedule string, shard int) string {
	return prefixTargetList + schedule + "#" + strconv.Itoa(shard)
}

// storedItem is the item of a stored target.
func storedItem(st targets.Stored) (item, error) {
	it := ddb.Key(targetListPK(st.Schedule, st.Shard), targetPK(st.ID))
	it.SetS(attrURL, st.URL)
	if st.Rank != 0 {
		it.SetN(attrRank, int64(st.Rank))
	}
	if st.Timeout != 0 {
		it.SetN(attrTimeout, int64(st.Timeout))
	}
	it.SetS(attrUserAgent, st.UserAgent)
	if st.Robots != nil {
		it[attrRobots] = ddb.Bool(*st.Robots)
	}
	it.SetS(attrExtract, st.Extract)
	if len(st.Rules) > 0 {
		text, err := jsonText(st.Rules)
		if err != nil {
			return nil, fmt.Errorf("target %q: extract rules: %w", st.ID, err)
		}
		it.SetS(attrRules, text)
	}
	return it, nil
}

// decodeStored reads a stored target's item.
func decodeStored(it item) (targets.Stored, error) {
	fail := func(err error) (targets.Stored, error) {
		return targets.Stored{}, fmt.Errorf("stored target %s: %w", it.KeyString(), err)
	}
	pk := strings.TrimPrefix(it.Str(AttrPK), prefixTargetList)
	i := strings.LastIndexByte(pk, '#')
	if i < 0 {
		return fail(fmt.Errorf("partition key is not %s<schedule>#<shard>", prefixTargetList))
	}
	shard, err := strconv.Atoi(pk[i+1:])
	if err != nil {
		return fail(fmt.Errorf("shard: %w", err))
	}
	st := targets.Stored{Shard: shard, Entry: targets.Entry{
		ID:        strings.TrimPrefix(it.Str(AttrSK), prefixTarget),
		URL:       it.Str(attrURL),
		Schedule:  pk[:i],
		UserAgent: it.Str(attrUserAgent),
		Extract:   it.Str(attrExtract),
	}}
	rank, err := it.Num(attrRank)
	if err != nil {
		return fail(err)
	}
	st.Rank = int(rank)
	timeout, err := it.Num(attrTimeout)
	if err != nil {
		return fail(err)
	}
	st.Timeout = time.Duration(timeout)
	if v, ok := it[attrRobots].(*types.AttributeValueMemberBOOL); ok {
		st.Robots = &v.Value
	}
	if text := it.Str(attrRules); text != "" {
		if err := json.Unmarshal([]byte(text), &st.Rules); err != nil {
			return fail(fmt.Errorf("extract rules: %w", err))
		}
	}
	return st, nil
}

// layoutShard is a shard as a layout item holds it: short names, since a
// layout is read by every shard of every tick.
type layoutShard struct {
	Index int    `json:"i"`
	Group int    `json:"g"`
	From  string `json:"f,omitempty"`
	To    string `json:"t,omitempty"`
	Count int    `json:"n"`
}

// layoutItem is the item of a schedule's layout.
func layoutItem(l targets.Layout) (item, error) {
	shards := make([]layoutShard, len(l.Shards))
	for i, s := range l.Shards {
		shards[i] = layoutShard{Index: s.Index, Group: s.Group, From: s.From, To: s.To, Count: s.Count}
	}
	text, err := jsonText(shards)
	if err != nil {
		return nil, fmt.Errorf("layout of schedule %q: %w", l.Schedule, err)
	}
	it := ddb.Key(pkLayouts, l.Schedule)
	it[attrLayout] = ddb.S(text)
	return it, nil
}

// decodeLayout reads a layout item.
func decodeLayout(it item) (targets.Layout, error) {
	var shards []layoutShard
	if err := json.Unmarshal([]byte(it.Str(attrLayout)), &shards); err != nil {
		return targets.Layout{}, fmt.Errorf("stored layout %s: %w", it.KeyString(), err)
	}
	l := targets.Layout{Schedule: it.Str(AttrSK), Shards: make([]targets.Shard, len(shards))}
	for i, s := range shards {
		l.Shards[i] = targets.Shard{Schedule: l.Schedule, Index: s.Index, Group: s.Group, From: s.From, To: s.To, Count: s.Count}
	}
	return l, nil
}

// checkSchedule checks a schedule name as a key part: targets.yaml's names
// never hold "#", which ends it in a stored target's partition key.
func checkSchedule(schedule string) error {
	if schedule == "" || strings.Contains(schedule, "#") {
		return fmt.Errorf("schedule %q is empty or holds a \"#\"; use the schedule's name in targets.yaml", schedule)
	}
	return nil
}

// storedKey names a stored target's item by its key.
func storedKey(st targets.Stored) string {
	return targetListPK(st.Schedule, st.Shard) + " " + targetPK(st.ID)
}

// checkStored checks what a stored target's key needs.
func checkStored(st targets.Stored) error {
	switch {
	case st.ID == "":
		return fmt.Errorf("a target of schedule %q has no ID", st.Schedule)
	case st.Shard < 0:
		return fmt.Errorf("target %q: shard %d is negative", st.ID, st.Shard)
	}
	if err := checkSchedule(st.Schedule); err != nil {
		return fmt.Errorf("target %q: %w", st.ID, err)
	}
	return nil
}

// prefixTargetEnd sorts after every T#<target ID> ("$" follows "#"): the
// open upper end of a range of them.
const prefixTargetEnd = "T$"
