package cmdutil

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cronless/cronless/shared/job"
)

func TestTruncatedNote(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   map[string]job.Truncation
		want string
	}{
		{"none", nil, ""},
		{"list", map[string]job.Truncation{"links": {Bytes: 1104001, Items: 8000, KeptBytes: 262063, KeptItems: 1899}},
			"[truncated links: 1899 of 8000 items, 1.1 MiB in all]"},
		{"string", map[string]job.Truncation{"body": {Bytes: 900, KeptBytes: 500}}, "[truncated body: 500 B of 900 B]"},
		{"rules' fields first, then built-ins", map[string]job.Truncation{
			"og":   {Bytes: 300 << 10, Items: 40, KeptBytes: 100 << 10, KeptItems: 12},
			"html": {Bytes: 2 << 20, KeptBytes: 150 << 10}},
			"[truncated html: 150.0 KiB of 2.0 MiB; og: 12 of 40 items, 300.0 KiB in all]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := TruncatedNote(tt.in); got != tt.want {
				t.Errorf("TruncatedNote = %q, want %q", got, tt.want)
			}
		})
	}
}

// A truncated result says so first in a table, before the fields that
// clipping may hide, and in its own CSV column.
func TestPrintResultsTruncated(t *testing.T) {
	r := job.Result{TargetID: "big", RunID: "r", Status: job.StatusOK, HTTPStatus: 200,
		Fields:    map[string]any{"title": "Big", "links": []any{"https://x/1"}},
		Truncated: map[string]job.Truncation{"links": {Bytes: 1104001, Items: 8000, KeptBytes: 14, KeptItems: 1}}}
	for _, tt := range []struct{ format, want string }{
		{"table", "[truncated links: 1 of 8000 items, 1.1 MiB in all] links=[https://x/1]"},
		{"json", `"truncated":{"links":{"bytes":1104001,"items":8000,"kept_bytes":14,"kept_items":1}}`},
		{"csv", `"{""links"":{""bytes"":1104001,""items"":8000,""kept_bytes"":14,""kept_items"":1}}"`},
	} {
		var b bytes.Buffer
		if err := PrintResults(&b, tt.format, []job.Result{r}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tt.want) {
			t.Errorf("%s output %q lacks %q", tt.format, b.String(), tt.want)
		}
	}
}
