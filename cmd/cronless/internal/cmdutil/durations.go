package cmdutil

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// daysPrefix matches a duration that starts with whole days ("7d", "1d12h").
var daysPrefix = regexp.MustCompile(`^(\d+)d(.*)$`)

// ParseDays parses a Go duration that may start with whole days ("7d",
// "1d12h"): the syntax of --older-than, --since and --until.
func ParseDays(s string) (time.Duration, error) {
	var d time.Duration
	if m := daysPrefix.FindStringSubmatch(s); m != nil {
		days, err := strconv.Atoi(m[1])
		if err != nil || days > 100_000 {
			return 0, fmt.Errorf("days %q", m[1])
		}
		d, s = time.Duration(days)*24*time.Hour, m[2]
		if s == "" {
			return d, nil
		}
	}
	more, err := time.ParseDuration(s)
	if err != nil || more < 0 {
		return 0, fmt.Errorf("duration %q", s)
	}
	return d + more, nil
}

// WhenUsage says which times a time flag (--since, --until) accepts.
const WhenUsage = "an RFC 3339 time (2026-11-27T09:00:00Z), a date (2026-11-27, midnight UTC), or a duration ago (90m, 24h, 7d, 1d12h)"

// ParseWhen reads the value of a time flag (--since, --until): an RFC 3339
// time, a date (midnight UTC), or a duration meaning that long before now,
// in Go's syntax plus whole days ("7d", "1d12h"). Empty is the zero time.
// A bad value is a usage error that says what is accepted.
func ParseWhen(flag, v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	bad := func() (time.Time, error) {
		return time.Time{}, Usagef("--%s %q: use %s", flag, v, WhenUsage)
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	d, err := ParseDays(v)
	if err != nil {
		return bad()
	}
	return now.Add(-d).UTC(), nil
}
