package cmdutil

import (
	"fmt"
	"regexp"
	"strconv"
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
