package targets_test

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/targets"
)

// goldenEntries is a list of n targets over three schedules and 37 hosts
// (some with upper case and ports), with every setting an entry can have.
func goldenEntries(n, from int) []targets.Entry {
	es := make([]targets.Entry, n)
	for k := range es {
		i := from + k
		host := fmt.Sprintf("h%d.example.com", i%37)
		switch i % 37 {
		case 3:
			host = "H3.Example.COM:8443"
		case 4:
			host = "user@h4.example.com"
		}
		e := targets.Entry{
			ID:       fmt.Sprintf("g-%06d", i*7919%1_000_003),
			URL:      fmt.Sprintf("https://%s/p/%d?q=%d#f", host, i, i%5),
			Schedule: []string{"hourly", "daily", "weekly"}[i%3],
		}
		switch i % 11 {
		case 0:
			e.Timeout = time.Duration(i%30+1) * time.Second
		case 1:
			e.Robots = new(i%2 == 0)
		case 2:
			e.UserAgent = "bot/1"
		case 3:
			e.Rules = map[string]job.Rule{"title": {CSS: "h1"}, "price": {CSS: ".p", Attr: "data-v", Required: true}}
		case 4:
			e.Extract = "product"
		}
		es[k] = e
	}
	return es
}

// digest is a fingerprint of everything a change writes, in its order.
func digest(t *testing.T, ch targets.Change) string {
	t.Helper()
	b, err := json.Marshal(ch)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// The changes PlanList computes for a sequence of imports are exactly the
// ones it computed before its allocations were cut (issue 16): a store
// holds targets under shard and rank keys, so a different result for the
// same input would move stored targets. A deliberate change of the layout
// or of the ranks updates the digests (print them with -v).
func TestPlanListGolden(t *testing.T) {
	size := targets.WithShardSize(500)
	first := goldenEntries(24_000, 0)

	second := slices.Clone(first[300:]) // 300 removed
	for i := 0; i < len(second); i += 97 {
		second[i].URL += "&v=2" // changed
	}
	for i := 5; i < len(second); i += 131 {
		second[i].Schedule = "monthly" // moved to another schedule
	}
	for i := 9; i < len(second); i += 151 {
		second[i].Rules, second[i].Extract = nil, "product" // rules changed
	}
	second = append(second, goldenEntries(400, 24_000)...) // added

	small := append(slices.Clone(second[20:]), goldenEntries(10, 30_000)...) // a few removed and added: boundaries kept

	var third []targets.Entry // every other weekly target gone, hourly dropped: shards shrink, ranks repack
	for i, e := range small {
		if e.Schedule == "hourly" || (e.Schedule == "weekly" && i%2 == 0) {
			continue
		}
		third = append(third, e)
	}
	fourth := goldenEntries(700, 50_000) // small enough for one shard a schedule

	want := []string{
		"75979f38324b60d461bab5ebb82d5f43bb43aca5c3d1e8cf1e68655be6490f1f",
		"cb51b3dda786570fceeacc30d881d11aab68b186f2ada766669bf78b3d2b2d3b",
		"a06073878e21045e50c830d6cd728343e4ccb2fe382e545b33289bc40fa18f44",
		"1e91cdeff1fac6bfbaa8ffdbd368106ed4ae52c9de7acd0a0a4201ea013a8fdd",
		"4360662fb5f8d03385e17e517947e08c69f441501fd124299c62745a96568c84",
	}
	var cur []targets.Stored
	layouts := map[string]targets.Layout{}
	for i, es := range [][]targets.Entry{first, second, small, third, fourth} {
		ch := targets.PlanList(cur, layouts, es, size)
		got := digest(t, ch)
		t.Logf("import %d: %d puts, %d deletes, %d layouts, %d shards: %s", i+1, len(ch.Put), len(ch.Delete), len(ch.Layouts), shards(ch), got)
		if got != want[i] {
			t.Errorf("import %d: the change's digest is %s, want %s", i+1, got, want[i])
		}
		cur, layouts = apply(cur, ch), mergeLayouts(layouts, ch)
		slices.SortFunc(cur, func(a, b targets.Stored) int { return cmpString(a.ID, b.ID) })
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func shards(ch targets.Change) int {
	n := 0
	for _, l := range ch.Layouts {
		n += len(l.Shards)
	}
	return n
}
