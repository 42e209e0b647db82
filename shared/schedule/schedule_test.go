package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the DST tests need zones even where the OS has no zoneinfo
)

// zone loads an IANA time zone or fails the test.
func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load time zone %s: %v", name, err)
	}
	return loc
}

// parseTime parses an RFC 3339 time or fails the test.
func parseTime(t *testing.T, s string) time.Time {
	t.Helper()
	if s == "" {
		return time.Time{}
	}
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("parse time %q: %v", s, err)
	}
	return tm
}

// mustParse parses an expression or fails the test.
func mustParse(t *testing.T, expr string) Expr {
	t.Helper()
	e, err := Parse(expr)
	if err != nil {
		t.Fatalf("Parse(%q): %v", expr, err)
	}
	return e
}

func TestNext(t *testing.T) {
	tests := []struct {
		name  string
		expr  string
		zone  string // IANA name; empty means UTC
		after string // RFC 3339
		want  string // RFC 3339 instant; empty means no next fire
	}{
		// rate(): multiples of the period since the Unix epoch.
		{"rate hour", "rate(1 hour)", "", "2026-01-01T10:15:00Z", "2026-01-01T11:00:00Z"},
		{"rate is strictly after", "rate(1 hour)", "", "2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z"},
		{"rate minutes", "rate(5 minutes)", "", "2026-01-01T10:02:30Z", "2026-01-01T10:05:00Z"},
		{"rate 90 minutes", "rate(90 minutes)", "", "2026-01-01T00:00:00Z", "2026-01-01T01:30:00Z"},
		{"rate 1 minute", "rate(1 minute)", "", "2026-01-01T00:00:59Z", "2026-01-01T00:01:00Z"},
		{"rate days from epoch", "rate(7 days)", "", "2026-01-01T00:00:00Z", "2026-01-08T00:00:00Z"},
		{"rate ignores zone", "rate(1 day)", "Asia/Seoul", "2026-01-01T10:00:00+09:00", "2026-01-02T00:00:00Z"},
		{"rate hour in Seoul", "rate(1 hour)", "Asia/Seoul", "2026-01-01T09:30:00+09:00", "2026-01-01T01:00:00Z"},
		{"rate before 1970", "rate(1 hour)", "", "1969-12-31T22:30:00Z", "1969-12-31T23:00:00Z"},
		{"rate stops after 2199", "rate(1 day)", "", "2199-12-31T00:00:00Z", ""},

		// cron(): values, *, ranges, lists, increments, names.
		{"daily", "cron(0 9 * * ? *)", "", "2026-01-01T08:59:59Z", "2026-01-01T09:00:00Z"},
		{"daily strictly after", "cron(0 9 * * ? *)", "", "2026-01-01T09:00:00Z", "2026-01-02T09:00:00Z"},
		{"daily with dom ?", "cron(0 9 ? * * *)", "", "2026-01-01T09:00:00Z", "2026-01-02T09:00:00Z"},
		{"every 15 minutes", "cron(0/15 * * * ? *)", "", "2026-01-01T10:07:00Z", "2026-01-01T10:15:00Z"},
		{"star step", "cron(*/20 * * * ? *)", "", "2026-01-01T10:40:00Z", "2026-01-01T11:00:00Z"},
		{"1/10 starts at minute 1", "cron(1/10 * * * ? *)", "", "2026-01-01T10:00:00Z", "2026-01-01T10:01:00Z"},
		{"1/10 wraps the hour", "cron(1/10 * * * ? *)", "", "2026-01-01T10:51:00Z", "2026-01-01T11:01:00Z"},
		{"range step", "cron(5-30/10 * * * ? *)", "", "2026-01-01T10:26:00Z", "2026-01-01T11:05:00Z"},
		{"hour range wraps day", "cron(*/20 9-10 * * ? *)", "", "2026-01-01T10:40:00Z", "2026-01-02T09:00:00Z"},
		{"hour list", "cron(30 8,12,18 * * ? *)", "", "2026-01-01T12:30:00Z", "2026-01-01T18:30:00Z"},
		{"weekdays by name", "cron(0 9 ? * MON-FRI *)", "", "2026-01-02T09:00:00Z", "2026-01-05T09:00:00Z"},
		{"weekdays by number", "cron(0 9 ? * 2-6 *)", "", "2026-01-02T09:00:00Z", "2026-01-05T09:00:00Z"},
		{"sunday is 1", "cron(0 9 ? * 1 *)", "", "2026-01-01T00:00:00Z", "2026-01-04T09:00:00Z"},
		{"saturday is 7", "cron(0 9 ? * 7 *)", "", "2026-01-01T00:00:00Z", "2026-01-03T09:00:00Z"},
		{"day list by name", "cron(0 9 ? * MON,WED,FRI *)", "", "2026-01-05T10:00:00Z", "2026-01-07T09:00:00Z"},
		{"lower-case names", "cron(0 0 1 jan ? *)", "", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{"month list by name", "cron(0 0 1 JAN,JUL ? *)", "", "2026-01-01T00:00:00Z", "2026-07-01T00:00:00Z"},
		{"month range", "cron(0 0 1 MAR-MAY ? *)", "", "2026-01-15T00:00:00Z", "2026-03-01T00:00:00Z"},
		{"month step", "cron(0 0 1 1/3 ? *)", "", "2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z"},
		{"day of month step", "cron(0 0 1/10 * ? *)", "", "2026-01-01T00:00:00Z", "2026-01-11T00:00:00Z"},
		{"day of month list", "cron(0 0 1,15 * ? *)", "", "2026-01-02T00:00:00Z", "2026-01-15T00:00:00Z"},
		{"feb 29 waits for a leap year", "cron(0 0 29 2 ? *)", "", "2026-01-01T00:00:00Z", "2028-02-29T00:00:00Z"},
		{"feb 30 never fires", "cron(0 0 30 2 ? *)", "", "2026-01-01T00:00:00Z", ""},
		{"31st skips short months", "cron(0 0 31 * ? *)", "", "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z"},

		// L, W and #.
		{"L last day", "cron(0 12 L * ? *)", "", "2026-02-01T00:00:00Z", "2026-02-28T12:00:00Z"},
		{"L in leap february", "cron(0 12 L * ? *)", "", "2028-02-01T00:00:00Z", "2028-02-29T12:00:00Z"},
		{"LW when month ends on saturday", "cron(0 12 LW * ? *)", "", "2026-01-01T00:00:00Z", "2026-01-30T12:00:00Z"},
		{"LW when month ends on sunday", "cron(0 12 LW * ? *)", "", "2026-05-01T00:00:00Z", "2026-05-29T12:00:00Z"},
		{"LW when month ends on a weekday", "cron(0 12 LW * ? *)", "", "2026-03-01T00:00:00Z", "2026-03-31T12:00:00Z"},
		{"15W on a sunday moves to monday", "cron(0 12 15W * ? *)", "", "2026-02-01T00:00:00Z", "2026-02-16T12:00:00Z"},
		{"15W on a saturday moves to friday", "cron(0 12 15W * ? *)", "", "2026-08-01T00:00:00Z", "2026-08-14T12:00:00Z"},
		{"15W on a weekday stays", "cron(0 12 15W * ? *)", "", "2026-01-01T00:00:00Z", "2026-01-15T12:00:00Z"},
		{"1W on a saturday moves to monday the 3rd", "cron(0 12 1W * ? *)", "", "2026-07-05T00:00:00Z", "2026-08-03T12:00:00Z"},
		{"31W on a sunday moves back to friday", "cron(0 12 31W * ? *)", "", "2026-04-01T00:00:00Z", "2026-05-29T12:00:00Z"},
		{"3#2 second tuesday", "cron(0 10 ? * 3#2 *)", "", "2026-01-01T00:00:00Z", "2026-01-13T10:00:00Z"},
		{"TUE#2 by name", "cron(0 10 ? * TUE#2 *)", "", "2026-01-13T10:00:00Z", "2026-02-10T10:00:00Z"},
		{"6#5 fifth friday", "cron(0 10 ? * 6#5 *)", "", "2026-01-01T00:00:00Z", "2026-01-30T10:00:00Z"},
		{"fifth friday skips months without one", "cron(0 10 ? * FRI#5 *)", "", "2026-01-31T00:00:00Z", "2026-05-29T10:00:00Z"},
		{"5L last thursday", "cron(0 10 ? * 5L *)", "", "2026-01-01T00:00:00Z", "2026-01-29T10:00:00Z"},
		{"FRIL last friday", "cron(0 10 ? * FRIL *)", "", "2026-02-01T00:00:00Z", "2026-02-27T10:00:00Z"},
		{"L in day-of-week is saturday", "cron(0 10 ? * L *)", "", "2026-01-01T00:00:00Z", "2026-01-03T10:00:00Z"},

		// The year field and its bounds.
		{"single year", "cron(0 0 1 1 ? 2030)", "", "2026-06-01T00:00:00Z", "2030-01-01T00:00:00Z"},
		{"year step", "cron(0 0 1 1 ? 2030/5)", "", "2030-01-01T00:00:00Z", "2035-01-01T00:00:00Z"},
		{"year range over", "cron(0 0 1 1 ? 2030-2031)", "", "2031-06-01T00:00:00Z", ""},
		{"last year", "cron(0 0 1 1 ? 2199)", "", "2199-01-01T00:00:00Z", ""},
		{"no fire after 2199", "cron(0 0 * * ? *)", "", "2199-12-31T00:00:00Z", ""},
		{"last minute of 2199", "cron(59 23 31 12 ? *)", "", "2199-12-31T00:00:00Z", "2199-12-31T23:59:00Z"},
		{"after before 1970", "cron(0 0 1 1 ? *)", "", "1900-01-01T00:00:00Z", "1970-01-01T00:00:00Z"},

		// Time zones: fields are wall clock in the zone.
		{"Seoul 9am is midnight UTC", "cron(0 9 * * ? *)", "Asia/Seoul", "2025-12-31T23:59:00Z", "2026-01-01T00:00:00Z"},
		{"Seoul strictly after", "cron(0 9 * * ? *)", "Asia/Seoul", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
		{"Seoul weekday is local", "cron(0 8 ? * MON *)", "Asia/Seoul", "2026-01-04T22:00:00Z", "2026-01-04T23:00:00Z"},
		{"Seoul 1988 spring gap skipped", "cron(30 2 * * ? 1988)", "Asia/Seoul", "1988-05-07T12:00:00+09:00", "1988-05-09T02:30:00+10:00"},
		{"Seoul 1988 fall overlap first", "cron(30 2 * * ? 1988)", "Asia/Seoul", "1988-10-08T12:00:00+10:00", "1988-10-09T02:30:00+10:00"},
		{"Seoul 1988 fall overlap once", "cron(30 2 * * ? 1988)", "Asia/Seoul", "1988-10-09T02:30:00+10:00", "1988-10-10T02:30:00+09:00"},
		{"New York 9am follows DST", "cron(0 9 * * ? *)", "America/New_York", "2026-03-07T09:00:00-05:00", "2026-03-08T09:00:00-04:00"},
		{"New York gap skipped", "cron(30 2 * * ? *)", "America/New_York", "2026-03-07T12:00:00-05:00", "2026-03-09T02:30:00-04:00"},
		{"New York half-hourly across gap", "cron(0/30 * * * ? *)", "America/New_York", "2026-03-08T01:45:00-05:00", "2026-03-08T03:00:00-04:00"},
		{"New York overlap first occurrence", "cron(30 1 * * ? *)", "America/New_York", "2026-11-01T00:00:00-04:00", "2026-11-01T01:30:00-04:00"},
		{"New York overlap fires once", "cron(30 1 * * ? *)", "America/New_York", "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"},
		{"New York hourly skips repeated hour", "cron(0 * * * ? *)", "America/New_York", "2026-11-01T01:00:00-04:00", "2026-11-01T02:00:00-05:00"},
		{"New York after in second occurrence", "cron(45 1 * * ? *)", "America/New_York", "2026-11-01T01:15:00-05:00", "2026-11-02T01:45:00-05:00"},

		// at(): once, wall clock in the zone.
		{"at in Seoul", "at(2026-03-01T09:00:00)", "Asia/Seoul", "2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z"},
		{"at already passed", "at(2026-03-01T09:00:00)", "Asia/Seoul", "2026-03-01T00:00:00Z", ""},
		{"at with seconds", "at(2026-01-01T00:00:30)", "", "2026-01-01T00:00:00Z", "2026-01-01T00:00:30Z"},
		{"at in gap fires after it", "at(2026-03-08T02:30:00)", "America/New_York", "2026-01-01T00:00:00Z", "2026-03-08T03:00:00-04:00"},
		{"at in overlap fires at first", "at(2026-11-01T01:30:00)", "America/New_York", "2026-01-01T00:00:00Z", "2026-11-01T01:30:00-04:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustParse(t, tt.expr)
			loc := time.UTC
			if tt.zone != "" {
				loc = zone(t, tt.zone)
			}
			got := e.Next(parseTime(t, tt.after), loc)
			want := parseTime(t, tt.want)
			if !got.Equal(want) {
				t.Fatalf("%s.Next(%s) in %s = %s, want %s", tt.expr, tt.after, loc, got, want)
			}
			if !got.IsZero() && got.Location() != loc {
				t.Errorf("Next returned a time in %s, want %s", got.Location(), loc)
			}
		})
	}
}

// TestNextSequence follows one schedule across a stretch of time and checks
// every fire time, so skipped and repeated wall times show up.
func TestNextSequence(t *testing.T) {
	tests := []struct {
		name  string
		expr  string
		zone  string
		after string
		want  []string
	}{
		{
			name: "half-hourly through New York fall back fires each wall time once",
			expr: "cron(0/30 * * * ? *)", zone: "America/New_York", after: "2026-11-01T00:00:00-04:00",
			want: []string{
				"2026-11-01T00:30:00-04:00", "2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00",
				"2026-11-01T02:00:00-05:00", "2026-11-01T02:30:00-05:00", "2026-11-01T03:00:00-05:00",
			},
		},
		{
			name: "half-hourly through New York spring forward skips the missing hour",
			expr: "cron(0/30 * * * ? *)", zone: "America/New_York", after: "2026-03-08T00:30:00-05:00",
			want: []string{
				"2026-03-08T01:00:00-05:00", "2026-03-08T01:30:00-05:00",
				"2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00",
			},
		},
		{
			name: "weekdays at 9 in Seoul",
			expr: "cron(0 9 ? * MON-FRI *)", zone: "Asia/Seoul", after: "2026-01-01T12:00:00+09:00",
			want: []string{
				"2026-01-02T09:00:00+09:00", "2026-01-05T09:00:00+09:00", "2026-01-06T09:00:00+09:00",
				"2026-01-07T09:00:00+09:00", "2026-01-08T09:00:00+09:00", "2026-01-09T09:00:00+09:00",
				"2026-01-12T09:00:00+09:00",
			},
		},
		{
			name: "first monday of each month",
			expr: "cron(0 9 ? * MON#1 *)", after: "2026-01-01T00:00:00Z",
			want: []string{
				"2026-01-05T09:00:00Z", "2026-02-02T09:00:00Z", "2026-03-02T09:00:00Z", "2026-04-06T09:00:00Z",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustParse(t, tt.expr)
			loc := time.UTC
			if tt.zone != "" {
				loc = zone(t, tt.zone)
			}
			at := parseTime(t, tt.after)
			for i, w := range tt.want {
				at = e.Next(at, loc)
				if want := parseTime(t, w); !at.Equal(want) {
					t.Fatalf("fire %d = %s, want %s", i, at.Format(time.RFC3339), w)
				}
			}
		})
	}
}

// TestNextMatchesBruteForce compares Next with a minute-by-minute scan, in
// zones without DST in the scanned period, where every wall time exists once.
func TestNextMatchesBruteForce(t *testing.T) {
	exprs := []string{
		"cron(0 9 * * ? *)",
		"cron(*/7 1-3 ? * MON-FRI *)",
		"cron(15 6 L * ? *)",
		"cron(15 6 LW * ? *)",
		"cron(0 12 3W * ? *)",
		"cron(0 0 ? * 2#3 *)",
		"cron(0 0 ? * 1L *)",
		"cron(10,20 */5 1-10/3 JAN,MAR-JUN ? *)",
	}
	for _, zoneName := range []string{"UTC", "Asia/Seoul"} {
		loc := zone(t, zoneName)
		for _, expr := range exprs {
			t.Run(zoneName+" "+expr, func(t *testing.T) {
				e := mustParse(t, expr)
				start := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
				end := start.AddDate(0, 7, 0)
				next := e.Next(start, loc)
				for m := start.Add(time.Minute); m.Before(end); m = m.Add(time.Minute) {
					if !e.cron.fires(m.In(loc)) {
						continue
					}
					if !next.Equal(m) {
						t.Fatalf("Next gave %s, brute force found %s", next, m)
					}
					next = e.Next(m, loc)
				}
			})
		}
	}
}

// fires reports whether the cron fields match wall time w; it is the brute
// force the walk in next is checked against.
func (c *cronSpec) fires(w time.Time) bool {
	return w.Second() == 0 && c.minutes.has(w.Minute()) && c.hours.has(w.Hour()) &&
		c.day.matches(w.Year(), int(w.Month()), w.Day()) &&
		c.months.has(int(w.Month())) && c.years.has(w.Year())
}

func TestNextZeroExpr(t *testing.T) {
	var e Expr
	if got := e.Next(time.Now(), nil); !got.IsZero() {
		t.Fatalf("zero Expr fired at %s", got)
	}
	if !e.IsZero() || e.String() != "" {
		t.Fatalf("zero Expr: IsZero=%v String=%q", e.IsZero(), e.String())
	}
}

func TestNextNilLocationIsUTC(t *testing.T) {
	e := mustParse(t, "cron(0 9 * * ? *)")
	got := e.Next(parseTime(t, "2026-01-01T00:00:00Z"), nil)
	if want := parseTime(t, "2026-01-01T09:00:00Z"); !got.Equal(want) || got.Location() != time.UTC {
		t.Fatalf("Next = %s, want %s in UTC", got, want)
	}
}

func TestString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"rate(1 hour)", "rate(1 hour)"},
		{"  rate(5 minutes) ", "rate(5 minutes)"},
		{"cron(0 9 ? * MON-FRI *)", "cron(0 9 ? * MON-FRI *)"},
		{"at(2026-03-01T09:00:00)", "at(2026-03-01T09:00:00)"},
	}
	for _, tt := range tests {
		if got := mustParse(t, tt.in).String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseValid(t *testing.T) {
	valid := []string{
		"rate(1 minute)", "rate(2 minutes)", "rate(1 hour)", "rate(12 hours)", "rate(1 day)", "rate(30 days)",
		"cron(0 9 * * ? *)", "cron(0 9 ? * * *)", "cron(0 18 ? * MON-FRI *)", "cron(0 8 1 * ? *)",
		"cron(0/15 * * * ? *)", "cron(0/10 * ? * MON-FRI *)", "cron(0/5 8-17 ? * MON-FRI *)",
		"cron(0 9 ? * 2#1 *)", "cron(0 9 ? * 6L *)", "cron(0 9 L * ? *)", "cron(0 9 LW * ? *)",
		"cron(0 9 3W * ? *)", "cron(0 9 * JAN-DEC ? 1970-2199)", "cron(0 9 ? * SUN,SAT *)",
		"cron(0 9 ? * L *)", "cron(0 9 ? * sat#1 *)", "cron(0-59 0-23 1-31 1-12 ? *)",
		"cron(0 9 * * ? 2026,2028)", "cron(0 9 ? * MON,WED-FRI *)",
		"at(2026-03-01T09:00:00)", "at(1970-01-01T00:00:00)", "at(2199-12-31T23:59:59)",
	}
	for _, expr := range valid {
		if _, err := Parse(expr); err != nil {
			t.Errorf("Parse(%q): %v", expr, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		expr  string
		field string // the *Error's Field
		want  string // a fragment of the message
	}{
		{"", "", "schedule expression is empty; use rate(1 hour)"},
		{"   ", "", "schedule expression is empty"},
		{"every hour", "", "every hour: must be rate(...), cron(...) or at(...)"},
		{"cron(0 9 * * ? *", "", "must be rate(...), cron(...) or at(...)"},
		{"Rate(1 hour)", "", `unknown schedule type "Rate"; use rate(...), cron(...) or at(...) in lower case`},
		{"interval(1 hour)", "", `unknown schedule type "interval"`},

		{"rate(1 hours)", "", "rate(1 hours): a value of 1 takes the singular unit; write rate(1 hour)"},
		{"rate(1 minutes)", "", "write rate(1 minute)"},
		{"rate(1 days)", "", "write rate(1 day)"},
		{"rate(5 minute)", "", "a value other than 1 takes the plural unit; write rate(5 minutes)"},
		{"rate(2 day)", "", "write rate(2 days)"},
		{"rate(0 minutes)", "", "value 0 must be at least 1"},
		{"rate(-1 minutes)", "", `value "-1" is not a whole number`},
		{"rate(+5 minutes)", "", `value "+5" is not a whole number`},
		{"rate(1.5 hours)", "", `value "1.5" is not a whole number`},
		{"rate(1 week)", "", `unknown unit "week"; use rate(N unit) with unit minute(s), hour(s) or day(s)`},
		{"rate(30 seconds)", "", `unknown unit "seconds"`},
		{"rate(1 Hour)", "", `unknown unit "Hour"`},
		{"rate(hour)", "", "needs a value and a unit"},
		{"rate()", "", "needs a value and a unit"},
		{"rate(1 hour 2)", "", "needs a value and a unit"},
		{"rate(2000000 days)", "", "value 2000000 is too large"},

		{"cron(0 9 * * ?)", "", "has 5 fields, want 6: minutes hours day-of-month month day-of-week year; EventBridge has a year field, e.g. cron(0 9 * * ? *)"},
		{"cron(0 0 9 * * ? *)", "", "has 7 fields, want 6"},
		{"cron()", "", "has 0 fields, want 6"},
		{"cron(0 9 * * * *)", "", "cron(0 9 * * * *): day-of-month and day-of-week cannot both be set; use ? in one of them, e.g. cron(0 9 * * ? *)"},
		{"cron(0 9 * * MON *)", "", "cannot both be set; use ? in one of them, e.g. cron(0 9 ? * MON *)"},
		{"cron(0 9 1 * MON *)", "", "e.g. cron(0 9 ? * MON *)"},
		{"cron(0 9 ? * ? *)", "", "day-of-month and day-of-week cannot both be ?; set one of them, e.g. cron(0 9 * * ? *)"},

		{"cron(60 9 * * ? *)", "minutes", "minutes: 60 is out of range; use 0-59"},
		{"cron(0 24 * * ? *)", "hours", "hours: 24 is out of range; use 0-23"},
		{"cron(0 9 32 * ? *)", "day-of-month", "day-of-month: 32 is out of range; use 1-31"},
		{"cron(0 9 0 * ? *)", "day-of-month", "day-of-month: 0 is out of range"},
		{"cron(0 9 * 13 ? *)", "month", "month: 13 is out of range; use 1-12 or JAN-DEC"},
		{"cron(0 9 * 0 ? *)", "month", "month: 0 is out of range"},
		{"cron(0 9 ? * 0 *)", "day-of-week", "day-of-week: 0 is out of range; use 1-7 (1 = SUN) or SUN-SAT"},
		{"cron(0 9 ? * 8 *)", "day-of-week", "day-of-week: 8 is out of range"},
		{"cron(0 9 * * ? 1969)", "year", "year: 1969 is out of range; use 1970-2199"},
		{"cron(0 9 * * ? 2200)", "year", "year: 2200 is out of range"},
		{"cron(0 9 * FOO ? *)", "month", `month: "FOO" is not a valid value; use 1-12 or JAN-DEC`},
		{"cron(0 9 ? * MONDAY *)", "day-of-week", `"MONDAY" is not a valid value; use 1-7 (1 = SUN) or SUN-SAT`},
		{"cron(0 9 * MON ? *)", "month", `"MON" is not a valid value`},
		{"cron(x 9 * * ? *)", "minutes", `minutes: "x" is not a valid value`},
		{"cron(-5 9 * * ? *)", "minutes", `"-5" is missing a value`},
		{"cron(0 9 1- * ? *)", "day-of-month", `"1-" is missing a value`},
		{"cron(0 9 1,,2 * ? *)", "day-of-month", `"1,,2" has an empty item; separate values with single commas`},
		{"cron(*/0 9 * * ? *)", "minutes", `"*/0": the increment after / must be a whole number of at least 1, e.g. 0/15`},
		{"cron(0/x 9 * * ? *)", "minutes", "the increment after / must be a whole number"},
		{"cron(0 9 ? * MON/2 *)", "day-of-week", "increments (/) are not allowed here; list the days instead, e.g. MON,WED,FRI"},
		{"cron(0 17-9 * * ? *)", "hours", `range "17-9" runs backwards; write the lower value first, e.g. 9-17`},
		{"cron(0 9 ? * FRI-MON *)", "day-of-week", `range "FRI-MON" runs backwards`},
		{"cron(0 ? * * ? *)", "hours", "? is only allowed in day-of-month and day-of-week; use * here"},
		{"cron(0 9 ?,1 * ? *)", "day-of-month", `? must be the whole field, not part of a list or range`},
		{"cron(L 9 * * ? *)", "minutes", `minutes: "L": L, W and # are only allowed in day-of-month and day-of-week`},
		{"cron(0 9 * 1W ? *)", "month", "L, W and # are only allowed in day-of-month and day-of-week"},
		{"cron(0 9 ? * 1#2 2026#1)", "year", "L, W and # are only allowed in day-of-month and day-of-week"},
		{"cron(0 9 1,L * ? *)", "day-of-month", `"L": L, W and # must be the whole field (e.g. L, 15W or 3#2), not part of a list or range`},
		{"cron(0 9 1,15W * ? *)", "day-of-month", "must be the whole field"},
		{"cron(0 9 L-3 * ? *)", "day-of-month", "must be the whole field"},
		{"cron(0 9 ? * 2#1,4#1 *)", "day-of-week", "must be the whole field"},
		{"cron(0 9 ? * MON-5L *)", "day-of-week", "must be the whole field"},
		{"cron(0 9 W * ? *)", "day-of-month", "W needs a day before it, e.g. 15W"},
		{"cron(0 9 32W * ? *)", "day-of-month", `"32W": the day before W must be 1-31`},
		{"cron(0 9 0W * ? *)", "day-of-month", "the day before W must be 1-31"},
		{"cron(0 9 ? * 3#6 *)", "day-of-week", `"3#6": the week number after # must be 1-5, e.g. 3#2 (the second Tuesday)`},
		{"cron(0 9 ? * 3#0 *)", "day-of-week", "the week number after # must be 1-5"},
		{"cron(0 9 ? * 3# *)", "day-of-week", "the week number after # must be 1-5"},
		{"cron(0 9 ? * 8#2 *)", "day-of-week", "8 is out of range; use 1-7"},
		{"cron(0 9 ? * #2 *)", "day-of-week", `"#2" is missing a value`},
		{"cron(0 9 ? * 8L *)", "day-of-week", "8 is out of range"},
		{"cron(0 9 ? * XL *)", "day-of-week", `"X" is not a valid value`},

		{"at(2026-02-30T09:00:00)", "", "date and time must be a valid yyyy-mm-ddThh:mm:ss, e.g. at(2026-03-01T09:00:00)"},
		{"at(2026-01-01 09:00:00)", "", "must be a valid yyyy-mm-ddThh:mm:ss"},
		{"at(2026-01-01T09:00)", "", "must be a valid yyyy-mm-ddThh:mm:ss"},
		{"at(2026-01-01T09:00:00Z)", "", "must be a valid yyyy-mm-ddThh:mm:ss"},
		{"at(2300-01-01T00:00:00)", "", "year 2300 is out of range; use 1970-2199"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			e, err := Parse(tt.expr)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want an error", tt.expr, e)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse(%q) error\n  %s\nwant it to contain\n  %s", tt.expr, err, tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) = false for %v", err)
			}
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("error %T is not a *schedule.Error", err)
			}
			if perr.Field != tt.field {
				t.Errorf("Field = %q, want %q", perr.Field, tt.field)
			}
			if trimmed := strings.TrimSpace(tt.expr); trimmed != "" && !strings.HasPrefix(err.Error(), trimmed+": ") {
				t.Errorf("error %q does not start with the expression", err)
			}
			if !e.IsZero() {
				t.Errorf("Parse returned a non-zero Expr with an error")
			}
		})
	}
}

func TestIsOneTime(t *testing.T) {
	if !mustParse(t, "at(2026-01-01T00:00:00)").IsOneTime() {
		t.Error("at() is not one-time")
	}
	if mustParse(t, "rate(1 hour)").IsOneTime() || mustParse(t, "cron(0 9 * * ? *)").IsOneTime() {
		t.Error("rate() or cron() is one-time")
	}
}

func BenchmarkNext(b *testing.B) {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		b.Fatal(err)
	}
	for _, expr := range []string{"rate(1 hour)", "cron(0/15 * * * ? *)", "cron(0 9 ? * MON#1 *)", "cron(0 0 30 2 ? *)"} {
		e, err := Parse(expr)
		if err != nil {
			b.Fatal(err)
		}
		after := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
		b.Run(expr, func(b *testing.B) {
			for b.Loop() {
				e.Next(after, loc)
			}
		})
	}
}
