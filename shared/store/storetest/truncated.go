package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/store"
)

// truncatedResult is an ok result of target in the i-th tick whose fields
// were cut to fit job.MaxFieldsBytes, as the worker sends it: a list, an
// object and a string cut, the title whole, and the fields' canonical JSON
// just under the limit. The string is markup ("<", ">", "&"), which JSON
// encoders that escape HTML make six bytes each: the stored item must
// still fit (a DynamoDB item holds 400 KB).
func truncatedResult(target string, i int, hash string) job.Result {
	r := okResult(target, i, hash)
	links := make([]any, 1000)
	for k := range links {
		links[k] = fmt.Sprintf("https://example.com/docs/%06d", k)
	}
	og := map[string]any{"og:description": strings.Repeat("d", 500), "og:image": "https://example.com/i.png"}
	// The string brings the fields to about MaxFieldsBytes - 1 KiB as JSON.
	html := strings.Repeat("<a>&</a>", (job.MaxFieldsBytes-1024-35*1000-600)/8)
	r.Fields = map[string]any{"title": "Big page", "links": links, "og": og, "html": html}
	r.Truncated = map[string]job.Truncation{
		"links": {Bytes: 1_048_576, Items: 30_000, KeptBytes: 2 + 1000*35 - 1, KeptItems: 1000},
		"og":    {Bytes: 4000, Items: 9, KeptBytes: 560, KeptItems: 2},
		"html":  {Bytes: 900_000, KeptBytes: len(html) + 2},
	}
	return r
}

// testTruncated: the fields a worker cut, and how (job.Result.Truncated),
// are stored and read back with the result, also at the largest size of
// fields; a 304 that takes the previous result's fields takes their
// truncation too; a result without a cut reads back with none.
func testTruncated(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("round trip at the largest fields", func(t *testing.T) {
		s := newStore(t)
		r := truncatedResult("big", 0, "H0")
		if err := r.Validate(); err != nil {
			t.Fatalf("the test's result is not valid: %v", err)
		}
		putResult(t, s, r)
		checkResult(t, "Result", getResult(t, s, "big", runID(0)), r)
		if got := latest(t, s, "big"); len(got) != 1 {
			t.Errorf("Latest(big) = %v, want the one result", targetsOf(got))
		} else {
			checkResult(t, "Latest", got[0], r)
		}
		if got := runResults(t, s, runID(0)); len(got) != 1 {
			t.Errorf("RunResults = %v, want the one result", targetsOf(got))
		} else {
			checkResult(t, "RunResults", got[0], r)
		}
		got, err := queries(t, s).History(t.Context(), "big", time.Time{}, time.Time{}, 0)
		if err != nil || len(got) != 1 {
			t.Fatalf("History(big) = %v, %v; want the one result", targetsOf(got), err)
		}
		checkResult(t, "History", got[0], r)
	})
	t.Run("not truncated", func(t *testing.T) {
		s := newStore(t)
		putResult(t, s, okResult("a", 0, "A"))
		if got := getResult(t, s, "a", runID(0)); got.Truncated != nil {
			t.Errorf("a result without a cut reads back with truncated %v", got.Truncated)
		}
	})
	t.Run("304 takes the truncation with the fields", func(t *testing.T) {
		s := newStore(t)
		first := truncatedResult("a", 0, "A")
		putResult(t, s, first)
		nm := notModified("a", 1, "A")
		putResult(t, s, nm)
		want := nm
		want.Fields, want.Truncated = first.Fields, first.Truncated
		checkResult(t, "Result of the 304", getResult(t, s, "a", runID(1)), want)
		if got := latest(t, s, "a"); len(got) != 1 {
			t.Errorf("Latest(a) = %v, want the 304's result", targetsOf(got))
		} else {
			checkResult(t, "Latest after the 304", got[0], want)
		}
		// A later page that fits is not truncated, and is changed.
		whole := okResult("a", 2, "B")
		if out := putResult(t, s, whole); !out.Changed {
			t.Errorf("a page after the truncated one: outcome %+v, want changed", out)
		}
		whole.Changed = true
		checkResult(t, "Result after", getResult(t, s, "a", runID(2)), whole)
	})
}
