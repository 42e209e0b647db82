package targets

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
)

// benchRows is the size of the benchmarks' lists: a tenth of the million
// that the import must read in well under its two minutes (issue 16).
const benchRows = 100_000

// benchEntries are a list like a price monitor's: a thousand shops, named
// rules for most targets, a few settings of their own.
func benchEntries(n int) []Entry {
	entries := make([]Entry, n)
	for i := range entries {
		e := Entry{
			ID:       fmt.Sprintf("shop-%d-item-%07d", i%1000, i),
			URL:      fmt.Sprintf("https://shop-%d.example.com/products/%d?ref=monitor", i%1000, i),
			Schedule: []string{"hourly", "daily"}[i%2],
		}
		switch i % 10 {
		case 0:
			e.Timeout = 30_000_000_000 // 30s
		case 1:
			e.Robots = boolPtr(false)
		case 2:
			e.UserAgent = "pricebot/2.0 (+https://example.com/bot)"
		}
		if i%4 != 0 {
			e.Extract = "product"
		}
		entries[i] = e
	}
	return entries
}

func benchmarkParseList(b *testing.B, format string) {
	f, err := Parse("targets.yaml", listBase)
	if err != nil {
		b.Fatal(err)
	}
	var data bytes.Buffer
	if err := WriteList(&data, format, benchEntries(benchRows)); err != nil {
		b.Fatal(err)
	}
	name := "list." + format
	b.SetBytes(int64(data.Len()))
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		entries, err := ParseList(name, data.Bytes(), f)
		if err != nil || len(entries) != benchRows {
			b.Fatalf("ParseList: %d entries, %v", len(entries), err)
		}
	}
	runtime.ReadMemStats(&after)
	rows := float64(b.N) * benchRows
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/rows, "ns/row")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/rows, "allocs/row")
}

// BenchmarkParseListCSV reads a CSV list of benchRows targets.
func BenchmarkParseListCSV(b *testing.B) { benchmarkParseList(b, FormatCSV) }

// BenchmarkParseListJSONL reads a JSON lines list of benchRows targets.
func BenchmarkParseListJSONL(b *testing.B) { benchmarkParseList(b, FormatJSONL) }
