package targets

import (
	"fmt"
	"testing"
)

// BenchmarkPlanList computes the change of a first import and of a
// re-import of a list of 10^5 and of 10^6 targets (issue 16's million).
// The re-import moves, changes, removes and adds a few hundred targets, as a
// daily refresh of a price monitor's list does. Run it at size by hand, one
// iteration each (the machine is shared):
//
//	go test -run '^$' -bench BenchmarkPlanList -benchtime 1x ./shared/targets
func BenchmarkPlanList(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		all := benchEntries(n + 100)
		entries := all[:n:n]
		first := PlanList(nil, nil, entries)
		current := first.Put
		next := append(entries[:0:0], entries[100:]...) // 100 removed
		for i := 0; i < len(next); i += len(next) / 100 {
			next[i].URL += "?v=2" // 100 changed
		}
		for i := 50; i < len(next); i += len(next) / 100 {
			next[i].Schedule = "weekly" // 100 moved
		}
		next = append(next, all[n:]...) // 100 added
		for _, c := range []struct {
			name    string
			current []Stored
			layouts map[string]Layout
			entries []Entry
		}{
			{"first", nil, nil, entries},
			{"reimport", current, first.Layouts, next},
		} {
			b.Run(fmt.Sprintf("%s/%d", c.name, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					ch := PlanList(c.current, c.layouts, c.entries)
					if len(ch.Layouts) == 0 && c.current == nil {
						b.Fatal("no layouts")
					}
				}
			})
		}
	}
}
