package targets

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/job"
)

// listBase is the targets.yaml the list tests check lists against: its own
// target "own" has its id on line 8.
var listBase = yamlLines(
	`schedules:`,
	`  hourly: { expression: "rate(1 hour)" }`,
	`  daily: { expression: "cron(0 9 * * ? *)" }`,
	`extracts:`,
	`  product: { title: { css: h1 } }`,
	`  article: { headline: { css: h1 } }`,
	`targets:`,
	`  - { id: own, url: "https://example.com/own", schedule: hourly }`,
)

// testdataFile parses testdata/targets.yaml, the file the sample lists go
// with.
func testdataFile(t *testing.T) *File {
	t.Helper()
	f, err := Load(filepath.Join("testdata", "targets.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// mustList parses a list that must be valid.
func mustList(t *testing.T, f *File, name string, data []byte) []Entry {
	t.Helper()
	entries, err := ParseList(name, data, f)
	if err != nil {
		t.Fatalf("ParseList(%s): unexpected problems:\n%v", name, err)
	}
	return entries
}

// listProblems parses a list that must be invalid and returns its problems.
func listProblems(t *testing.T, name string, data []byte) []Problem {
	t.Helper()
	entries, err := ParseList(name, data, mustParse(t, listBase))
	if err == nil {
		t.Fatalf("ParseList(%s) succeeded (%d entries), want problems", name, len(entries))
	}
	var perr *Error
	if !errors.As(err, &perr) {
		t.Fatalf("ParseList error is %T (%v), want *targets.Error", err, err)
	}
	if entries != nil {
		t.Errorf("ParseList returned %d entries along with problems; a bad row must reject the whole file", len(entries))
	}
	return perr.Problems
}

func boolPtr(b bool) *bool { return &b }

// sampleEntries are the targets of testdata/list.*, in file order; the CSV
// holds all but "inline", whose rules a cell cannot hold.
var sampleEntries = []Entry{
	{ID: "shoe-1", URL: "https://shop.example/shoe/1", Schedule: "hourly", Extract: "product"},
	{ID: "shoe-2", URL: "https://SHOP.example:8443/shoe/2?color=red,blue", Schedule: "hourly", Timeout: 30 * time.Second, Extract: "product"},
	{ID: "news-1", URL: "https://news.example/a", Schedule: "daily", UserAgent: "newsbot/2 (contact: ops@example.com)", Robots: boolPtr(false), Extract: "article"},
	{ID: "plain", URL: "http://other.example/", Schedule: "daily"},
	{ID: "inline", URL: "https://shop.example/special", Schedule: "hourly", Rules: map[string]job.Rule{
		"title": {CSS: "h2", Attr: "text", All: true},
		"sku":   {CSS: "[data-sku]", Attr: "data-sku", Regex: `^SKU-(\d+)$`},
	}},
}

func checkEntries(t *testing.T, got, want []Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d entries, want %d", len(got), len(want))
	}
	for i := 0; i < len(got) && i < len(want); i++ {
		if !got[i].Equal(want[i]) {
			t.Errorf("entry %d:\n  got  %s\n  want %s", i, showEntry(got[i]), showEntry(want[i]))
		}
	}
}

func showEntry(e Entry) string {
	robots := "nil"
	if e.Robots != nil {
		robots = map[bool]string{true: "true", false: "false"}[*e.Robots]
	}
	return strings.Join([]string{"id=" + e.ID, "url=" + e.URL, "schedule=" + e.Schedule, "timeout=" + e.Timeout.String(),
		"ua=" + e.UserAgent, "robots=" + robots, "extract=" + e.Extract, "rules=" + job.RulesHash(e.Rules)[:8]}, " ")
}

// TestParseListSamples: the three formats of the same list read to the same
// entries, with only the targets' own settings (no defaults).
func TestParseListSamples(t *testing.T) {
	f := testdataFile(t)
	for _, tt := range []struct {
		file string
		want []Entry
	}{
		{"list.yaml", sampleEntries},
		{"list.jsonl", sampleEntries},
		{"list.csv", sampleEntries[:4]},
	} {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			checkEntries(t, mustList(t, f, tt.file, data), tt.want)
		})
	}
}

// TestResolveMatchesTargetsFile: a stored target planned through
// File.Resolve is the very target targets.yaml gives the same target
// written in the file: its defaults, hosts: and extracts: apply alike.
func TestResolveMatchesTargetsFile(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("testdata", "targets.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The sample list's targets written in targets.yaml itself.
	inFile := mustParse(t, append(base, yamlLines(
		`  - { id: shoe-1, url: "https://shop.example/shoe/1", schedule: hourly, extract: product }`,
		`  - { id: shoe-2, url: "https://SHOP.example:8443/shoe/2?color=red,blue", schedule: hourly, timeout: 30s, extract: product }`,
		`  - { id: news-1, url: "https://news.example/a", schedule: daily, user_agent: "newsbot/2 (contact: ops@example.com)", robots: false, extract: article }`,
		`  - { id: plain, url: "http://other.example/", schedule: daily }`,
		`  - id: inline`,
		`    url: https://shop.example/special`,
		`    schedule: hourly`,
		`    extract:`,
		`      title: { css: h2, attr: text, all: true }`,
		`      sku: { css: "[data-sku]", attr: data-sku, regex: '^SKU-(\d+)$' }`,
	)...))
	f := testdataFile(t)
	data, err := os.ReadFile(filepath.Join("testdata", "list.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range mustList(t, f, "list.yaml", data) {
		got, err := f.Resolve(e)
		if err != nil {
			t.Fatalf("Resolve(%s): %v", e.ID, err)
		}
		want, ok := inFile.Target(e.ID)
		if !ok {
			t.Fatalf("targets.yaml has no target %s", e.ID)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("target %s:\n  stored   %+v\n  in file  %+v", e.ID, got, want)
		}
	}
	// What both give, so that the two cannot agree on something wrong.
	product := map[string]job.Rule{"title": {CSS: "h1", Required: true}, "price": {CSS: ".price", Regex: "([0-9.]+)"}}
	for _, tt := range []struct {
		id          string
		timeout     time.Duration
		userAgent   string
		robots      bool
		rate        float64
		concurrency int
		extract     map[string]job.Rule
	}{
		{"shoe-1", 15 * time.Second, "listbot/1.0 (+https://example.com/bot)", true, 5, 3, product},
		{"shoe-2", 30 * time.Second, "listbot/1.0 (+https://example.com/bot)", true, 5, 3, product}, // hosts: ignores case and port
		{"news-1", 15 * time.Second, "newsbot/2 (contact: ops@example.com)", false, 2, 1, map[string]job.Rule{"headline": {CSS: "h1.headline"}}},
		{"plain", 15 * time.Second, "listbot/1.0 (+https://example.com/bot)", true, 2, 3, nil},
	} {
		tg, _ := inFile.Target(tt.id)
		if tg.Timeout != tt.timeout || tg.UserAgent != tt.userAgent || tg.Robots != tt.robots ||
			tg.HostRate != tt.rate || tg.HostConcurrency != tt.concurrency || !sameRules(tg.Extract, tt.extract) {
			t.Errorf("target %s = %+v, want timeout %s, user agent %q, robots %v, rate %v, concurrency %d, extract %v",
				tt.id, tg, tt.timeout, tt.userAgent, tt.robots, tt.rate, tt.concurrency, tt.extract)
		}
	}
}

// TestWriteListRoundTrip: what the export writes, the import reads back to
// the same entries, in every format, whatever the values hold.
func TestWriteListRoundTrip(t *testing.T) {
	tricky := []Entry{
		{ID: "123", URL: "https://example.com/a?b=1,2&c=\"x\"#frag", Schedule: "hourly"},
		{ID: "true", URL: "https://example.com/%E2%82%AC/é", Schedule: "daily", Timeout: 90 * time.Second, Robots: boolPtr(true)},
		{ID: "a.b_c-d", URL: "http://[::1]:8080/", Schedule: "hourly", Timeout: 1500 * time.Millisecond,
			UserAgent: `bot/1.0 (+https://example.com/bot; "quoted", #1: 'x')`, Robots: boolPtr(false), Extract: "article"},
		{ID: "null", URL: "https://example.com/", Schedule: "daily", UserAgent: " leading and trailing space ", Extract: "product"},
	}
	withRules := append(append([]Entry{}, tricky...),
		Entry{ID: "rules", URL: "https://example.com/r", Schedule: "hourly", Rules: map[string]job.Rule{
			"price":      {CSS: `div[data-x="a,b"] > span.price`, Attr: "text", Required: true, Regex: `Price: "?\$?([0-9.,]+)\s*#?`},
			"links":      {CSS: "a", Attr: "href", All: true},
			"true":       {CSS: "h1"},
			"with space": {CSS: "p:nth-child(2)", Regex: "^(.*)\n?$"},
		}},
		Entry{ID: "empty-rules", URL: "https://example.com/e", Schedule: "hourly", Rules: map[string]job.Rule{}},
	)
	f := mustParse(t, listBase)
	for _, tt := range []struct {
		format, name string
		entries      []Entry
	}{
		{FormatYAML, "out.yaml", withRules},
		{FormatJSONL, "out.jsonl", withRules},
		{FormatCSV, "out.csv", tricky},
	} {
		t.Run(tt.format, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteList(&b, tt.format, tt.entries); err != nil {
				t.Fatal(err)
			}
			got := mustList(t, f, tt.name, b.Bytes())
			// An empty map of rules is no rules: both extract nothing.
			want := append([]Entry{}, tt.entries...)
			for i := range want {
				if want[i].Rules != nil && len(want[i].Rules) == 0 {
					want[i].Rules = nil
				}
			}
			checkEntries(t, got, want)
			if t.Failed() {
				t.Logf("written:\n%s", b.String())
			}
		})
	}
}

// TestWriteListCSV: the CSV export of the sample entries is the sample
// file: every column in the header, an empty cell for what a target does
// not set, a cell with a comma quoted.
func TestWriteListCSV(t *testing.T) {
	var b bytes.Buffer
	if err := WriteList(&b, FormatCSV, sampleEntries[:4]); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "list.csv"))
	if err != nil {
		t.Fatal(err)
	}
	// encoding/csv ends rows with \n; the sample, as a spreadsheet would,
	// with \r\n.
	if got := b.String(); got != strings.ReplaceAll(string(want), "\r\n", "\n") {
		t.Errorf("CSV export:\n%s\nwant\n%s", got, want)
	}
}

func TestWriteListProblems(t *testing.T) {
	rules := map[string]job.Rule{"title": {CSS: "h1"}}
	tests := []struct {
		name    string
		format  string
		entries []Entry
		want    string
	}{
		{"rules in CSV", FormatCSV, []Entry{
			{ID: "a", URL: "https://example.com/", Schedule: "hourly"},
			{ID: "b", URL: "https://example.com/", Schedule: "hourly", Rules: rules},
			{ID: "c", URL: "https://example.com/", Schedule: "hourly", Rules: rules},
		}, `target "b" (and 1 more) has extract rules of its own, which a CSV cell cannot hold; export as jsonl or yaml`},
		{"a name and rules", FormatJSONL, []Entry{{ID: "a", URL: "https://example.com/", Schedule: "hourly", Extract: "product", Rules: rules}},
			`target "a" has both an extract name and rules of its own; keep one`},
		{"unknown format", "json", nil, `format "json" is not one of yaml, jsonl, csv`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			err := WriteList(&b, tt.format, tt.entries)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("WriteList: %v, want an error containing %q", err, tt.want)
			}
			if b.Len() != 0 {
				t.Errorf("wrote %q before failing; want nothing written", b.String())
			}
		})
	}
}

func TestListFormat(t *testing.T) {
	tests := []struct {
		name, want, err string
	}{
		{"targets.yaml", FormatYAML, ""},
		{"dir.v2/LIST.YML", FormatYAML, ""},
		{"list.jsonl", FormatJSONL, ""},
		{"list.ndjson", FormatJSONL, ""},
		{"Export.CSV", FormatCSV, ""},
		{"list.json", "", `target list "list.json" is .json; write one JSON object a line and name it .jsonl`},
		{"list", "", `target list "list" has no extension, which says its format; name it .yaml or .yml (a targets: list), .jsonl or .ndjson (one JSON object a line) or .csv`},
		{"list.tsv", "", `target list "list.tsv": ".tsv" is not the extension of a target list; name it .yaml or .yml`},
	}
	for _, tt := range tests {
		got, err := ListFormat(tt.name)
		if got != tt.want || (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("ListFormat(%q) = %q, %v; want %q, %q", tt.name, got, err, tt.want, tt.err)
		}
	}
	if _, err := ParseList("list.txt", []byte("id,url,schedule\n"), mustParse(t, listBase)); err == nil || !strings.Contains(err.Error(), ".csv") {
		t.Errorf("ParseList(list.txt): %v, want the extensions it reads", err)
	}
}

// csvLines joins rows into a CSV file; the first is line 1.
func csvLines(rows ...string) []byte { return []byte(strings.Join(rows, "\n") + "\n") }

func TestParseListCSVProblems(t *testing.T) {
	const header = "id,url,schedule,timeout,user_agent,robots,extract"
	tests := []struct {
		name string
		data []byte
		want []wantProblem
	}{
		{
			name: "unknown column with did-you-mean",
			data: csvLines("id,url,schedule,timout,extract", "a,https://example.com/,hourly,10s,"),
			want: []wantProblem{{1, 17, `unknown column "timout" in the header; did you mean "timeout"? (allowed: id, url, schedule, timeout, user_agent, robots, extract)`}},
		},
		{
			name: "unknown column without a likely one",
			data: csvLines("id,url,schedule,priority", "a,https://example.com/,hourly,1"),
			want: []wantProblem{{1, 17, `unknown column "priority" in the header; remove the column (allowed: id, url, schedule, timeout, user_agent, robots, extract)`}},
		},
		{
			name: "missing required columns and a duplicate",
			data: csvLines("id,url,url", "a,https://example.com/,https://example.com/"),
			want: []wantProblem{
				{1, 0, `the header has no schedule column; add it, every target needs one (required: id, url, schedule)`},
				{1, 8, `duplicate column "url" in the header (first at column 4); keep one of them`},
			},
		},
		{
			name: "no header",
			data: csvLines("a,https://example.com/,hourly", "b,https://example.com/b,hourly"),
			want: []wantProblem{{1, 0, `the first row must be a header naming the columns, e.g. id,url,schedule,extract; add one above the targets`}},
		},
		{
			name: "every bad row, each at its cell",
			data: csvLines(
				header,
				`a,https://example.com/a,hourly,,,,`,
				`b,mailto:x@example.com,hourly,,,,`,
				`a,https://example.com/c,hourly,,,,`,
				`own,https://example.com/d,hourly,,,,`,
				`e,https://example.com/e,hourly,10,,,`,
				`f,https://example.com/f,hourly,soon,,,`,
				`g,https://example.com/g,hourly,,,yes,`,
				`h,https://example.com/h,horly,,,,`,
				`i,https://example.com/i,hourly,,,,prodct`,
				`j,https://example.com/j,hourly,,,,"{css: h1}"`,
				`k,,hourly,,,,`,
				`bad id,https://example.com/l,hourly,,,,`,
				`m,https://example.com/m,hourly`,
				`n,https://example.com/n,hourly,,"  ",,`,
				`,https://example.com/o,,,,,`,
				`p,"https://example.com/p,q",hourly,,,,,`,
				`q`,
			),
			want: []wantProblem{
				{3, 3, `url "mailto:x@example.com" in target "b" has scheme "mailto"; only http and https can be crawled; use an absolute http or https URL`},
				{4, 1, `duplicate target id "a" (first defined at line 2); give each target its own id`},
				{5, 1, `target id "own" is also a target of targets.yaml:8; an ID keys its results, so it can be one target only: remove it from this file or from targets.yaml`},
				{6, 32, `timeout in target "e" is the bare number 10; add a unit, e.g. 10s for seconds`},
				{7, 32, `timeout in target "f" "soon" is not a duration; use a duration like 10s or 1m30s`},
				{8, 34, `robots in target "g" must be true or false, got "yes"`},
				{9, 25, `unknown schedule "horly" in target "h"; did you mean "hourly"? (defined: hourly, daily)`},
				{10, 35, `unknown extract "prodct" in target "i"; did you mean "product"? (defined in extracts: product, article)`},
				{11, 35, `unknown extract "{css: h1}" in target "j" (defined in extracts: product, article); a CSV cell holds a name only: write the rules under extracts: in targets.yaml, or list the targets as jsonl or yaml`},
				{12, 3, `url in target "k" has no value; use an absolute http or https URL`},
				{13, 1, `target id "bad id" is not allowed; use 1-128 letters, digits`},
				{14, 1, `row has 3 cells, but the header (line 1) names 7 columns: id,url,schedule,timeout,user_agent,robots,extract; give the row a cell for every column, an empty one for a setting it does not set`},
				{15, 33, `user_agent in target "n" must be one non-empty line`},
				{16, 1, `id in target #15 has no value; use 1-128 letters`},
				{16, 24, `schedule in target #15 has no value; name one of the schedules (defined: hourly, daily)`},
				{17, 40, `row has 8 cells, but the header (line 1) names 7 columns: id,url,schedule,timeout,user_agent,robots,extract; put a cell holding a comma in double quotes`},
				{18, 1, `row has 1 cell, but the header`},
			},
		},
		{
			name: "a bare quote; the rows after it are still checked",
			data: csvLines("id,url,schedule", `a,https://example.com/"x",hourly`, `b,https://example.com/b,daily2`),
			want: []wantProblem{
				{2, 23, `CSV syntax error: bare " in non-quoted-field; put a cell holding a comma, a quote or a line break in double quotes, and double each quote inside it ("say ""hi""")`},
				{3, 25, `unknown schedule "daily2" in target "b"; did you mean "daily"?`},
			},
		},
		{
			name: "a quote left open runs to the end",
			data: csvLines("id,url,schedule", `a,https://example.com/a,hourly`, `b,"https://example.com/b,hourly`, `c,https://example.com/c,hourly`),
			want: []wantProblem{
				{3, 0, `CSV syntax error: a quote opened in this row is never closed; put a cell holding a comma, a quote or a line break in double quotes`},
			},
		},
		{
			name: "empty file",
			data: nil,
			want: []wantProblem{{1, 1, `the file is empty; write a header row naming the columns (id,url,schedule and any of timeout, user_agent, robots, extract), then one target a row; a list with none would remove every stored target`}},
		},
		{
			name: "a header and no targets",
			data: csvLines("id,url,schedule"),
			want: []wantProblem{{1, 1, `the file has a header and no targets; a list with none would remove every stored target`}},
		},
		{
			name: "not UTF-8",
			data: []byte("id,url,schedule\na,https://example.com/\xff,hourly\n"),
			want: []wantProblem{{2, 23, `the file is not UTF-8 text here; save it as UTF-8`}},
		},
		{
			name: "a byte-order mark, CRLF and a cell over two lines keep the positions right",
			data: []byte("\xef\xbb\xbfid,url,schedule,user_agent\r\na,https://example.com/a,hourly,\"bot\r\ntwo lines\"\r\nb,https://example.com/b,daily,ok\r\nc,https://example.com/c,weekly,\r\n"),
			want: []wantProblem{
				{2, 32, `user_agent in target "a" must be one non-empty line`},
				{5, 25, `unknown schedule "weekly" in target "c" (defined: hourly, daily)`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkProblems(t, "list.csv", listProblems(t, "list.csv", tt.data), tt.want)
		})
	}
}

func TestParseListJSONLProblems(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want []wantProblem
	}{
		{
			name: "every bad line, each value at its column",
			data: yamlLines(
				`{"id": "a", "url": "https://example.com/a", "schedule": "hourly"}`,
				``,
				`{"id": 5, "url": "https://example.com/b", "schedule": "hourly"}`,
				`{"id": "c", "url": "https://example.com/c", "shedule": "hourly"}`,
				`{"id": "d", "url": "https://example.com/d", "schedule": "hourly", "timeout": 10, "robots": "yes"}`,
				`{"id": "e", "url": "https://example.com/e", "schedule": "hourly", "extract": {"t": {"css": "h1[", "all": "yes"}}}`,
				`["not", "an", "object"]`,
				`{"id": "f", "url": "https://example.com/f" "schedule": "hourly"}`,
				`{"id": "g", "url": "https://example.com/g", "schedule": "hourly", "id": "g2"}`,
				`{"id": "own", "url": "https://example.com/h", "schedule": "hourly"}`,
				`{"id": "a", "url": "https://example.com/i", "schedule": "hourly"}`,
				`{"id":"j","url":"https:\/\/example.com\/j","schedule":"daily","extract":"articel"}`,
				`{"id": "k", "url": "https://example.com/k", "schedule": "hourly", "extract": ["title"]}`,
				`{"id": "l", "url": null, "schedule": "hourly", "user_agent": null}`,
			),
			want: []wantProblem{
				{3, 8, `id in target "5" must be a string, got the number 5; put it in quotes: id: "5"`},
				{4, 1, `target "c" has no schedule; add schedule: <name> naming one of the schedules (defined: hourly, daily)`},
				{4, 45, `unknown key "shedule" in target "c"; did you mean "schedule"? (allowed: id, url, schedule, timeout, user_agent, robots, extract)`},
				{5, 78, `timeout in target "d" is the bare number 10; add a unit, e.g. 10s for seconds`},
				{5, 92, `robots in target "d" must be true or false, got "yes"`},
				{6, 92, `css "h1[" in extract field "t" of target "e" does not parse`},
				{6, 106, `all in extract field "t" of target "e" must be true or false, got "yes"`},
				{7, 1, `each line must be one JSON object such as {"id": "a", "url": "https://example.com/", "schedule": "hourly"}; got a list`},
				{8, 44, `JSON syntax error: invalid character '"' after object key:value pair; each line must be one whole JSON object`},
				{9, 67, `duplicate key "id" in target "g" (first at line 9); keep one of them`},
				{10, 8, `target id "own" is also a target of targets.yaml:8`},
				{11, 8, `duplicate target id "a" (first defined at line 1); give each target its own id`},
				{12, 73, `unknown extract "articel" in target "j"; did you mean "article"? (defined in extracts: product, article)`},
				{13, 78, `extract in target "k" must map field names to rules, e.g. title: { css: "h1" }; got a list (or name an entry of extracts:, e.g. extract: product)`},
				{14, 20, `url in target "l" has no value; use an absolute http or https URL`},
			},
		},
		{
			name: "a line that ends too soon",
			data: yamlLines(`{"id": "a", "url": "https://example.com/a"`),
			want: []wantProblem{{1, 43, `JSON syntax error: unexpected end of JSON input; each line must be one whole JSON object`}},
		},
		{
			name: "pretty-printed JSON",
			data: yamlLines(`[`, `  {"id": "a", "url": "https://example.com/a", "schedule": "hourly"}`, `]`),
			want: []wantProblem{
				{1, 2, `JSON syntax error: unexpected end of JSON input; a JSON lines file holds one target object a line, not a list or an object over many lines`},
				{3, 1, `JSON syntax error: invalid character ']' looking for beginning of value`},
			},
		},
		{
			name: "blank lines only",
			data: []byte("\n  \r\n\n"),
			want: []wantProblem{{1, 1, `the file is empty; write one JSON object a line`}},
		},
		{
			name: "not UTF-8",
			data: []byte(`{"id": "a", "url": "https://example.com/` + "\xc3(" + `", "schedule": "hourly"}` + "\n"),
			want: []wantProblem{{1, 41, `the file is not UTF-8 text here`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkProblems(t, "list.jsonl", listProblems(t, "list.jsonl", tt.data), tt.want)
		})
	}
}

func TestParseListYAMLProblems(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want []wantProblem
	}{
		{
			name: "targets.yaml's sections and a misspelt targets",
			data: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`target:`,
				`  - { id: a, url: "https://example.com/", schedule: hourly }`,
			),
			want: []wantProblem{
				{1, 1, `schedules: belongs in targets.yaml, which every stored target is planned with; a target list holds targets: only`},
				{1, 1, `the file has no targets: list; write the targets under targets: as in targets.yaml`},
				{3, 1, `unknown key "target" in the file; did you mean "targets"? (allowed: targets)`},
			},
		},
		{
			name: "targets with problems",
			data: yamlLines(
				`targets:`,
				`  - id: a`,
				`    url: https://example.com/a`,
				`    schedule: daly`,
				`  - { id: own, url: "https://example.com/", schedule: hourly }`,
				`  - { id: b, url: "https://example.com/b", schedule: hourly, extract: { t: { css: "" } } }`,
				`  - { id: c, url: "https://example.com/c", schedule: hourly, robots: yes }`,
			),
			want: []wantProblem{
				{4, 15, `unknown schedule "daly" in target "a"; did you mean "daily"? (defined: hourly, daily)`},
				{5, 11, `target id "own" is also a target of targets.yaml:8; an ID keys its results`},
				{6, 83, `css in extract field "t" of target "b" is empty`},
				{7, 70, `robots in target "c" must be true or false, got "yes"`},
			},
		},
		{
			name: "empty targets",
			data: yamlLines(`targets: []`),
			want: []wantProblem{{1, 10, `targets is empty; a list with none would remove every stored target`}},
		},
		{
			name: "a list at the top",
			data: yamlLines(`- { id: a, url: "https://example.com/", schedule: hourly }`),
			want: []wantProblem{{1, 1, `a target list must be a mapping with one key, targets:, holding the list like targets.yaml's; got a list`}},
		},
		{
			name: "empty file",
			data: []byte("# nothing\n"),
			want: []wantProblem{{1, 1, `the file is empty; a list with none would remove every stored target`}},
		},
		{
			name: "syntax error",
			data: yamlLines(`targets:`, `  - id: "a`),
			want: []wantProblem{{2, 0, `YAML syntax error:`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkProblems(t, "list.yaml", listProblems(t, "list.yaml", tt.data), tt.want)
		})
	}
}

// TestParseListGood: what each format accepts beyond the samples.
func TestParseListGood(t *testing.T) {
	f := mustParse(t, listBase)
	tests := []struct {
		name string
		data []byte
		want []Entry
	}{
		{"CSV with the required columns only, in any order", csvLines("schedule,id,url", "daily,b,https://example.com/b", "hourly,a,https://example.com/a"),
			[]Entry{{ID: "b", URL: "https://example.com/b", Schedule: "daily"}, {ID: "a", URL: "https://example.com/a", Schedule: "hourly"}}},
		{"CSV booleans as spreadsheets write them", csvLines("id,url,schedule,robots", "a,https://example.com/a,hourly,TRUE", "b,https://example.com/b,hourly,False"),
			[]Entry{{ID: "a", URL: "https://example.com/a", Schedule: "hourly", Robots: boolPtr(true)}, {ID: "b", URL: "https://example.com/b", Schedule: "hourly", Robots: boolPtr(false)}}},
		{"CSV without a last newline", []byte("id,url,schedule\na,https://example.com/a,hourly"),
			[]Entry{{ID: "a", URL: "https://example.com/a", Schedule: "hourly"}}},
		{"JSONL with CRLF, spaces and tabs, and no last newline", []byte("\t{ \"id\" :\t\"a\" , \"url\": \"https://example.com/a\", \"schedule\": \"hourly\", \"robots\": true } \r\n\r\n{\"id\":\"b\",\"url\":\"https://example.com/\\u00e9\",\"schedule\":\"daily\",\"extract\":null}"),
			[]Entry{{ID: "a", URL: "https://example.com/a", Schedule: "hourly", Robots: boolPtr(true)}, {ID: "b", URL: "https://example.com/é", Schedule: "daily"}}},
		// pandas' to_json(orient="records", lines=True) and jq write null for
		// a value a row does not have: it is a key not written, as an empty
		// CSV cell is, and as in targets.yaml.
		{"JSONL with null for every optional key", yamlLines(
			`{"id": "a", "url": "https://example.com/a", "schedule": "hourly", "timeout": null, "user_agent": null, "robots": null, "extract": null}`,
			`{"id": "b", "url": "https://example.com/b", "schedule": "daily", "timeout": "20s", "user_agent": null, "robots": false, "extract": "product"}`),
			[]Entry{{ID: "a", URL: "https://example.com/a", Schedule: "hourly"},
				{ID: "b", URL: "https://example.com/b", Schedule: "daily", Timeout: 20 * time.Second, Robots: boolPtr(false), Extract: "product"}}},
		{"YAML with null, ~ and nothing for optional keys", yamlLines(
			`targets:`,
			`  - { id: a, url: "https://example.com/a", schedule: hourly, timeout: null, user_agent: ~, robots: null, extract: ~ }`,
			`  - id: b`,
			`    url: https://example.com/b`,
			`    schedule: hourly`,
			`    timeout:`,
			`    robots:`),
			[]Entry{{ID: "a", URL: "https://example.com/a", Schedule: "hourly"}, {ID: "b", URL: "https://example.com/b", Schedule: "hourly"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "list.csv"
			switch {
			case strings.HasPrefix(tt.name, "JSONL"):
				name = "list.jsonl"
			case strings.HasPrefix(tt.name, "YAML"):
				name = "list.yaml"
			}
			checkEntries(t, mustList(t, f, name, tt.data), tt.want)
		})
	}
}

// A list of many bad rows lists its first MaxListed problems and sums up
// the rest: how many, and whether any is of a kind not listed, with the
// first of those. The error still holds every problem.
func TestParseListManyProblems(t *testing.T) {
	rows := func(n, from int, format string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf(format, from+i, from+i)
		}
		return out
	}
	badURL := "u-%d,example.com/%d,hourly"
	badSchedule := "s-%d,https://example.com/%d,weekly"
	tests := []struct {
		name     string
		rows     []string
		problems int
		last     string
	}{
		{"as many as are listed", rows(MaxListed, 0, badURL), MaxListed, "list.csv:101:"},
		{"more of the same kind", rows(1000, 0, badURL), 1000,
			"… and 900 more problems not listed, of the kinds above; fix those, and check the file again"},
		{"more, some of another kind", append(rows(150, 0, badURL), rows(30, 150, badSchedule)...), 180,
			`… and 80 more problems not listed: 50 of the kinds above and 30 of 1 other kind, the first at list.csv:152:`},
		{"more, all of other kinds", append(append(rows(100, 0, badURL), "x-1,https://example.com/x,hourly,,,,too,many"), rows(5, 200, badSchedule)...), 106,
			`… and 6 more problems not listed, of 2 other kinds, the first at list.csv:102:`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := listProblems(t, "list.csv", csvLines(append([]string{"id,url,schedule"}, tt.rows...)...))
			if len(problems) != tt.problems {
				t.Errorf("%d problems, want every one of %d", len(problems), tt.problems)
			}
			lines := strings.Split((&Error{Problems: problems}).Error(), "\n")
			if want := min(tt.problems, MaxListed+1); len(lines) != want {
				t.Errorf("the message has %d lines, want %d", len(lines), want)
			}
			if got := lines[len(lines)-1]; !strings.Contains(got, tt.last) {
				t.Errorf("the message ends with\n  %s\nwant\n  ...%s...", got, tt.last)
			}
		})
	}
}
