package crawl

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/cronless/cronless/bench/fixture"
	"github.com/cronless/cronless/shared/job"
)

// BenchmarkParseMemory measures what ParseFactor estimates: the heap that
// fetchPage's parse, extraction and canonical JSON take for one big page of
// documentation-like HTML (fixture.DocPage), per byte of body.
//
//	go test -run '^$' -bench ParseMemory -benchtime 3x ./shared/crawl/
//
// alloc-x is every byte allocated, with the GC off: the peak had the GC not
// run at all. live-x is what is still live after a GC while the tree and
// the fields are held, at the end of the extraction: the floor of the peak.
// The true peak lies between, nearer live-x once GOMEMLIMIT makes the GC
// run. Both are per byte of body; the body itself is not counted.
func BenchmarkParseMemory(b *testing.B) {
	rules, err := newRuleCache(4).compile(map[string]job.Rule{
		"h1":    {CSS: "h1"},
		"links": {CSS: "a[href]", Attr: "href", All: true},
		"code":  {CSS: "pre code", All: true},
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{1 << 20, 2 << 20, 4 << 20, 5 << 20} {
		body := fixture.DocPage(1, size)
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			var alloc, live int64
			for b.Loop() {
				a, l := parseMemory(b, body, rules)
				alloc, live = max(alloc, a), max(live, l)
			}
			b.ReportMetric(float64(alloc)/float64(len(body)), "alloc-x")
			b.ReportMetric(float64(live)/float64(len(body)), "live-x")
			b.ReportMetric(float64(alloc)/(1<<20), "alloc-MiB")
			b.ReportMetric(float64(live)/(1<<20), "live-MiB")
		})
	}
}

// parseMemory runs what fetchPage runs on body once and returns the bytes
// it allocated (GC off) and those live at its end (after a GC).
func parseMemory(b *testing.B, body []byte, rules []*rule) (alloc, live int64) {
	b.Helper()
	const pageURL = "https://docs.example/doc1/index.html"
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := int64(ms.HeapAlloc)
	old := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(old)
	doc, err := parseHTML(body)
	if err != nil {
		b.Fatal(err)
	}
	fields, ferr := extract(doc, rules, newAbsolutizer(pageURL, doc), pageURL)
	if ferr != nil {
		b.Fatal(ferr)
	}
	encoded := canonicalJSON(fields)
	runtime.ReadMemStats(&ms)
	alloc = int64(ms.HeapAlloc) - base
	runtime.GC()
	runtime.ReadMemStats(&ms)
	live = int64(ms.HeapAlloc) - base
	runtime.KeepAlive(doc)
	runtime.KeepAlive(encoded)
	if len(fields["links"].([]string)) < 100 {
		b.Fatalf("links = %d, want the page's many links", len(fields["links"].([]string)))
	}
	return alloc, live
}
