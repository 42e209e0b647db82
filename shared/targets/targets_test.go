package targets

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/job"
)

// yamlLines joins lines into a file, so a test's line numbers are easy to
// read off: the first line is line 1.
func yamlLines(lines ...string) []byte {
	return []byte(strings.Join(lines, "\n") + "\n")
}

// mustParse parses a file that must be valid.
func mustParse(t *testing.T, data []byte) *File {
	t.Helper()
	f, err := Parse("targets.yaml", data)
	if err != nil {
		t.Fatalf("Parse: unexpected problems:\n%v", err)
	}
	return f
}

// problemsOf parses a file that must be invalid and returns its problems.
func problemsOf(t *testing.T, data []byte) []Problem {
	t.Helper()
	f, err := Parse("targets.yaml", data)
	if err == nil {
		t.Fatalf("Parse succeeded (%d targets), want problems", len(f.Targets))
	}
	var perr *Error
	if !errors.As(err, &perr) {
		t.Fatalf("Parse error is %T (%v), want *targets.Error", err, err)
	}
	if f != nil {
		t.Errorf("Parse returned a File along with problems")
	}
	return perr.Problems
}

// The example from the design: two schedules (one unused), defaults and one
// target with two extraction rules.
var exampleFile = yamlLines(
	`schedules:`,
	`  hourly: { expression: "rate(1 hour)", timezone: "Asia/Seoul" }`,
	`  morning: { expression: "cron(0 9 * * ? *)", timezone: "Asia/Seoul" }`,
	`defaults: { timeout: 10s, user_agent: "cronless (+https://github.com/cronless/cronless)", robots: true }`,
	`targets:`,
	`  - id: example`,
	`    url: https://example.com/`,
	`    schedule: hourly`,
	`    extract:`,
	`      title: { css: title }`,
	`      links: { css: "a", attr: href, all: true }`,
)

func TestParseExample(t *testing.T) {
	f := mustParse(t, exampleFile)

	if got, want := strings.Join(f.ScheduleNames, ","), "hourly,morning"; got != want {
		t.Errorf("ScheduleNames = %s, want %s", got, want)
	}
	hourly := f.Schedules["hourly"]
	if hourly.Name != "hourly" || hourly.Expression != "rate(1 hour)" || hourly.Expr.String() != "rate(1 hour)" ||
		hourly.Timezone != "Asia/Seoul" || hourly.Location == nil || hourly.Location.String() != "Asia/Seoul" {
		t.Errorf("hourly = %+v", hourly)
	}
	morning := f.Schedules["morning"]
	after := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // 09:00 in Seoul
	if got, want := morning.Next(after), time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("morning.Next(%s) = %s, want %s", after, got, want)
	}
	wantDefaults := Defaults{Timeout: 10 * time.Second, UserAgent: "cronless (+https://github.com/cronless/cronless)", Robots: true,
		HostRate: DefaultHostRate, HostConcurrency: 0}
	if f.Defaults != wantDefaults {
		t.Errorf("Defaults = %+v, want %+v", f.Defaults, wantDefaults)
	}
	if len(f.Targets) != 1 {
		t.Fatalf("got %d targets, want 1", len(f.Targets))
	}
	tg := f.Targets[0]
	if tg.ID != "example" || tg.URL != "https://example.com/" || tg.Schedule != "hourly" ||
		tg.Timeout != 10*time.Second || tg.UserAgent != wantDefaults.UserAgent || !tg.Robots {
		t.Errorf("target = %+v", tg)
	}
	wantExtract := map[string]job.Rule{
		"title": {CSS: "title"},
		"links": {CSS: "a", Attr: "href", All: true},
	}
	if len(tg.Extract) != len(wantExtract) {
		t.Fatalf("Extract = %+v, want %+v", tg.Extract, wantExtract)
	}
	for k, want := range wantExtract {
		if got := tg.Extract[k]; got != want {
			t.Errorf("Extract[%q] = %+v, want %+v", k, got, want)
		}
	}
}

// TestRepositoryTargetsFile keeps the example users edit valid.
func TestRepositoryTargetsFile(t *testing.T) {
	path := filepath.Join("..", "..", "targets.yaml")
	f, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s):\n%v", path, err)
	}
	if len(f.Schedules) != 2 {
		t.Errorf("got %d schedules, want 2", len(f.Schedules))
	}
	if n := len(f.Targets); n < 2 || n > 3 {
		t.Errorf("got %d targets, want 2-3", n)
	}
	var hasRequired, hasRegex bool
	for _, tg := range f.Targets {
		if _, ok := f.Schedules[tg.Schedule]; !ok {
			t.Errorf("target %s uses undefined schedule %s", tg.ID, tg.Schedule)
		}
		for _, r := range tg.Extract {
			hasRequired = hasRequired || r.Required
			hasRegex = hasRegex || r.Regex != ""
		}
		j := tg.Job(job.RunID(tg.Schedule, time.Now()), time.Now())
		if err := j.Validate(); err != nil {
			t.Errorf("target %s builds an invalid job: %v", tg.ID, err)
		}
	}
	if !hasRequired || !hasRegex {
		t.Errorf("example should show a required field (%v) and a regex (%v)", hasRequired, hasRegex)
	}
}

func TestDefaultsAndOverrides(t *testing.T) {
	tests := []struct {
		name     string
		file     []byte
		defaults Defaults
		targets  []Target // only ID, Timeout, UserAgent, Robots are compared
	}{
		{
			name: "built-in defaults when defaults is omitted",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`targets:`,
				`  - { id: a, url: "https://example.com/", schedule: hourly }`,
			),
			defaults: Defaults{Timeout: DefaultTimeout, UserAgent: DefaultUserAgent, Robots: true, HostRate: 1},
			targets:  []Target{{ID: "a", Timeout: 10 * time.Second, UserAgent: DefaultUserAgent, Robots: true}},
		},
		{
			name: "empty defaults mapping",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`defaults:`,
				`targets:`,
				`  - { id: a, url: "https://example.com/", schedule: hourly }`,
			),
			defaults: Defaults{Timeout: DefaultTimeout, UserAgent: DefaultUserAgent, Robots: true, HostRate: 1},
			targets:  []Target{{ID: "a", Timeout: DefaultTimeout, UserAgent: DefaultUserAgent, Robots: true}},
		},
		{
			name: "partial defaults keep the other built-ins",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`defaults: { timeout: 1m30s }`,
				`targets:`,
				`  - { id: a, url: "https://example.com/", schedule: hourly }`,
			),
			defaults: Defaults{Timeout: 90 * time.Second, UserAgent: DefaultUserAgent, Robots: true, HostRate: 1},
			targets:  []Target{{ID: "a", Timeout: 90 * time.Second, UserAgent: DefaultUserAgent, Robots: true}},
		},
		{
			name: "targets override defaults one key at a time",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`defaults: { timeout: 5s, user_agent: "team-bot/1.0", robots: true }`,
				`targets:`,
				`  - { id: a, url: "https://example.com/", schedule: hourly }`,
				`  - { id: b, url: "https://example.com/b", schedule: hourly, timeout: 30s }`,
				`  - { id: c, url: "https://example.com/c", schedule: hourly, user_agent: "c-bot/2" }`,
				`  - { id: d, url: "https://example.com/d", schedule: hourly, robots: false }`,
			),
			defaults: Defaults{Timeout: 5 * time.Second, UserAgent: "team-bot/1.0", Robots: true, HostRate: 1},
			targets: []Target{
				{ID: "a", Timeout: 5 * time.Second, UserAgent: "team-bot/1.0", Robots: true},
				{ID: "b", Timeout: 30 * time.Second, UserAgent: "team-bot/1.0", Robots: true},
				{ID: "c", Timeout: 5 * time.Second, UserAgent: "c-bot/2", Robots: true},
				{ID: "d", Timeout: 5 * time.Second, UserAgent: "team-bot/1.0", Robots: false},
			},
		},
		{
			name: "robots false by default, true for one target",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`defaults: { robots: false }`,
				`targets:`,
				`  - { id: a, url: "https://example.com/", schedule: hourly }`,
				`  - { id: b, url: "https://example.com/", schedule: hourly, robots: true }`,
			),
			defaults: Defaults{Timeout: DefaultTimeout, UserAgent: DefaultUserAgent, Robots: false, HostRate: 1},
			targets: []Target{
				{ID: "a", Timeout: DefaultTimeout, UserAgent: DefaultUserAgent, Robots: false},
				{ID: "b", Timeout: DefaultTimeout, UserAgent: DefaultUserAgent, Robots: true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, tt.file)
			if f.Defaults != tt.defaults {
				t.Errorf("Defaults = %+v, want %+v", f.Defaults, tt.defaults)
			}
			if len(f.Targets) != len(tt.targets) {
				t.Fatalf("got %d targets, want %d", len(f.Targets), len(tt.targets))
			}
			for i, want := range tt.targets {
				got := f.Targets[i]
				if got.ID != want.ID || got.Timeout != want.Timeout || got.UserAgent != want.UserAgent || got.Robots != want.Robots {
					t.Errorf("target %d = {ID:%s Timeout:%s UserAgent:%q Robots:%v}, want {ID:%s Timeout:%s UserAgent:%q Robots:%v}",
						i, got.ID, got.Timeout, got.UserAgent, got.Robots, want.ID, want.Timeout, want.UserAgent, want.Robots)
				}
			}
		})
	}
}

func TestParseGoodFiles(t *testing.T) {
	tests := []struct {
		name  string
		file  []byte
		check func(t *testing.T, f *File)
	}{
		{
			name: "schedule timezone defaults to UTC and description is kept",
			file: yamlLines(
				`schedules:`,
				`  nightly:`,
				`    expression: "cron(0 3 * * ? *)"`,
				`    description: Every night at three.`,
				`targets:`,
				`  - { id: a, url: "http://example.com:8080/path?q=1", schedule: nightly }`,
			),
			check: func(t *testing.T, f *File) {
				s := f.Schedules["nightly"]
				if s.Timezone != "UTC" || s.Location != time.UTC || s.Description != "Every night at three." {
					t.Errorf("nightly = %+v", s)
				}
			},
		},
		{
			name: "a target's optional key with no value takes the default",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`defaults: { timeout: 7s, user_agent: "bot/7", robots: false }`,
				`targets:`,
				`  - { id: a, url: "https://example.com/a", schedule: hourly, timeout: ~, user_agent: null, robots: ~, extract: null }`,
			),
			check: func(t *testing.T, f *File) {
				got := f.Targets[0]
				if got.Timeout != 7*time.Second || got.UserAgent != "bot/7" || got.Robots || got.Extract != nil {
					t.Errorf("a = %+v, want the defaults", got)
				}
			},
		},
		{
			name: "every rule key, ids with dots and dashes, at() schedule",
			file: yamlLines(
				`schedules:`,
				`  launch_day: { expression: "at(2026-03-01T09:00:00)", timezone: America/New_York }`,
				`targets:`,
				`  - id: Shop.item-42_b`,
				`    url: https://shop.example/items/42`,
				`    schedule: launch_day`,
				`    extract:`,
				`      price:`,
				`        css: ".price"`,
				`        attr: text`,
				`        all: false`,
				`        required: true`,
				`        regex: 'Price: ([0-9.]+)'`,
			),
			check: func(t *testing.T, f *File) {
				r := f.Targets[0].Extract["price"]
				want := job.Rule{CSS: ".price", Attr: "text", Required: true, Regex: "Price: ([0-9.]+)"}
				if r != want {
					t.Errorf("price rule = %+v, want %+v", r, want)
				}
			},
		},
		{
			name: "anchors and aliases",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`targets:`,
				`  - id: a`,
				`    url: https://example.com/a`,
				`    schedule: &s hourly`,
				`    extract: &rules`,
				`      title: { css: h1 }`,
				`  - id: b`,
				`    url: https://example.com/b`,
				`    schedule: *s`,
				`    extract: *rules`,
			),
			check: func(t *testing.T, f *File) {
				b := f.Targets[1]
				if b.Schedule != "hourly" || b.Extract["title"].CSS != "h1" {
					t.Errorf("target b = %+v", b)
				}
			},
		},
		{
			name: "unused schedule and empty extract are fine",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`  unused: { expression: "rate(2 days)" }`,
				`targets:`,
				`  - id: a`,
				`    url: https://example.com/`,
				`    schedule: hourly`,
				`    extract:`,
			),
			check: func(t *testing.T, f *File) {
				if len(f.Targets[0].Extract) != 0 {
					t.Errorf("Extract = %v, want empty", f.Targets[0].Extract)
				}
				if len(f.TargetsFor("unused")) != 0 {
					t.Errorf("TargetsFor(unused) is not empty")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, mustParse(t, tt.file))
		})
	}
}

func TestParseProblems(t *testing.T) {
	type want struct {
		line, col int
		msg       string // a fragment of the message
	}
	tests := []struct {
		name string
		file []byte
		want []want // every problem, in file order
	}{
		{
			name: "unknown key with did-you-mean, and the schedule it was meant to be",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`targets:`,
				`  - id: example`,
				`    url: https://example.com/`,
				`    extract: { title: { css: title } }`,
				`    shedule: hourly`,
			),
			want: []want{
				{4, 5, `target "example" has no schedule; add schedule: <name> naming one of the schedules (defined: hourly)`},
				{7, 5, `unknown key "shedule" in target "example"; did you mean "schedule"? (allowed: id, url, schedule, timeout, user_agent, robots, extract)`},
			},
		},
		{
			name: "YAML syntax error",
			file: yamlLines(
				`targets:`,
				`  - id: example`,
				`    url: "https://example.com/`,
				`    schedule: hourly`,
			),
			want: []want{{3, 0, "YAML syntax error: found unexpected end of stream; check the indentation"}},
		},
		{
			name: "YAML syntax error from a tab",
			file: yamlLines(
				`targets:`,
				"\t- id: example",
			),
			want: []want{{2, 0, "this line has a tab; YAML indents with spaces only"}},
		},
		{
			name: "empty file",
			file: []byte("# nothing yet\n"),
			want: []want{{1, 1, "the file is empty; add a targets: list"}},
		},
		{
			name: "top level is a list",
			file: yamlLines(`- id: example`),
			want: []want{{1, 1, "the file must be a mapping like schedules:, defaults:, hosts: and targets:; got a list"}},
		},
		{
			name: "unknown top-level key and no targets",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`target:`,
				`  - { id: a, url: "https://example.com/", schedule: hourly }`,
			),
			want: []want{
				{1, 1, "the file has no targets; add a targets: list with at least one target (id, url, schedule), or targets: [] when every target is in a stored list (cronless targets import)"},
				{3, 1, `unknown key "target" in the file; did you mean "targets"? (allowed: schedules, defaults, hosts, extracts, targets)`},
			},
		},
		{
			name: "targets with nothing under it",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`targets:`,
			),
			want: []want{{3, 9, "targets is empty; add at least one target with id, url and schedule, or write targets: []"}},
		},
		{
			name: "targets is a mapping",
			file: yamlLines(
				`targets:`,
				`  id: example`,
			),
			want: []want{{2, 3, `targets must be a list, each target starting with "- id: ..."; got a mapping`}},
		},
		{
			name: "unknown keys in schedule, defaults and rule",
			file: yamlLines(
				`schedules:`,
				`  hourly:`,
				`    expresion: "rate(1 hour)"`,
				`defaults:`,
				`  timout: 5s`,
				`targets:`,
				`  - id: a`,
				`    url: https://example.com/`,
				`    schedule: hourly`,
				`    extract:`,
				`      title: { selector: h1 }`,
			),
			want: []want{
				{3, 5, `unknown key "expresion" in schedule "hourly"; did you mean "expression"? (allowed: expression, timezone, description)`},
				{3, 5, `schedule "hourly" has no expression; add expression: "rate(1 hour)"`},
				{5, 3, `unknown key "timout" in defaults; did you mean "timeout"? (allowed: timeout, user_agent, robots, host_rate, host_concurrency)`},
				{11, 14, `extract field "title" of target "a" has no css; add css: "<selector>"`},
				{11, 16, `unknown key "selector" in extract field "title" of target "a"; remove it (allowed: css, attr, all, required, regex)`},
			},
		},
		{
			name: "wrong value types",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`targets:`,
				`  - id: 123`,
				`    url: [https://example.com/]`,
				`    schedule: hourly`,
				`    robots: yes`,
				`    extract:`,
				`      - title`,
			),
			want: []want{
				{4, 9, `id in target "123" must be a string, got the number 123; put it in quotes: id: "123"`},
				{5, 10, `url in target "123" must be a string, got a list; use an absolute http or https URL`},
				{7, 13, `robots in target "123" must be true or false, got "yes"`},
				{9, 7, `extract in target "123" must map field names to rules, e.g. title: { css: "h1" }; got a list`},
			},
		},
		{
			name: "schedule written as a bare string",
			file: yamlLines(
				`schedules:`,
				`  hourly: "rate(1 hour)"`,
				`targets:`,
				`  - { id: a, url: "https://example.com/", schedule: hourly }`,
			),
			want: []want{{2, 11, `schedule "hourly" must be a mapping like { expression: "rate(1 hour)", timezone: "Asia/Seoul" }; got a string`}},
		},
		{
			name: "duplicate target ids",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`targets:`,
				`  - id: example`,
				`    url: https://example.com/`,
				`    schedule: hourly`,
				`  - id: example`,
				`    url: https://example.com/other`,
				`    schedule: hourly`,
			),
			want: []want{{7, 9, `duplicate target id "example" (first defined at line 4); give each target its own id`}},
		},
		{
			name: "duplicate keys",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`  hourly: { expression: "rate(2 hours)" }`,
				`targets:`,
				`  - id: example`,
				`    url: https://example.com/`,
				`    url: https://example.com/again`,
				`    schedule: hourly`,
			),
			want: []want{
				{3, 3, `duplicate key "hourly" in schedules (first at line 2); keep one of them`},
				{7, 5, `duplicate key "url" in target "example" (first at line 6); keep one of them`},
			},
		},
		{
			name: "missing id, url and schedule",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`targets:`,
				`  - url: https://example.com/`,
				`    schedule: hourly`,
				`  - id: no-url`,
				`    schedule: hourly`,
				`  - id: no-schedule`,
				`    url: https://example.com/`,
			),
			want: []want{
				{4, 5, `target #1 has no id; add id: <name>`},
				{6, 5, `target "no-url" has no url; add url: https://example.com/`},
				{8, 5, `target "no-schedule" has no schedule; add schedule: <name> naming one of the schedules (defined: hourly)`},
			},
		},
		{
			name: "bad URLs",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`targets:`,
				`  - { id: a, schedule: hourly, url: "example.com/page" }`,
				`  - { id: b, schedule: hourly, url: "ftp://example.com/file" }`,
				`  - { id: c, schedule: hourly, url: "https:///path" }`,
				`  - { id: d, schedule: hourly, url: "http://[::1" }`,
				`  - { id: e, schedule: hourly, url: "" }`,
			),
			want: []want{
				{4, 37, `url "example.com/page" in target "a" is not absolute (it has no http:// or https://); use an absolute http or https URL such as https://example.com/`},
				{5, 37, `url "ftp://example.com/file" in target "b" has scheme "ftp"; only http and https can be crawled`},
				{6, 37, `url "https:///path" in target "c" has no host`},
				{7, 37, `url "http://[::1" in target "d" does not parse (missing ']' in host)`},
				{8, 37, `url "" in target "e" is not absolute`},
			},
		},
		{
			name: "unknown schedule name",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`  morning: { expression: "cron(0 9 * * ? *)" }`,
				`targets:`,
				`  - id: example`,
				`    url: https://example.com/`,
				`    schedule: hourlyy`,
				`  - id: other`,
				`    url: https://example.com/`,
				`    schedule: weekly`,
			),
			want: []want{
				{7, 15, `unknown schedule "hourlyy" in target "example"; did you mean "hourly"? (defined: hourly, morning)`},
				{10, 15, `unknown schedule "weekly" in target "other" (defined: hourly, morning)`},
			},
		},
		{
			name: "schedule named but none defined",
			file: yamlLines(
				`targets:`,
				`  - { id: a, url: "https://example.com/", schedule: hourly }`,
			),
			want: []want{{2, 53, `unknown schedule "hourly" in target "a"; no schedules are defined, add one under schedules: at the top of the file`}},
		},
		{
			name: "bad expressions",
			file: yamlLines(
				`schedules:`,
				`  both: { expression: "cron(0 9 * * * *)" }`,
				`  plural: { expression: "rate(1 hours)" }`,
				`  missing-year:`,
				`    expression: cron(0 9 * * ?)`,
				`targets:`,
				`  - { id: a, url: "https://example.com/", schedule: both }`,
			),
			want: []want{
				{2, 23, `bad expression in schedule "both": cron(0 9 * * * *): day-of-month and day-of-week cannot both be set; use ? in one of them, e.g. cron(0 9 * * ? *)`},
				{3, 25, `bad expression in schedule "plural": rate(1 hours): a value of 1 takes the singular unit; write rate(1 hour)`},
				{5, 17, `bad expression in schedule "missing-year": cron(0 9 * * ?): has 5 fields, want 6`},
			},
		},
		{
			name: "bad time zones",
			file: yamlLines(
				`schedules:`,
				`  a: { expression: "rate(1 hour)", timezone: "Asia/Seol" }`,
				`  b: { expression: "rate(1 hour)", timezone: Local }`,
				`  c: { expression: "rate(1 hour)", timezone: "" }`,
				`targets:`,
				`  - { id: a, url: "https://example.com/", schedule: a }`,
			),
			want: []want{
				{2, 46, `unknown time zone "Asia/Seol" in schedule "a"; use an IANA time zone name such as "Asia/Seoul", "America/New_York" or "UTC"`},
				{3, 46, `unknown time zone "Local" in schedule "b"`},
				{4, 46, `unknown time zone "" in schedule "c"`},
			},
		},
		{
			name: "bad durations",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`defaults: { timeout: 10 }`,
				`targets:`,
				`  - { id: a, url: "https://example.com/", schedule: hourly, timeout: ten seconds }`,
				`  - { id: b, url: "https://example.com/", schedule: hourly, timeout: -5s }`,
				`  - { id: c, url: "https://example.com/", schedule: hourly, timeout: 0s }`,
				`  - { id: d, url: "https://example.com/", schedule: hourly, timeout: [1s] }`,
			),
			want: []want{
				{3, 22, `timeout in defaults is the bare number 10; add a unit, e.g. 10s for seconds (use a duration like 10s or 1m30s)`},
				{5, 70, `timeout in target "a" "ten seconds" is not a duration; use a duration like 10s or 1m30s`},
				{6, 70, `timeout in target "b" "-5s" must be greater than 0; use a duration like 10s or 1m30s`},
				{7, 70, `timeout in target "c" "0s" must be greater than 0`},
				{8, 70, `timeout in target "d" must be a duration, got a list; use a duration like 10s or 1m30s`},
			},
		},
		{
			name: "bad target ids",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`targets:`,
				`  - { id: "my site", url: "https://example.com/", schedule: hourly }`,
				`  - { id: "-dash-first", url: "https://example.com/", schedule: hourly }`,
				`  - { id: "`+strings.Repeat("x", 129)+`", url: "https://example.com/", schedule: hourly }`,
			),
			want: []want{
				{4, 11, `target id "my site" is not allowed; use 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit`},
				{5, 11, `target id "-dash-first" is not allowed`},
				{6, 11, `is not allowed; use 1-128 letters`},
			},
		},
		{
			name: "bad schedule names",
			file: yamlLines(
				`schedules:`,
				`  Hourly: { expression: "rate(1 hour)" }`,
				`  every day: { expression: "rate(1 day)" }`,
				`  _x: { expression: "rate(1 day)" }`,
				`targets:`,
				`  - { id: a, url: "https://example.com/", schedule: Hourly }`,
			),
			want: []want{
				{2, 3, `schedule name "Hourly" is not allowed; use 1-64 lower-case letters, digits, "_" or "-", starting with a letter or digit (schedule names become part of AWS resource names), e.g. "hourly"`},
				{3, 3, `schedule name "every day" is not allowed; use 1-64 lower-case letters, digits, "_" or "-", starting with a letter or digit (schedule names become part of AWS resource names), e.g. "every-day"`},
				{4, 3, `schedule name "_x" is not allowed`},
			},
		},
		{
			name: "bad extraction rules",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`targets:`,
				`  - id: a`,
				`    url: https://example.com/`,
				`    schedule: hourly`,
				`    extract:`,
				`      price: { css: ".price", regex: "([0-9]+" }`,
				`      empty: { css: "" }`,
				`      list: { css: a, all: "yes" }`,
				`      attr: { css: a, attr: "" }`,
				`      short: h1`,
				`      broken: { css: "h1[" }`,
			),
			want: []want{
				{8, 38, `regex "([0-9]+" in extract field "price" of target "a" does not compile (error parsing regexp: missing closing ): ` + "`([0-9]+`" + `); use Go (RE2) syntax`},
				{9, 21, `css in extract field "empty" of target "a" is empty; use a CSS selector such as "h1"`},
				{10, 28, `all in extract field "list" of target "a" must be true or false, got "yes"`},
				{11, 29, `attr in extract field "attr" of target "a" is empty`},
				{12, 14, `extract field "short" of target "a" must be a mapping like { css: "h1" }; got a string`},
				{13, 22, `css "h1[" in extract field "broken" of target "a" does not parse (`},
			},
		},
		{
			name: "empty values",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`defaults: { user_agent: "" }`,
				`targets:`,
				`  - id: a`,
				`    url:`,
				`    schedule: hourly`,
			),
			want: []want{
				{3, 25, `user_agent in defaults must be one non-empty line; write a user agent such as`},
				{6, 9, `url in target "a" has no value; use an absolute http or https URL`},
			},
		},
		{
			name: "a second YAML document",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`targets:`,
				`  - { id: a, url: "https://example.com/", schedule: hourly }`,
				`---`,
				`targets: []`,
			),
			want: []want{{6, 1, "a second YAML document starts here; put everything in one document and remove the ---"}},
		},
		{
			name: "bad rates",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`defaults: { host_rate: 5 }`,
				`hosts:`,
				`  a.example: { rate: 0/s }`,
				`  b.example: { rate: -1/s }`,
				`  c.example: { rate: fast }`,
				`  d.example: { rate: 5 per second }`,
				`  e.example: { rate: 2/d }`,
				`  f.example: { rate: 1001/s }`,
				`  g.example: { rate: "0.5" }`,
				`  h.example: { rate: 1e3/s }`,
				`  i.example: { rate: [1/s] }`,
				`  j.example: { rate: }`,
				`targets:`,
				`  - { id: a, url: "https://a.example/", schedule: hourly }`,
			),
			want: []want{
				{3, 24, `host_rate in defaults is the bare number 5; add a unit: 5/s (a second), 5/m (a minute) or 5/h (an hour)`},
				{5, 22, `rate in hosts entry "a.example" "0/s" must be greater than 0; use a rate like 1/s, 0.5/s, 30/m or 3600/h (jobs a second, a minute or an hour, for the whole fleet)`},
				{6, 22, `rate in hosts entry "b.example" "-1/s" must be greater than 0; use a rate like 1/s`},
				{7, 22, `rate in hosts entry "c.example" "fast" is not a rate; use a rate like 1/s, 0.5/s, 30/m or 3600/h`},
				{8, 22, `rate in hosts entry "d.example" "5 per second" is not a rate; use a rate like 1/s`},
				{9, 22, `rate in hosts entry "e.example" "2/d" is not a rate`},
				{10, 22, `rate in hosts entry "f.example" "1001/s" is more than 1000/s, the most a host may be given; use a rate like 1/s`},
				{11, 22, `rate in hosts entry "g.example" is the bare number 0.5; add a unit: 0.5/s (a second), 0.5/m (a minute) or 0.5/h (an hour)`},
				{12, 22, `rate in hosts entry "h.example" "1e3/s" is not a rate`},
				{13, 22, `rate in hosts entry "i.example" must be a rate, got a list; use a rate like 1/s`},
				{14, 22, `rate in hosts entry "j.example" must be a rate, got nothing`},
			},
		},
		{
			name: "bad concurrencies",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`defaults: { host_concurrency: 0 }`,
				`hosts:`,
				`  a.example: { concurrency: 101 }`,
				`  b.example: { concurrency: many }`,
				`  c.example: { concurrency: 1.5 }`,
				`  d.example: { concurrency: -2 }`,
				`targets:`,
				`  - { id: a, url: "https://a.example/", schedule: hourly }`,
			),
			want: []want{
				{3, 31, `host_concurrency in defaults 0 is out of range; use a whole number of pages at once per worker, 1 to 100`},
				{5, 29, `concurrency in hosts entry "a.example" 101 is out of range; use a whole number of pages at once per worker, 1 to 100`},
				{6, 29, `concurrency in hosts entry "b.example" must be a whole number, got "many"; use a whole number`},
				{7, 29, `concurrency in hosts entry "c.example" must be a whole number, got "1.5"`},
				{8, 29, `concurrency in hosts entry "d.example" -2 is out of range`},
			},
		},
		{
			name: "bad hosts keys and entries",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`hosts:`,
				`  https://example.com: { rate: 5/s }`,
				`  example.com/blog: { rate: 5/s }`,
				`  example.com:8080: { rate: 5/s }`,
				`  "": { rate: 5/s }`,
				`  me@example.com: { rate: 5/s }`,
				`  example.org: { rate: 5/s }`,
				`  Example.ORG: { concurrency: 4 }`,
				`  example.net: { speed: 5/s }`,
				`  example.io: 5/s`,
				`targets:`,
				`  - { id: a, url: "https://example.com/", schedule: hourly, host_rate: 2/s }`,
			),
			want: []want{
				{4, 3, `hosts key "https://example.com" is a URL; limits are per host, write the host name alone: "example.com"`},
				{5, 3, `hosts key "example.com/blog" has a path; limits are per host, write "example.com"`},
				{6, 3, `hosts key "example.com:8080" has a port; limits are per host whatever the port, write "example.com"`},
				{7, 3, `keys in hosts must not be empty; write a host name such as example.com or an address such as 192.0.2.1`},
				{8, 3, `hosts key "me@example.com" is not a host name; write a host name such as example.com`},
				{10, 3, `hosts key "Example.ORG" is the same host as the entry at line 9 (host names ignore case); keep one of them`},
				{11, 18, `unknown key "speed" in hosts entry "example.net"; remove it (allowed: rate, concurrency)`},
				{12, 15, `hosts entry "example.io" must be a mapping like { rate: 5/s, concurrency: 4 }; got a string`},
				{14, 61, `unknown key "host_rate" in target "a"; a rate is a whole host's: set host_rate under defaults:, or rate under hosts: for one host (allowed: id, url`},
			},
		},
		{
			name: "hosts is a list",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`hosts:`,
				`  - example.com: { rate: 5/s }`,
				`targets:`,
				`  - { id: a, url: "https://example.com/", schedule: hourly }`,
			),
			want: []want{{4, 3, `hosts must map host names to limits, e.g. example.com: { rate: 5/s, concurrency: 4 }; got a list`}},
		},
		{
			name: "all problems are collected across targets",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`targets:`,
				`  - { id: a, url: "https://example.com/", schedule: hourly, robot: true }`,
				`  - { id: b, url: "mailto:me@example.com", schedule: hourly }`,
				`  - { id: c, url: "https://example.com/", schedule: daily }`,
			),
			want: []want{
				{4, 61, `unknown key "robot" in target "a"; did you mean "robots"?`},
				{5, 19, `url "mailto:me@example.com" in target "b" has scheme "mailto"`},
				{6, 53, `unknown schedule "daily" in target "c"`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problemsOf(t, tt.file)
			if len(got) != len(tt.want) {
				t.Errorf("got %d problems, want %d:\n%s", len(got), len(tt.want), (&Error{Problems: got}).Error())
			}
			for i := 0; i < len(got) && i < len(tt.want); i++ {
				g, w := got[i], tt.want[i]
				if g.File != "targets.yaml" || g.Line != w.line || g.Col != w.col || !strings.Contains(g.Msg, w.msg) {
					t.Errorf("problem %d:\n  got  %s\n  want targets.yaml:%d:%d: ...%s...", i, g, w.line, w.col, w.msg)
				}
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	err := &Error{Problems: []Problem{
		{File: "targets.yaml", Line: 7, Col: 5, Msg: "first"},
		{File: "targets.yaml", Line: 3, Msg: "syntax"},
		{File: "targets.yaml", Msg: "whole file"},
	}}
	want := "targets.yaml:7:5: first\ntargets.yaml:3: syntax\ntargets.yaml: whole file"
	if got := err.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mine.yaml")
	if err := os.WriteFile(path, exampleFile, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Fatalf("Load: %v", err)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("targets: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(bad)
	var perr *Error
	if !errors.As(err, &perr) || !strings.HasPrefix(err.Error(), bad+":1:10: ") {
		t.Errorf("Load(bad) = %v, want problems named after the path", err)
	}

	_, err = Load(filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) || errors.As(err, &perr) {
		t.Errorf("Load(missing) = %v, want a wrapped fs.ErrNotExist", err)
	}
}

func TestTargetsFor(t *testing.T) {
	f := mustParse(t, yamlLines(
		`schedules:`,
		`  hourly: { expression: "rate(1 hour)" }`,
		`  daily: { expression: "rate(1 day)" }`,
		`targets:`,
		`  - { id: c, url: "https://example.com/c", schedule: hourly }`,
		`  - { id: a, url: "https://example.com/a", schedule: daily }`,
		`  - { id: b, url: "https://example.com/b", schedule: hourly }`,
	))
	tests := []struct {
		schedule string
		want     string
	}{
		{"hourly", "c,b"},
		{"daily", "a"},
		{"weekly", ""},
	}
	for _, tt := range tests {
		var ids []string
		for _, tg := range f.TargetsFor(tt.schedule) {
			ids = append(ids, tg.ID)
		}
		if got := strings.Join(ids, ","); got != tt.want {
			t.Errorf("TargetsFor(%s) = %s, want %s", tt.schedule, got, tt.want)
		}
	}
	if tg, ok := f.Target("a"); !ok || tg.URL != "https://example.com/a" {
		t.Errorf("Target(a) = %+v, %v", tg, ok)
	}
	if _, ok := f.Target("zz"); ok {
		t.Errorf("Target(zz) found")
	}
}

func TestTargetJob(t *testing.T) {
	f := mustParse(t, exampleFile)
	tg := f.Targets[0]
	seoul, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 9, 0, 0, 0, seoul)
	runID := job.RunID("hourly", at)

	j := tg.Job(runID, at)
	if j.V != job.Version || j.RunID != runID || j.Schedule != "hourly" || j.TargetID != "example" ||
		j.URL != "https://example.com/" || j.TimeoutMS != 10000 || j.UserAgent != tg.UserAgent ||
		j.Robots == nil || !*j.Robots || !j.RespectsRobots() {
		t.Errorf("Job = %+v", j)
	}
	if !j.ScheduledAt.Equal(at) || j.ScheduledAt.Location() != time.UTC {
		t.Errorf("ScheduledAt = %s, want %s in UTC", j.ScheduledAt, at)
	}
	if err := j.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}

	// The job survives the queue: encode and strict decode.
	body, err := job.Encode(j)
	if err != nil {
		t.Fatal(err)
	}
	back, err := job.DecodeJob([]byte(body))
	if err != nil {
		t.Fatalf("DecodeJob(%s): %v", body, err)
	}
	if back.Extract["links"] != (job.Rule{CSS: "a", Attr: "href", All: true}) || back.Timeout(0) != 10*time.Second {
		t.Errorf("decoded job = %+v", back)
	}

	// The job owns its extract map and robots flag.
	j.Extract["title"] = job.Rule{CSS: "changed"}
	*j.Robots = false
	if tg.Extract["title"].CSS != "title" || !tg.Robots {
		t.Errorf("changing the job changed the target: %+v", tg)
	}

	// robots: false is carried explicitly.
	tg.Robots = false
	if j := tg.Job(runID, at); j.Robots == nil || *j.Robots || j.RespectsRobots() {
		t.Errorf("robots false: Job.Robots = %v", j.Robots)
	}

	// No rules: no extract map on the wire.
	tg.Extract = nil
	if j := tg.Job(runID, at); j.Extract != nil {
		t.Errorf("Extract = %v, want nil", j.Extract)
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct {
		word    string
		options []string
		want    string
	}{
		{"shedule", targetKeys, "schedule"},
		{"URL", targetKeys, "url"},
		{"useragent", targetKeys, "user_agent"},
		{"timout", targetKeys, "timeout"},
		{"extracts", targetKeys, "extract"},
		{"expresion", scheduleKeys, "expression"},
		{"tz", scheduleKeys, ""},
		{"selector", ruleKeys, ""},
		{"x", ruleKeys, ""},
		{"hourlyy", []string{"hourly", "morning"}, "hourly"},
		{"anything", nil, ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.word, tt.options); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "", 3},
		{"", "abc", 3},
		{"schedule", "shedule", 1},
		{"kitten", "sitting", 3},
		{"séoul", "seoul", 1},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// targets: [] is a file whose targets are all in a stored list: its
// schedules, defaults, hosts and extracts are what the list is planned with.
func TestEmptyTargetsListIsAStoredListsFile(t *testing.T) {
	f, err := Parse("targets.yaml", []byte("schedules:\n  hourly: { expression: \"rate(1 hour)\" }\nextracts:\n  title: { title: { css: title } }\ntargets: []\n"))
	if err != nil {
		t.Fatalf("targets: [] refused: %v", err)
	}
	if len(f.Targets) != 0 || len(f.Schedules) != 1 || len(f.Extracts["title"]) != 1 {
		t.Fatalf("parsed %+v", f)
	}
	tg, err := f.Resolve(Entry{ID: "a", URL: "https://example.com/", Schedule: "hourly", Extract: "title"})
	if err != nil || tg.Extract["title"].CSS != "title" {
		t.Fatalf("a stored entry resolved to %+v, %v", tg, err)
	}
}
