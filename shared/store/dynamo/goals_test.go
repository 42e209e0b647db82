package dynamo

import (
	"flag"
	"fmt"
	"go/format"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/cronless/cronless/shared/cost"
	"github.com/cronless/cronless/shared/store"
	"github.com/cronless/cronless/shared/store/dynamo/ddb"
	"github.com/cronless/cronless/shared/store/dynamo/dynamometer"
	"github.com/cronless/cronless/shared/store/storetest"
)

// The schema's goals (issue 15; docs/aws.md, "Measured units per stored
// result"), asserted on the meter's figures.
const (
	// goalWRU is the most write units a stored result of about 2 KiB may
	// cost, averaged over a run: every write it causes (table, index,
	// target list, run, fields holder, Changed fix-ups).
	goalWRU = 3.0
	// goalPlannerRRU is the most read units the planner's read of a tick
	// may cost per target.
	goalPlannerRRU = 0.1
	// A partition key takes about 1,000 WCU and 3,000 RCU a second
	// (DynamoDB Developer Guide, "Best practices for designing and using
	// partition keys effectively": per partition).
	goalKeyWCU, goalKeyRCU = 1000.0, 3000.0
	// millionRate is the results a second of a run of a million results
	// stored in 10 minutes.
	millionRate = 1_000_000.0 / 600
)

var updateMeasured = flag.Bool("update-measured", false, "rewrite shared/cost/measured.go with the figures TestGoals measures")

// perResult sums one kind of result's units and sizes.
type perResult struct {
	n                               int
	units                           dynamometer.Units
	itemBytes, entryBytes, zipBytes int
	fieldsBytes                     int
}

func (p *perResult) add(u dynamometer.Units, it item, fieldsJSON int) {
	p.n++
	p.units = p.units.Add(u)
	p.itemBytes += dynamometer.ItemSize(it)
	e := item{}
	for _, name := range append([]string{AttrPK, AttrSK, AttrGSI1PK, AttrGSI1SK}, gsi1Include...) {
		if v, ok := it[name]; ok {
			e[name] = v
		}
	}
	p.entryBytes += dynamometer.ItemSize(e)
	p.fieldsBytes += fieldsJSON
	if v, ok := it[attrFields]; ok {
		p.zipBytes += dynamometer.ValueSize(v)
	}
}

func (p perResult) per() dynamometer.Units { return p.units.Div(float64(p.n)) }
func (p perResult) avg(total int) int      { return int(math.Round(float64(total) / float64(p.n))) }

// TestGoals measures what a stored result of a realistic product page
// (storetest.ProductPage, about 1.4 KB of fields) costs, in a workload like
// v1's baseline (dynamov1.TestBaselineV1): six hourly runs of 40 targets,
// each page unchanged since the previous run with a chance of one in four
// (seeded); then the
// planner's read of the next tick, and the load on the hottest partition key
// of a 400-target run scaled to a million results in 10 minutes (the clock
// stands still during a run, so a key's units "in its second" are its units
// of the whole run; divided by the results they are its units per result,
// which at millionRate results a second is its load; the shards are
// balanced within 1% for a million IDs: TestShardsBalanced).
//
//	CRONLESS_STANDINS=required go test -run 'TestGoals$' -v ./shared/store/dynamo/
//
// prints the figures docs/aws.md quotes; -update-measured writes them to
// shared/cost/measured.go, from which `cronless cost` prices a result, and
// which this test compares with the measurement, so the two cannot drift.
func TestGoals(t *testing.T) {
	const (
		targets = 40
		runsN   = 6
	)
	client := dynalite(t)
	var clock frozen
	s, m := simulatedStore(t, client, &clock)
	ids := make([]string, targets)
	for i := range ids {
		ids[i] = fmt.Sprintf("shop-%03d", i)
	}
	version := make([]int, targets)
	rng := rand.New(rand.NewPCG(15, 1))
	var changed, unchanged perResult
	var runWRU, plannerRRU float64
	for tickN := range runsN {
		clock.set(storetest.Tick(tickN))
		if tickN > 0 {
			// The planner's read before this tick.
			m.Reset()
			vs, err := s.Previous(t.Context(), "hourly", storetest.Tick(tickN))
			if err != nil || len(vs) != targets {
				t.Fatalf("Previous before tick %d: %d validators, %v; want %d", tickN, len(vs), err, targets)
			}
			if tickN == runsN-1 {
				plannerRRU = m.Total().Read / targets
			}
		}
		m.Reset()
		if _, err := s.PutRun(t.Context(), store.Run{ID: storetest.RunID(tickN), Schedule: "hourly", ScheduledAt: storetest.Tick(tickN), Planned: targets, Targets: ids}); err != nil {
			t.Fatal(err)
		}
		runWRU = m.Total().Write
		for i, id := range ids {
			// After the first run, a page is unchanged with a chance of one
			// in four (so that unchanged pages follow changed ones too).
			same := tickN > 0 && rng.IntN(4) == 0
			if !same {
				version[i]++
			}
			r := storetest.ProductPage(id, tickN, version[i]+100*i)
			m.Reset()
			if _, err := s.PutResult(t.Context(), r); err != nil {
				t.Fatal(err)
			}
			if tickN < 2 { // the first runs read fewer neighbours: not steady
				continue
			}
			it := rawItem(t, client, s.table, ddb.Key(targetPK(id), resultSK(r.ScheduledAt, r.RunID)))
			text, err := jsonText(r.Fields)
			if err != nil {
				t.Fatal(err)
			}
			if same {
				unchanged.add(m.Total(), it, len(text))
				if _, stored := it[attrFields]; stored || it.Str(attrFieldsIn) == "" {
					t.Errorf("unchanged page %s of tick %d: its item stores the fields again (fields_in %q)", id, tickN, it.Str(attrFieldsIn))
				}
			} else {
				changed.add(m.Total(), it, len(text))
			}
		}
	}
	steady := perResult{n: changed.n + unchanged.n, units: changed.units.Add(unchanged.units)}
	t.Logf("changed page: %s per result; item %d B (fields %d B as JSON, %d B gzip'd), GSI1 entry %d B",
		changed.per(), changed.avg(changed.itemBytes), changed.avg(changed.fieldsBytes), changed.avg(changed.zipBytes), changed.avg(changed.entryBytes))
	t.Logf("unchanged page: %s per result; item %d B, GSI1 entry %d B",
		unchanged.per(), unchanged.avg(unchanged.itemBytes), unchanged.avg(unchanged.entryBytes))
	t.Logf("a run with a quarter unchanged: %s per result; PutRun %.0f WRU; planner %.3f RRU per target (%d targets: the floor of 9 queries)",
		steady.per(), runWRU, plannerRRU, targets)
	if w := steady.per().Write; w > goalWRU {
		t.Errorf("a stored result costs %.2f WRU averaged over a run, want at most %.0f", w, goalWRU)
	}
	if w := changed.per().Write; w > goalWRU {
		t.Errorf("a changed page's result costs %.2f WRU, want at most %.0f even when every page changed", w, goalWRU)
	}

	got := cost.StoreMeasure{
		FieldsBytes: changed.avg(changed.fieldsBytes), CompressedFieldsBytes: changed.avg(changed.zipBytes),
		ChangedItemBytes: changed.avg(changed.itemBytes), UnchangedItemBytes: unchanged.avg(unchanged.itemBytes),
		IndexEntryBytes: changed.avg(changed.entryBytes),
		ChangedWRU:      round3(changed.per().Write), UnchangedWRU: round3(unchanged.per().Write),
		ChangedRRU: round3(changed.per().Read), UnchangedRRU: round3(unchanged.per().Read),
		PutRunWRU: round3(runWRU),
	}
	got.PlannerRRUPerTarget = round3(hotKeys(t, client))
	checkMeasured(t, got)
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// checkMeasured compares the measurement with shared/cost/measured.go, or
// rewrites that file with it (-update-measured).
func checkMeasured(t *testing.T, got cost.StoreMeasure) {
	t.Helper()
	path := filepath.Join("..", "..", "cost", "measured.go")
	if *updateMeasured {
		src := fmt.Sprintf(`// Code generated by TestGoals in shared/store/dynamo (go test -run 'TestGoals$' -update-measured); DO NOT EDIT.

package cost

// Measured is what the dynamo store's PutResult, PutRun and Previous cost,
// measured by its meter (shared/store/dynamo/dynamometer) on dynalite for a
// product page of %d bytes of fields: the figures Estimate prices a result
// with.
var Measured = %#v
`, got.FieldsBytes, got)
		src = strings.Replace(src, "cost.StoreMeasure{", "StoreMeasure{", 1)
		formatted, err := format.Source([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, formatted, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
		return
	}
	if got != cost.Measured {
		t.Errorf("the store's measured cost is\n %+v\nbut the cost model prices\n %+v\n(rerun with -update-measured, and update docs/aws.md)", got, cost.Measured)
	}
}

// hotKeys stores a run of 400 targets after a first run, and checks the
// most loaded partition key of the table and of GSI1, scaled to a million
// results in 10 minutes, against a partition's limits.
func hotKeys(t *testing.T, client *dynamodb.Client) float64 {
	t.Helper()
	const targets = 400
	var clock frozen
	s, m := simulatedStore(t, client, &clock)
	var plannerRRU float64
	for tickN := range 2 {
		clock.set(storetest.Tick(tickN))
		m.Reset()
		if tickN > 0 {
			vs, err := s.Previous(t.Context(), "hourly", storetest.Tick(tickN))
			if err != nil || len(vs) != targets {
				t.Fatalf("Previous: %d validators, %v; want %d", len(vs), err, targets)
			}
			plannerRRU = m.Total().Read / targets
			m.Reset()
		}
		for i := range targets {
			v := 1000*i + tickN
			if i%4 == 0 {
				v = 1000 * i // unchanged
			}
			if _, err := s.PutResult(t.Context(), storetest.ProductPage(fmt.Sprintf("t%04d", i), tickN, v)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var (
		hotW, hotR dynamometer.PartitionSecond
		maxW, maxR float64
	)
	for k, u := range m.PerSecond() {
		if u.Write > maxW {
			hotW, maxW = k, u.Write
		}
		if u.Read > maxR {
			hotR, maxR = k, u.Read
		}
	}
	wcu, rcu := maxW/targets*millionRate, maxR/targets*millionRate
	t.Logf("hottest keys at %.0f results/s: writes %s %q %.0f WCU/s; reads %s %q %.0f RCU/s",
		millionRate, hotW.Target, hotW.Key, wcu, hotR.Target, hotR.Key, rcu)
	if wcu > goalKeyWCU {
		t.Errorf("partition key %s %q takes %.0f WCU/s in a run of a million results in 10 minutes, want at most %.0f", hotW.Target, hotW.Key, wcu, goalKeyWCU)
	}
	if rcu > goalKeyRCU {
		t.Errorf("partition key %s %q takes %.0f RCU/s in a run of a million results in 10 minutes, want at most %.0f", hotR.Target, hotR.Key, rcu, goalKeyRCU)
	}
	t.Logf("planner's read of a tick of %d targets: %.3f RRU per target", targets, plannerRRU)
	if plannerRRU > goalPlannerRRU {
		t.Errorf("the planner's read of a tick of %d targets costs %.3f RRU per target, want at most %.1f", targets, plannerRRU, goalPlannerRRU)
	}
	return plannerRRU
}
