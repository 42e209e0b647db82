package dynamov1

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo/ddb"
	"github.com/cronless/cronless/shared/store/dynamo/dynamometer"
	"github.com/cronless/cronless/shared/store/storetest"
)

var _ API = (*dynamometer.Meter)(nil)

// itemKind labels an item for the meter by its key (docs/aws.md, "Table").
func itemKind(_ string, k dynamometer.Item) string {
	sk := item(k).Str(AttrSK)
	switch {
	case strings.HasPrefix(sk, prefixResult):
		return "result"
	case sk == skLatest:
		return "latest"
	case sk == skRun:
		return "run"
	case sk == skTargets:
		return "targets"
	case strings.HasPrefix(sk, prefixAttempt):
		return "attempt"
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

// checkReported compares the meter's table figure of every call with the
// consumed capacity dynalite returned for it. dynalite reports a query of
// an index under the index, and a query that evaluated no item as 0 units
// where DynamoDB charges its minimum (1 unit, or 0.5 eventually
// consistent), so those queries are left out.
func checkReported(t *testing.T, calls []dynamometer.Call) (compared int) {
	t.Helper()
	for i, c := range calls {
		if !c.HasReported || (c.Op == "Query" && c.Items == 0) {
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

// baselineRun is one run's measurement, per stored result.
type baselineRun struct {
	n                int
	total            dynamometer.Units
	byTarget, byKind map[string]dynamometer.Units
	hot              dynamometer.PartitionSecond
	hotUnits         float64
}

// TestBaselineV1 measures the v1 schema's write and read units per stored
// result of a product page of about 1.7 KB of fields (storetest.ProductPage,
// the page v2's TestGoals measures; docs/aws.md, "Measured units per stored
// result", holds the figures of both): six runs of the same
// targets, in a quarter of which the page did not change since the previous
// run. A result's neighbour queries read up to 4 earlier results (their
// Limit), so reads grow over the first runs and are steady from the fifth.
// It asserts only that the meter agrees with dynalite and that the steady
// runs cost the same per result; v2's goals are for the next schema.
//
// The clock of the meter's per-second tally stands still during a run, so a
// partition key's units in "its second" are its units of the whole run:
// divided by the results, they are its units per stored result, which at
// 1,667 results a second (a million in 10 minutes) is its load.
func TestBaselineV1(t *testing.T) {
	const (
		targets = 40
		runsN   = 6
		rate    = 1_000_000.0 / 600 // results a second in the run
	)
	client := dynalite(t)
	var now time.Time
	s, m := meteredStore(t, client, dynamometer.WithClock(func() time.Time { return now }))
	ids := make([]string, targets)
	for i := range ids {
		ids[i] = fmt.Sprintf("shop-%03d", i)
	}
	version := make([]int, targets)
	var runs []baselineRun
	var all []dynamometer.Call
	for tickN := range runsN {
		m.Reset()
		now = tick(tickN)
		runID := job.RunID("hourly", tick(tickN))
		if _, err := s.PutRun(t.Context(), store.Run{ID: runID, Schedule: "hourly", ScheduledAt: tick(tickN), Planned: targets, Targets: ids}); err != nil {
			t.Fatal(err)
		}
		for i, id := range ids {
			if tickN == 0 || i%4 != 0 { // a quarter unchanged after the first run
				version[i]++
			}
			if _, err := s.PutResult(t.Context(), storetest.ProductPage(id, tickN, version[i]+100*i)); err != nil {
				t.Fatal(err)
			}
		}
		hw, _, hu := m.Hottest()
		runs = append(runs, baselineRun{n: targets, total: m.Total(), byTarget: m.ByTarget(), byKind: m.ByLabel(), hot: hw, hotUnits: hu.Write})
		all = append(all, m.Calls()...)
	}
	if checkReported(t, all) == 0 {
		t.Error("dynalite reported no consumed capacity")
	}
	it := rawItem(t, client, s.table, ddb.Key(targetPK(ids[1]), resultSK(job.RunID("hourly", tick(runsN-1)))))
	t.Logf("result item: %d bytes (DynamoDB's count), fields %d bytes", dynamometer.ItemSize(it), len(it.Str(attrFields)))
	for i, r := range runs {
		per := r.total.Div(float64(r.n))
		t.Logf("run %d (%d results%s): per stored result %s", i+1, r.n, map[bool]string{true: ", first", false: ", 1/4 unchanged"}[i == 0], per)
		t.Logf("  by target: %s", split(r.byTarget, r.n, "table", IndexGSI1, IndexLSI1))
		t.Logf("  by item:   %s", split(r.byKind, r.n, "result", "latest", "run", "targets", ""))
		t.Logf("  hottest partition key: %s %q, %.2f WRU per result, %.0f WCU/s at %.0f results/s", r.hot.Target, r.hot.Key,
			r.hotUnits/float64(r.n), r.hotUnits/float64(r.n)*rate, rate)
	}
	// The steady runs cost the same per result.
	a, b := runs[runsN-2].total.Div(targets), runs[runsN-1].total.Div(targets)
	if math.Abs(a.Write-b.Write) > 0.01 || math.Abs(a.Read-b.Read) > 0.01 {
		t.Errorf("per stored result, run %d %s and run %d %s differ: the measurement is not stable", runsN-1, a, runsN, b)
	}
}

// split formats units by key, per result, in the order of keys.
func split(by map[string]dynamometer.Units, n int, keys ...string) string {
	var parts []string
	for _, k := range keys {
		u := by[k].Div(float64(n))
		name := k
		if k == "" {
			name = "query of no item"
		}
		parts = append(parts, fmt.Sprintf("%s %.2f/%.2f", name, u.Write, u.Read))
	}
	var rest []string
	for k := range by {
		if !slices.Contains(keys, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		u := by[k].Div(float64(n))
		parts = append(parts, fmt.Sprintf("%s %.2f/%.2f", k, u.Write, u.Read))
	}
	return strings.Join(parts, ", ") + " (WRU/RRU)"
}
