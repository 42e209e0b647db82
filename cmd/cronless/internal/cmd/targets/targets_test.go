package targets

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/cronless/cronless/cmd/cronless/internal/iostreams"
	"github.com/cronless/cronless/shared/targets"
)

// Without a terminal, progress is a line each tenth of the way, however
// the adapter's counts jump, and the last one at the end; a small step
// prints nothing.
func TestProgressLinesWithoutATerminal(t *testing.T) {
	for _, tt := range []struct {
		name  string
		total int
		sets  []int
		want  []string
	}{
		{"every item", 2000, seq(1, 2000),
			[]string{"200/2000", "400/2000", "600/2000", "800/2000", "1000/2000", "1200/2000", "1400/2000", "1600/2000", "1800/2000", "2000/2000"}},
		{"jumps", 1000, []int{250, 251, 999, 1000}, []string{"250/1000", "999/1000", "1000/1000"}},
		{"all at once", 7000, []int{7000}, []string{"7000/7000"}},
		{"a count past the total", 3000, []int{2000, 5000}, []string{"2000/3000", "3000/3000"}},
		{"a small step", 999, seq(1, 999), nil},
		{"nothing to do", 0, []int{0}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, _, errOut := iostreams.Test()
			p := newProgress(ios, "writing", tt.total)
			for _, n := range tt.sets {
				p.set(n)
			}
			p.finish()
			var want []string
			for _, w := range tt.want {
				want = append(want, "targets: writing "+w)
			}
			got := strings.Split(strings.TrimSpace(errOut.String()), "\n")
			if errOut.Len() == 0 {
				got = nil
			}
			if !slices.Equal(got, want) {
				t.Errorf("lines:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// seq is the ints from lo to hi.
func seq(lo, hi int) []int {
	var s []int
	for i := lo; i <= hi; i++ {
		s = append(s, i)
	}
	return s
}

// On a terminal, progress is a bar, cleared when done.
func TestProgressBarOnATerminal(t *testing.T) {
	ios, _, _, errOut := iostreams.Test()
	ios.SetStderrTTY(true)
	p := newProgress(ios, "writing", 100)
	p.set(50)
	p.finish()
	if !strings.Contains(errOut.String(), "writing") || !strings.Contains(errOut.String(), "\r") || strings.Contains(errOut.String(), "targets: writing") {
		t.Errorf("stderr on a terminal %q; want a bar (redrawn with carriage returns), no lines", errOut.String())
	}
}

func TestDiffRows(t *testing.T) {
	ch := targets.Change{Added: []string{"a", "b", "c"}, Removed: []string{"z"}}
	var b bytes.Buffer
	if err := printDiff(&b, "table", diffRows(ch, 2)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"added    3        a, b, … (1 more)", "changed  0        -", "removed  1        z"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := printDiff(&b, "csv", diffRows(ch, 0)); err != nil {
		t.Fatal(err)
	}
	if want := "change,targets,ids,more\nadded,3,a b c,0\nchanged,0,,0\nremoved,1,z,0\n"; b.String() != want {
		t.Errorf("csv:\n%s\nwant\n%s", b.String(), want)
	}
}

// The export's order keeps ranks on import: schedule by schedule, host by
// host, by rank.
func TestImportOrder(t *testing.T) {
	st := func(id, sched, url string, rank int) targets.Stored {
		return targets.Stored{Entry: targets.Entry{ID: id, Schedule: sched, URL: url}, Rank: rank}
	}
	list := []targets.Stored{
		st("x1", "hourly", "https://b.example/1", 1), st("a9", "daily", "https://a.example/9", 0),
		st("x0", "hourly", "https://b.example/0", 0), st("y0", "hourly", "https://a.example/y", 0),
		st("x2", "hourly", "https://B.example/2", 2),
	}
	importOrder(list)
	var got []string
	for _, s := range list {
		got = append(got, s.ID)
	}
	if want := []string{"a9", "y0", "x0", "x1", "x2"}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

func TestExportFormat(t *testing.T) {
	for _, tt := range []struct {
		flag, file string
		want       string
	}{
		{"", "", targets.FormatYAML}, {"", "-", targets.FormatYAML}, {"", "list.CSV", targets.FormatCSV},
		{"", "list.jsonl", targets.FormatJSONL}, {"", "list.yml", targets.FormatYAML},
		{"csv", "list.yaml", targets.FormatCSV}, {"yml", "", targets.FormatYAML}, {"JSONL", "list", targets.FormatJSONL},
	} {
		if got, err := exportFormat(tt.flag, tt.file); err != nil || got != tt.want {
			t.Errorf("exportFormat(%q, %q) = %v, %v; want %v", tt.flag, tt.file, got, err, tt.want)
		}
	}
	for _, tt := range []struct{ flag, file, says string }{
		{"xml", "", "--format \"xml\": use yaml, jsonl, csv"},
		{"", "list.txt", "-o list.txt: "},
	} {
		if _, err := exportFormat(tt.flag, tt.file); err == nil || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("exportFormat(%q, %q): %v; want an error saying %q", tt.flag, tt.file, err, tt.says)
		}
	}
}
