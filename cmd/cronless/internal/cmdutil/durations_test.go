package cmdutil

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseDays(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"90m": 90 * time.Minute, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "1d12h": 36 * time.Hour, "1ms": time.Millisecond,
	} {
		if got, err := ParseDays(in); err != nil || got != want {
			t.Errorf("ParseDays(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "soon", "-1h", "7days", "d"} {
		if _, err := ParseDays(in); err == nil {
			t.Errorf("ParseDays(%q) accepted", in)
		}
	}
}

func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"2025-03-01T09:00:00Z", time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)},
		{"2025-03-01T18:00:00+09:00", time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)},
		{"2025-03-01T09:00:00.5Z", time.Date(2025, 3, 1, 9, 0, 0, 5e8, time.UTC)},
		{"2025-03-01", time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"24h", now.Add(-24 * time.Hour)},
		{"90m", now.Add(-90 * time.Minute)},
		{"1h30m", now.Add(-90 * time.Minute)},
		{"7d", now.Add(-7 * 24 * time.Hour)},
		{"1d12h", now.Add(-36 * time.Hour)},
		{"0s", now},
	} {
		got, err := ParseWhen("since", tt.in, now)
		if err != nil || !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("ParseWhen(%q) = %v, %v; want %v in UTC", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"yesterday", "-1h", "7", "d", "7dd", "1d-1h", "2025-02-30", "2025-03-01 09:00", "99999999999d"} {
		_, err := ParseWhen("since", in, now)
		var ue UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "RFC 3339") {
			t.Errorf("ParseWhen(%q) = %v; want a usage error saying what is accepted", in, err)
		}
	}
}
