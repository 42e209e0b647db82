package dynamo

import (
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo/dynamometer"
	"github.com/cronless/cronless/shared/store/storetest"
)

var _ API = (*dynamometer.Meter)(nil)

// itemKind labels an item for the meter by its key (docs/aws.md, "Table").
func itemKind(_ string, k dynamometer.Item) string {
	pk, sk := item(k).Str(AttrPK), item(k).Str(AttrSK)
	switch {
	case strings.HasPrefix(sk, prefixResult):
		return "result"
	case strings.HasPrefix(pk, prefixTargets):
		return "target"
	case sk == skRun:
		return "run"
	case sk == skTargets:
		return "targets"
	case strings.HasPrefix(sk, prefixAttempt):
		return "attempt"
	case strings.HasPrefix(pk, prefixTargetList):
		return "stored target"
	case pk == pkLayouts:
		return "layout"
	case pk == pkPending:
		return "pending shards"
	case strings.HasPrefix(pk, prefixPart):
		return "plan part"
	}
	return "other"
}

// meteredStore returns a Store of a new table on dynalite through a meter.
func meteredStore(t *testing.T, client *dynamodb.Client, opts ...dynamometer.Option) (*Store, *dynamometer.Meter) {
	t.Helper()
	name := newTable(t, client)
	m := dynamometer.New(client, []*dynamodb.CreateTableInput{TableInput(name)}, append([]dynamometer.Option{dynamometer.WithLabel(itemKind)}, opts...)...)
	return New(m, name), m
}

// simulatedStore is a metered Store whose clock and the meter's are
// clock's: a simulated run, in which a tick lasts no time and ticks are an
// hour apart.
func simulatedStore(t *testing.T, client *dynamodb.Client, clock *frozen) (*Store, *dynamometer.Meter) {
	t.Helper()
	name := newTable(t, client)
	m := dynamometer.New(client, []*dynamodb.CreateTableInput{TableInput(name)}, dynamometer.WithLabel(itemKind), dynamometer.WithClock(clock.clock()))
	return New(m, name, WithClock(clock.clock())), m
}

// checkReported compares the meter's table figure of every call with the
// consumed capacity dynalite returned for it. dynalite reports a query of
// an index under the index, and a query that evaluated no item as 0 units
// where DynamoDB charges its minimum (1 unit, or 0.5 eventually
// consistent), so those queries are left out; so are BatchGetItem calls,
// whose units dynalite rounds over the whole batch where DynamoDB rounds
// each item.
func checkReported(t *testing.T, calls []dynamometer.Call) (compared int) {
	t.Helper()
	for i, c := range calls {
		if !c.HasReported || (c.Op == "Query" && c.Items == 0) || c.Op == "BatchGetItem" {
			continue
		}
		var got float64
		for target, u := range c.Units {
			if c.Op == "Query" || target == dynamometer.TableTarget {
				got += u.Write + u.Read
			}
		}
		if got != c.Reported {
			t.Errorf("call %d %s on a %s item: the meter counts %v units, dynalite reports %v", i, c.Op, c.Label, got, c.Reported)
		}
		compared++
	}
	return compared
}

// TestMeterMatchesDynalite runs the store contract through the meter and
// checks every call's table figure against dynalite's (ReturnConsumedCapacity
// INDEXES). The concurrent cases are left out: the meter reads an item's
// old image before a write, which another writer may change in between.
func TestMeterMatchesDynalite(t *testing.T) {
	client := dynalite(t)
	var compared atomic.Int64
	const racy = "the meter reads the old image before the write; concurrent writers change it in between"
	storetest.Run(t, func(t *testing.T) store.Store {
		s, m := meteredStore(t, client)
		t.Cleanup(func() {
			if !t.Failed() {
				compared.Add(int64(checkReported(t, m.Calls())))
			}
		})
		return s
	}, storetest.LeaveOut("ConcurrentRuns", racy), storetest.LeaveOut("ConcurrentOneTarget", racy),
		storetest.LeaveOut("DuplicateResultConcurrent", racy))
	if compared.Load() == 0 {
		t.Fatal("dynalite reported no consumed capacity to compare with")
	}
	t.Logf("%d calls' table units agree with dynalite's", compared.Load())
}

// TestShardsBalanced: a million target IDs spread over the run and target
// shards within 1% of an even share, so that no shard's partition key takes
// much more than its share of a run's writes.
func TestShardsBalanced(t *testing.T) {
	const n = 1_000_000
	for _, shards := range []int{RunShards, TargetShards} {
		counts := make([]int, shards)
		for i := range n {
			counts[shard(fmt.Sprintf("shop-%07d", i), shards)]++
		}
		even := float64(n) / float64(shards)
		for sh, c := range counts {
			if math.Abs(float64(c)-even) > 0.01*even {
				t.Errorf("%d shards: shard %d holds %d of %d IDs, want %.0f ± 1%%", shards, sh, c, n, even)
			}
		}
	}
}

// frozen is a clock that stands still until moved.
type frozen struct{ now atomic.Int64 }

func (f *frozen) set(t time.Time)         { f.now.Store(t.UnixNano()) }
func (f *frozen) at() time.Time           { return time.Unix(0, f.now.Load()).UTC() }
func (f *frozen) clock() func() time.Time { return f.at }
