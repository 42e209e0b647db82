package targets

import (
	"slices"
	"strings"
	"testing"

	"github.com/cronless/cronless/shared/job"
)

// wantProblem is a problem a test expects: its position and a fragment of
// its message.
type wantProblem struct {
	line, col int
	msg       string
}

// checkProblems compares every problem with what is wanted, in order.
func checkProblems(t *testing.T, file string, got []Problem, want []wantProblem) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(got), len(want), (&Error{Problems: got}).Error())
	}
	for i := 0; i < len(got) && i < len(want); i++ {
		g, w := got[i], want[i]
		if g.File != file || g.Line != w.line || g.Col != w.col || !strings.Contains(g.Msg, w.msg) {
			t.Errorf("problem %d:\n  got  %s\n  want %s:%d:%d: ...%s...", i, g, file, w.line, w.col, w.msg)
		}
	}
}

func TestExtracts(t *testing.T) {
	f := mustParse(t, yamlLines(
		`schedules:`,
		`  hourly: { expression: "rate(1 hour)" }`,
		`extracts:`,
		`  product:`,
		`    title: { css: h1, required: true }`,
		`    price: { css: ".price", regex: "([0-9.]+)" }`,
		`  links: &links`,
		`    all: { css: a, attr: href, all: true }`,
		`  unused.v2: { title: { css: title } }`,
		`targets:`,
		`  - { id: a, url: "https://shop.example/a", schedule: hourly, extract: product }`,
		`  - { id: b, url: "https://shop.example/b", schedule: hourly, extract: product }`,
		`  - { id: c, url: "https://shop.example/c", schedule: hourly, extract: { h: { css: h2 } } }`,
		`  - { id: d, url: "https://shop.example/d", schedule: hourly, extract: *links }`,
		`  - { id: e, url: "https://shop.example/e", schedule: hourly }`,
	))
	if got, want := f.ExtractNames, []string{"product", "links", "unused.v2"}; !slices.Equal(got, want) {
		t.Errorf("ExtractNames = %v, want %v", got, want)
	}
	product := map[string]job.Rule{
		"title": {CSS: "h1", Required: true},
		"price": {CSS: ".price", Regex: "([0-9.]+)"},
	}
	if !sameRules(f.Extracts["product"], product) {
		t.Errorf(`Extracts["product"] = %v, want %v`, f.Extracts["product"], product)
	}
	tests := []struct {
		id   string
		want map[string]job.Rule
	}{
		{"a", product},
		{"b", product},
		{"c", map[string]job.Rule{"h": {CSS: "h2"}}},
		{"d", map[string]job.Rule{"all": {CSS: "a", Attr: "href", All: true}}}, // an alias of the entry's rules
		{"e", nil},
	}
	for _, tt := range tests {
		tg, ok := f.Target(tt.id)
		if !ok {
			t.Fatalf("no target %s", tt.id)
		}
		if !sameRules(tg.Extract, tt.want) {
			t.Errorf("target %s: Extract = %v, want %v", tt.id, tg.Extract, tt.want)
		}
	}
	// A target's rules are its own copy: a job or a caller changing them
	// changes neither the entry nor the other targets naming it.
	a, _ := f.Target("a")
	delete(a.Extract, "title")
	if b, _ := f.Target("b"); len(b.Extract) != 2 || len(f.Extracts["product"]) != 2 {
		t.Errorf("changing target a's rules changed b's (%v) or the entry's (%v)", b.Extract, f.Extracts["product"])
	}
}

func sameRules(a, b map[string]job.Rule) bool {
	if len(a) != len(b) {
		return false
	}
	for k, r := range a {
		if o, ok := b[k]; !ok || o != r {
			return false
		}
	}
	return true
}

func TestExtractsProblems(t *testing.T) {
	tests := []struct {
		name string
		file []byte
		want []wantProblem
	}{
		{
			name: "unknown name with did-you-mean and the defined names",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`extracts:`,
				`  product: { title: { css: h1 } }`,
				`  article: { title: { css: h1 } }`,
				`targets:`,
				`  - id: a`,
				`    url: https://example.com/`,
				`    schedule: hourly`,
				`    extract: prodcut`,
				`  - { id: b, url: "https://example.com/b", schedule: hourly, extract: other }`,
			),
			want: []wantProblem{
				{10, 14, `unknown extract "prodcut" in target "a"; did you mean "product"? (defined in extracts: product, article)`},
				{11, 71, `unknown extract "other" in target "b" (defined in extracts: product, article)`},
			},
		},
		{
			name: "a name when no extracts are defined",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`targets:`,
				`  - { id: a, url: "https://example.com/", schedule: hourly, extract: product }`,
			),
			want: []wantProblem{
				{4, 70, `unknown extract "product" in target "a"; no extracts are defined: name shared rules under extracts: in targets.yaml`},
			},
		},
		{
			name: "entries with problems are reported once, not at the targets naming them",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`extracts:`,
				`  bad name: { title: { css: h1 } }`,
				`  empty:`,
				`  nothing: {}`,
				`  broken:`,
				`    title: { selector: h1 }`,
				`  product: { title: { css: h1 } }`,
				`  product: { title: { css: h2 } }`,
				`targets:`,
				`  - { id: a, url: "https://example.com/a", schedule: hourly, extract: bad name }`,
				`  - { id: b, url: "https://example.com/b", schedule: hourly, extract: empty }`,
				`  - { id: c, url: "https://example.com/c", schedule: hourly, extract: broken }`,
				`  - { id: d, url: "https://example.com/d", schedule: hourly, extract: nothing }`,
				`  - { id: e, url: "https://example.com/e", schedule: hourly, extract: product }`,
			),
			want: []wantProblem{
				{4, 3, `extracts name "bad name" is not allowed; use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit`},
				{5, 3, `extracts entry "empty" has no rules; add fields such as title: { css: "h1" }, or remove the entry`},
				{6, 3, `extracts entry "nothing" has no rules`},
				{8, 12, `extract field "title" of extracts entry "broken" has no css; add css: "<selector>"`},
				{8, 14, `unknown key "selector" in extract field "title" of extracts entry "broken"; remove it (allowed: css, attr, all, required, regex)`},
				{10, 3, `duplicate key "product" in extracts (first at line 9); keep one of them`},
			},
		},
		{
			name: "extracts is not a mapping",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`extracts:`,
				`  - product`,
				`targets:`,
				`  - { id: a, url: "https://example.com/", schedule: hourly }`,
			),
			want: []wantProblem{
				{4, 3, `extracts must map names to extract rules, e.g. product: { title: { css: "h1" } }; got a list`},
			},
		},
		{
			name: "an entry that is not a mapping of rules",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`extracts:`,
				`  product: h1`,
				`targets:`,
				`  - { id: a, url: "https://example.com/", schedule: hourly }`,
			),
			want: []wantProblem{
				{4, 12, `extracts entry "product" must map field names to rules, e.g. title: { css: "h1" }; got a string`},
			},
		},
		{
			name: "a target's extract that is neither a name nor rules",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`targets:`,
				`  - { id: a, url: "https://example.com/", schedule: hourly, extract: 5 }`,
			),
			want: []wantProblem{
				{4, 70, `extract in target "a" must map field names to rules, e.g. title: { css: "h1" }; got the number (or name an entry of extracts:, e.g. extract: product)`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkProblems(t, "targets.yaml", problemsOf(t, tt.file), tt.want)
		})
	}
}
