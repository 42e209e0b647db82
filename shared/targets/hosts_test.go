package targets

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cronless/cronless/shared/schedule"
)

func TestHostLimits(t *testing.T) {
	type limits struct {
		rate        float64
		concurrency int
	}
	tests := []struct {
		name    string
		file    []byte
		targets map[string]limits // by target id
	}{
		{
			name: "built-in defaults",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`targets:`,
				`  - { id: a, url: "https://example.com/", schedule: hourly }`,
			),
			targets: map[string]limits{"a": {DefaultHostRate, 0}},
		},
		{
			name: "defaults, then hosts entries key by key",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`defaults: { host_rate: 30/m, host_concurrency: 3 }`,
				`hosts:`,
				`  fast.example: { rate: 5/s, concurrency: 4 }`,
				`  RATE-ONLY.example: { rate: 3600/h }`,
				`  conc-only.example: { concurrency: 1 }`,
				`  empty.example:`,
				`  unused.example: { rate: 2/s }`,
				`targets:`,
				`  - { id: plain, url: "https://plain.example/", schedule: hourly }`,
				`  - { id: fast, url: "https://FAST.example:8443/a?b=c", schedule: hourly }`,
				`  - { id: rate, url: "http://rate-only.example/", schedule: hourly }`,
				`  - { id: conc, url: "https://conc-only.example/", schedule: hourly }`,
				`  - { id: empty, url: "https://empty.example/", schedule: hourly }`,
				`  - { id: sub, url: "https://www.fast.example/", schedule: hourly }`,
			),
			targets: map[string]limits{
				"plain": {0.5, 3},
				"fast":  {5, 4},
				"rate":  {1, 3},
				"conc":  {0.5, 1},
				"empty": {0.5, 3},
				"sub":   {0.5, 3}, // a host is matched whole, not by its domain
			},
		},
		{
			name: "addresses and internationalised names",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`hosts:`,
				`  127.0.0.2: { rate: 0.25/s }`,
				`  "[::1]": { concurrency: 7 }`,
				`  Bücher.example: { rate: 10/s }`,
				`  xn--mnchen-3ya.example: { rate: 20/s }`,
				`targets:`,
				`  - { id: v4, url: "http://127.0.0.2:8080/", schedule: hourly }`,
				`  - { id: v6, url: "http://[::1]:8080/", schedule: hourly }`,
				`  - { id: idn, url: "https://bücher.example/", schedule: hourly }`,
				`  - { id: puny, url: "https://münchen.example/", schedule: hourly }`,
			),
			targets: map[string]limits{
				"v4":   {0.25, 0},
				"v6":   {DefaultHostRate, 7},
				"idn":  {10, 0},
				"puny": {20, 0},
			},
		},
		{
			name: "rates at the edges and with spaces",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`hosts:`,
				`  a.example: { rate: 1000/s, concurrency: 100 }`,
				`  b.example: { rate: " 1 / h " }`,
				`  c.example: { rate: .5/s }`,
				`targets:`,
				`  - { id: a, url: "https://a.example/", schedule: hourly }`,
				`  - { id: b, url: "https://b.example/", schedule: hourly }`,
				`  - { id: c, url: "https://c.example/", schedule: hourly }`,
			),
			targets: map[string]limits{"a": {1000, 100}, "b": {1.0 / 3600, 0}, "c": {0.5, 0}},
		},
		{
			name: "unlimited: a host of your own, not paced",
			file: yamlLines(
				`schedules:`,
				`  hourly: { expression: "rate(1 hour)" }`,
				`defaults: { host_rate: unlimited }`,
				`hosts:`,
				`  b.example: { rate: 2/s }`,
				`targets:`,
				`  - { id: a, url: "https://a.example/", schedule: hourly }`,
				`  - { id: b, url: "https://b.example/", schedule: hourly }`,
			),
			targets: map[string]limits{"a": {Unlimited, 0}, "b": {2, 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, tt.file)
			if len(f.Targets) != len(tt.targets) {
				t.Fatalf("got %d targets, want %d", len(f.Targets), len(tt.targets))
			}
			for _, tg := range f.Targets {
				want := tt.targets[tg.ID]
				if tg.HostRate != want.rate || tg.HostConcurrency != want.concurrency {
					t.Errorf("target %s (host %s): rate %v, concurrency %d; want %v, %d", tg.ID, tg.Host(), tg.HostRate, tg.HostConcurrency, want.rate, want.concurrency)
				}
				j := tg.Job("r", time.Now())
				wantRate := tg.HostRate
				if tg.HostRate == Unlimited {
					wantRate = 0 // a job that is not paced
				}
				if j.HostRate != wantRate || j.HostConcurrency != tg.HostConcurrency {
					t.Errorf("target %s: job carries %v, %d", tg.ID, j.HostRate, j.HostConcurrency)
				}
			}
		})
	}
}

func TestParseHostsEntries(t *testing.T) {
	f := mustParse(t, yamlLines(
		`schedules:`,
		`  hourly: { expression: "rate(1 hour)" }`,
		`hosts:`,
		`  Example.COM: { rate: 5/s, concurrency: 4 }`,
		`  "[::1]": { rate: 2/m }`,
		`targets:`,
		`  - { id: a, url: "https://example.com/", schedule: hourly }`,
	))
	if got := strings.Join(f.HostNames, ","); got != "example.com,::1" {
		t.Errorf("HostNames = %s", got)
	}
	want := Host{Name: "example.com", Rate: 5, Concurrency: 4, Line: 4, Col: 3}
	if got := f.Hosts["example.com"]; got != want {
		t.Errorf("Hosts[example.com] = %+v, want %+v", got, want)
	}
	if got := f.Hosts["::1"]; got.Rate != 2.0/60 || got.Concurrency != 0 {
		t.Errorf("Hosts[::1] = %+v", got)
	}
}

func TestUnusedHosts(t *testing.T) {
	f := mustParse(t, yamlLines(
		`schedules:`,
		`  hourly: { expression: "rate(1 hour)" }`,
		`hosts:`,
		`  example.com: { rate: 5/s }`,
		`  exmaple.com: { rate: 5/s }`,
		`  later.example: { rate: 5/s }`,
		`targets:`,
		`  - { id: a, url: "https://example.com/", schedule: hourly }`,
	))
	got := f.UnusedHosts()
	want := []string{
		`targets.yaml:5:3: hosts entry "exmaple.com" matches no target's host in this file; did you mean "example.com"? (stored targets are not checked)`,
		`targets.yaml:6:3: hosts entry "later.example" matches no target's host in this file; it applies to stored targets on that host (cronless targets import), and once a target's URL is on it`,
	}
	if len(got) != len(want) {
		t.Fatalf("UnusedHosts = %v, want %d", got, len(want))
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("UnusedHosts[%d]:\n  got  %s\n  want %s", i, got[i], want[i])
		}
	}
}

func TestFormatRate(t *testing.T) {
	tests := []struct {
		perSecond float64
		want      string
	}{
		{1, "1/s"},
		{2.5, "2.5/s"},
		{1000, "1000/s"},
		{0.5, "30/m"},
		{1.0 / 60, "1/m"},
		{1.0 / 3600, "1/h"},
		{1.0 / 7200, "0.5/h"},
		{1.0 / 3, "20/m"},
	}
	for _, tt := range tests {
		if got := FormatRate(tt.perSecond); got != tt.want {
			t.Errorf("FormatRate(%v) = %s, want %s", tt.perSecond, got, tt.want)
		}
	}
}

// manyTargets is a file of n targets on each of hosts, all on schedule,
// with the hosts: section given.
func manyTargets(expression string, hostsSection []string, perHost map[string]int) []byte {
	lines := []string{`schedules:`, fmt.Sprintf(`  s: { expression: %q }`, expression)}
	lines = append(lines, hostsSection...)
	lines = append(lines, `targets:`)
	for _, h := range []string{"big.example", "mid.example", "small.example"} {
		for i := range perHost[h] {
			lines = append(lines, fmt.Sprintf(`  - { id: %s-%d, url: "https://%s/%d", schedule: s }`, strings.Split(h, ".")[0], i, h, i))
		}
	}
	return yamlLines(lines...)
}

func TestTickSpread(t *testing.T) {
	from := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		file       []byte
		want       Spread
		overlaps   bool
		str, warns string
	}{
		{
			name: "10,000 targets at 2/s need 83 minutes, more than an hour",
			file: manyTargets("rate(1 hour)", []string{`hosts:`, `  big.example: { rate: 2/s }`}, map[string]int{"big.example": 10000}),
			want: Spread{Schedule: "s", Targets: 10000, Hosts: 1, Duration: 5000 * time.Second,
				SlowestHost: "big.example", SlowestJobs: 10000, SlowestRate: 2, Period: time.Hour},
			overlaps: true,
			str:      "schedule s: 10000 targets on 1 host start within 1h23m20s (slowest host big.example: 10000 at 2/s)",
			warns:    "schedule s: a tick needs 1h23m20s to start its 10000 targets on 1 host (slowest host big.example: 10000 at 2/s), longer than its period of 1h0m0s: ticks will overlap; raise the host's rate in hosts:, or run the schedule less often",
		},
		{
			name: "the slowest host is not the biggest",
			file: manyTargets("rate(1 hour)", []string{`defaults: { host_rate: 1/s }`, `hosts:`, `  big.example: { rate: 10/s }`, `  small.example: { rate: 6/m }`},
				map[string]int{"big.example": 60, "mid.example": 30, "small.example": 5}),
			want: Spread{Schedule: "s", Targets: 95, Hosts: 3, Duration: 50 * time.Second,
				SlowestHost: "small.example", SlowestJobs: 5, SlowestRate: 0.1, Period: time.Hour},
			str: "schedule s: 95 targets on 3 hosts start within 50s (slowest host small.example: 5 at 6/m)",
		},
		{
			name: "ties go to the first host",
			file: manyTargets("cron(0 9 ? * MON-FRI *)", nil, map[string]int{"big.example": 60, "mid.example": 60}),
			want: Spread{Schedule: "s", Targets: 120, Hosts: 2, Duration: time.Minute,
				SlowestHost: "big.example", SlowestJobs: 60, SlowestRate: 1, Period: 24 * time.Hour},
			str: "schedule s: 120 targets on 2 hosts start within 1m0s (slowest host big.example: 60 at 1/s)",
		},
		{
			name: "under a second",
			file: manyTargets("rate(1 minute)", []string{`hosts:`, `  big.example: { rate: 5/s }`}, map[string]int{"big.example": 3}),
			want: Spread{Schedule: "s", Targets: 3, Hosts: 1, Duration: 600 * time.Millisecond,
				SlowestHost: "big.example", SlowestJobs: 3, SlowestRate: 5, Period: time.Minute},
			str: "schedule s: 3 targets on 1 host start within 600ms (slowest host big.example: 3 at 5/s)",
		},
		{
			name: "a one-time schedule never overlaps",
			file: manyTargets("at(2026-07-01T09:00:00)", nil, map[string]int{"big.example": 7200}),
			want: Spread{Schedule: "s", Targets: 7200, Hosts: 1, Duration: 2 * time.Hour,
				SlowestHost: "big.example", SlowestJobs: 7200, SlowestRate: 1},
			str: "schedule s: 7200 targets on 1 host start within 2h0m0s (slowest host big.example: 7200 at 1/s)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustParse(t, tt.file)
			got := f.TickSpread("s", from)
			if got != tt.want {
				t.Errorf("TickSpread =\n  %+v\nwant\n  %+v", got, tt.want)
			}
			if got.Overlaps() != tt.overlaps {
				t.Errorf("Overlaps = %v, want %v", got.Overlaps(), tt.overlaps)
			}
			if s := got.String(); s != tt.str {
				t.Errorf("String =\n  %s\nwant\n  %s", s, tt.str)
			}
			if w := got.Warning(); w != tt.warns {
				t.Errorf("Warning =\n  %s\nwant\n  %s", w, tt.warns)
			}
		})
	}

	// A schedule without targets.
	empty := TickSpread(Schedule{Name: "idle"}, nil, from)
	if empty.String() != "schedule idle: no targets" || empty.Overlaps() || empty.Warning() != "" {
		t.Errorf("no targets: %+v, %q", empty, empty.String())
	}
}

func TestSchedulePeriod(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		expr, zone string
		want       time.Duration
	}{
		{"rate(1 minute)", "UTC", time.Minute},
		{"rate(15 minutes)", "UTC", 15 * time.Minute},
		{"rate(1 hour)", "Asia/Seoul", time.Hour},
		{"rate(2 days)", "UTC", 48 * time.Hour},
		{"cron(0 9 * * ? *)", "UTC", 24 * time.Hour},
		{"cron(0 9 ? * MON-FRI *)", "Asia/Seoul", 24 * time.Hour},
		{"cron(0/20 9-17 ? * MON-FRI *)", "UTC", 20 * time.Minute},
		{"cron(0 9,10 ? * MON *)", "UTC", time.Hour},
		{"cron(0 0 1 * ? *)", "UTC", 28 * 24 * time.Hour}, // February
		// Hourly on the wall clock in New York: the hour that happens
		// twice in November fires once, so no gap is shorter than an hour.
		{"cron(30 * * * ? *)", "America/New_York", time.Hour},
		{"at(2026-03-01T09:00:00)", "UTC", 0},
		{"cron(0 9 1 1 ? 2026)", "UTC", 0}, // fires once
	}
	for _, tt := range tests {
		expr, err := schedule.Parse(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		loc, err := time.LoadLocation(tt.zone)
		if err != nil {
			t.Fatal(err)
		}
		s := Schedule{Name: "s", Expression: tt.expr, Expr: expr, Timezone: tt.zone, Location: loc}
		if got := s.Period(from); got != tt.want {
			t.Errorf("Period(%s in %s) = %s, want %s", tt.expr, tt.zone, got, tt.want)
		}
	}
	if got := (Schedule{}).Period(from); got != 0 {
		t.Errorf("zero Schedule: Period = %s", got)
	}
}
