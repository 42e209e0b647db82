package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// cronSpec is a parsed cron() expression: the allowed values of each field,
// and one rule for the day (day-of-month or day-of-week; the other is ?).
type cronSpec struct {
	minutes, hours, months, years valueSet
	day                           dayRule
}

// valueSet is a small bit set of the values a field allows. base is the
// field's lowest value, so 256 bits cover every field (years span 230).
type valueSet struct {
	base int
	bits [4]uint64
}

func (s *valueSet) add(v int) {
	i := v - s.base
	s.bits[i/64] |= 1 << (i % 64)
}

func (s valueSet) has(v int) bool {
	i := v - s.base
	if i < 0 || i >= 256 {
		return false
	}
	return s.bits[i/64]&(1<<(i%64)) != 0
}

// field describes one of the six cron fields.
type field struct {
	name     string
	min, max int
	// names are the accepted names (JAN, SUN...), names[0] being min.
	names []string
	// accepted says what the field takes, for error messages.
	accepted string
	// step reports whether the / (increment) wildcard is allowed.
	step bool
}

var (
	minutesField = field{name: "minutes", min: 0, max: 59, step: true,
		accepted: "use 0-59, *, ranges (10-20), lists (0,30) or increments (0/15)"}
	hoursField = field{name: "hours", min: 0, max: 23, step: true,
		accepted: "use 0-23, *, ranges (9-17), lists (9,17) or increments (0/6)"}
	domField = field{name: "day-of-month", min: 1, max: 31, step: true,
		accepted: "use 1-31, *, ?, L (last day), LW (last weekday), 15W (weekday nearest the 15th), ranges, lists or increments"}
	monthField = field{name: "month", min: 1, max: 12, step: true,
		names:    []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"},
		accepted: "use 1-12 or JAN-DEC, *, ranges (JAN-MAR), lists (1,6) or increments (1/3)"}
	dowField = field{name: "day-of-week", min: 1, max: 7,
		names:    []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"},
		accepted: "use 1-7 (1 = SUN) or SUN-SAT, *, ?, L (Saturday), 6L (last Friday), 3#2 (second Tuesday), ranges (MON-FRI) or lists (MON,WED)"}
	yearField = field{name: "year", min: MinYear, max: MaxYear, step: true,
		accepted: "use 1970-2199, *, ranges (2026-2030), lists or increments (2026/2)"}
)

// errorf builds the error for a problem in one field; parseCron fills in
// the expression.
func (f field) errorf(format string, args ...any) *Error {
	return &Error{Field: f.name, Msg: fmt.Sprintf(format, args...)}
}

func parseCron(raw, body string) (Expr, error) {
	fields := strings.Fields(body)
	if len(fields) != 6 {
		msg := fmt.Sprintf("has %d fields, want 6: minutes hours day-of-month month day-of-week year", len(fields))
		if len(fields) == 5 {
			msg += fmt.Sprintf("; EventBridge has a year field, e.g. cron(%s *)", strings.Join(fields, " "))
		} else {
			msg += ", e.g. cron(0 9 * * ? *)"
		}
		return Expr{}, &Error{Expr: raw, Msg: msg}
	}
	spec, err := parseCronFields(fields)
	if err != nil {
		err.Expr = raw
		return Expr{}, err
	}
	return Expr{kind: kindCron, cron: spec}, nil
}

func parseCronFields(fields []string) (*cronSpec, *Error) {
	var (
		c   cronSpec
		err *Error
	)
	if c.minutes, err = minutesField.parseSet(fields[0]); err != nil {
		return nil, err
	}
	if c.hours, err = hoursField.parseSet(fields[1]); err != nil {
		return nil, err
	}
	dom, err := parseDayOfMonth(fields[2])
	if err != nil {
		return nil, err
	}
	if c.months, err = monthField.parseSet(fields[3]); err != nil {
		return nil, err
	}
	dow, err := parseDayOfWeek(fields[4])
	if err != nil {
		return nil, err
	}
	if c.years, err = yearField.parseSet(fields[5]); err != nil {
		return nil, err
	}

	// EventBridge wants exactly one of the two day fields to be "?".
	switch {
	case dom.kind == dayAny && dow.kind == dayAny:
		example := withField(fields, 2, "*")
		return nil, &Error{Msg: fmt.Sprintf("day-of-month and day-of-week cannot both be ?; set one of them, e.g. cron(%s)", example)}
	case dom.kind != dayAny && dow.kind != dayAny:
		// Suggest "?" in whichever field says less.
		example := withField(fields, 2, "?")
		if fields[4] == "*" {
			example = withField(fields, 4, "?")
		}
		return nil, &Error{Msg: fmt.Sprintf("day-of-month and day-of-week cannot both be set; use ? in one of them, e.g. cron(%s)", example)}
	case dom.kind == dayAny:
		c.day = dow
	default:
		c.day = dom
	}
	return &c, nil
}

// withField returns the fields joined by spaces, with fields[i] replaced by v.
func withField(fields []string, i int, v string) string {
	out := append([]string(nil), fields...)
	out[i] = v
	return strings.Join(out, " ")
}

// parseSet parses a field made of values, names, *, ranges, lists and
// increments into the set of values it allows.
func (f field) parseSet(s string) (valueSet, *Error) {
	set := valueSet{base: f.min}
	for _, item := range strings.Split(s, ",") {
		if item == "" {
			return set, f.errorf("%q has an empty item; separate values with single commas, e.g. 1,15", s)
		}
		base, stepText, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			if !f.step {
				return set, f.errorf("%q: increments (/) are not allowed here; list the days instead, e.g. MON,WED,FRI", item)
			}
			n, err := strconv.Atoi(stepText)
			if err != nil || !isDigits(stepText) || n < 1 {
				return set, f.errorf("%q: the increment after / must be a whole number of at least 1, e.g. 0/15", item)
			}
			step = n
		}
		lo, hi := f.min, f.max
		if base != "*" {
			from, to, isRange := strings.Cut(base, "-")
			var err *Error
			if lo, err = f.value(from, item); err != nil {
				return set, err
			}
			hi = lo
			if isRange {
				if hi, err = f.value(to, item); err != nil {
					return set, err
				}
				if lo > hi {
					return set, f.errorf("range %q runs backwards; write the lower value first, e.g. %s, or use a list of two ranges", item, fmt.Sprintf("%d-%d", hi, lo))
				}
			} else if hasStep {
				hi = f.max // "5/15" means 5, 20, 35, 50
			}
		}
		for v := lo; v <= hi; v += step {
			set.add(v)
		}
	}
	return set, nil
}

// value parses one number or name of the field. item is the list item it
// came from, for messages.
func (f field) value(tok, item string) (int, *Error) {
	if isDigits(tok) {
		n, err := strconv.Atoi(tok)
		if err != nil || n < f.min || n > f.max {
			return 0, f.errorf("%s is out of range; %s", tok, f.accepted)
		}
		return n, nil
	}
	for i, name := range f.names {
		if strings.EqualFold(tok, name) {
			return f.min + i, nil
		}
	}
	switch {
	case tok == "":
		return 0, f.errorf("%q is missing a value; %s", item, f.accepted)
	case tok == "?":
		if f.name == domField.name || f.name == dowField.name {
			return 0, f.errorf("? must be the whole field, not part of a list or range (%q)", item)
		}
		return 0, f.errorf("? is only allowed in day-of-month and day-of-week; use * here")
	case strings.ContainsAny(tok, "#") || strings.HasSuffix(tok, "L") || strings.HasSuffix(tok, "W"):
		if f.name == domField.name || f.name == dowField.name {
			return 0, f.errorf("%q: L, W and # must be the whole field (e.g. L, 15W or 3#2), not part of a list or range", item)
		}
		return 0, f.errorf("%q: L, W and # are only allowed in day-of-month and day-of-week; %s", item, f.accepted)
	}
	return 0, f.errorf("%q is not a valid value; %s", tok, f.accepted)
}

// dayKind is how a day rule picks days.
type dayKind int

const (
	dayAny            dayKind = iota // "?": the other day field decides
	dayEvery                         // "*"
	dayOfMonth                       // a set of days of the month
	dayLast                          // "L" in day-of-month
	dayLastWeekday                   // "LW"
	dayNearestWeekday                // "15W"
	dayOfWeek                        // a set of weekdays, 1 = SUN
	dayLastOfWeek                    // "6L": the last Friday of the month
	dayNthOfWeek                     // "3#2": the second Tuesday of the month
)

// dayRule picks the days of a month a cron expression fires on.
type dayRule struct {
	kind    dayKind
	set     valueSet     // dayOfMonth, dayOfWeek
	n       int          // dayNearestWeekday: the day; dayNthOfWeek: which week (1-5)
	weekday time.Weekday // dayLastOfWeek, dayNthOfWeek
}

func parseDayOfMonth(s string) (dayRule, *Error) {
	switch s {
	case "?":
		return dayRule{kind: dayAny}, nil
	case "*":
		return dayRule{kind: dayEvery}, nil
	case "L":
		return dayRule{kind: dayLast}, nil
	case "LW":
		return dayRule{kind: dayLastWeekday}, nil
	}
	if day, ok := strings.CutSuffix(s, "W"); ok && isDigits(day) {
		n, err := strconv.Atoi(day)
		if err != nil || n < 1 || n > 31 {
			return dayRule{}, domField.errorf("%q: the day before W must be 1-31, e.g. 15W (the weekday nearest the 15th)", s)
		}
		return dayRule{kind: dayNearestWeekday, n: n}, nil
	}
	if s == "W" {
		return dayRule{}, domField.errorf("W needs a day before it, e.g. 15W (the weekday nearest the 15th) or LW (the last weekday)")
	}
	set, err := domField.parseSet(s)
	if err != nil {
		return dayRule{}, err
	}
	return dayRule{kind: dayOfMonth, set: set}, nil
}

func parseDayOfWeek(s string) (dayRule, *Error) {
	switch s {
	case "?":
		return dayRule{kind: dayAny}, nil
	case "*":
		return dayRule{kind: dayEvery}, nil
	case "L":
		// L alone is the last day of the week: Saturday.
		set := valueSet{base: dowField.min}
		set.add(7)
		return dayRule{kind: dayOfWeek, set: set}, nil
	}
	// "3#2" and "6L" must be the whole field; in a list or range, parseSet
	// explains that.
	if strings.ContainsAny(s, ",-/") {
		set, err := dowField.parseSet(s)
		if err != nil {
			return dayRule{}, err
		}
		return dayRule{kind: dayOfWeek, set: set}, nil
	}
	if day, nth, ok := strings.Cut(s, "#"); ok {
		d, err := dowField.value(day, s)
		if err != nil {
			return dayRule{}, err
		}
		n, convErr := strconv.Atoi(nth)
		if convErr != nil || !isDigits(nth) || n < 1 || n > 5 {
			return dayRule{}, dowField.errorf("%q: the week number after # must be 1-5, e.g. 3#2 (the second Tuesday)", s)
		}
		return dayRule{kind: dayNthOfWeek, n: n, weekday: time.Weekday(d - 1)}, nil
	}
	if day, ok := strings.CutSuffix(s, "L"); ok {
		d, err := dowField.value(day, s)
		if err != nil {
			return dayRule{}, err
		}
		return dayRule{kind: dayLastOfWeek, weekday: time.Weekday(d - 1)}, nil
	}
	set, err := dowField.parseSet(s)
	if err != nil {
		return dayRule{}, err
	}
	return dayRule{kind: dayOfWeek, set: set}, nil
}

// matches reports whether the rule fires on day d of month m of year y.
func (r dayRule) matches(y, m, d int) bool {
	switch r.kind {
	case dayAny, dayEvery:
		return true
	case dayOfMonth:
		return r.set.has(d)
	case dayLast:
		return d == daysIn(y, m)
	case dayLastWeekday:
		return d == lastWeekday(y, m)
	case dayNearestWeekday:
		return d == nearestWeekday(y, m, r.n)
	case dayOfWeek:
		return r.set.has(int(weekday(y, m, d)) + 1)
	case dayLastOfWeek:
		return weekday(y, m, d) == r.weekday && d+7 > daysIn(y, m)
	case dayNthOfWeek:
		return weekday(y, m, d) == r.weekday && (d-1)/7+1 == r.n
	}
	return false
}

func daysIn(y, m int) int {
	// Day 0 of the next month is the last day of this one.
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func weekday(y, m, d int) time.Weekday {
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Weekday()
}

// lastWeekday is the last Monday-to-Friday day of the month.
func lastWeekday(y, m int) int {
	last := daysIn(y, m)
	switch weekday(y, m, last) {
	case time.Saturday:
		return last - 1
	case time.Sunday:
		return last - 2
	}
	return last
}

// nearestWeekday is the Monday-to-Friday day nearest day n, without leaving
// the month: a Saturday the 1st moves to Monday the 3rd, a Sunday that ends
// the month moves back to Friday. It returns 0 (no day) when the month has
// no day n, e.g. 31W in April.
func nearestWeekday(y, m, n int) int {
	last := daysIn(y, m)
	if n > last {
		return 0
	}
	switch weekday(y, m, n) {
	case time.Saturday:
		if n == 1 {
			return 3
		}
		return n - 1
	case time.Sunday:
		if n == last {
			return n - 2
		}
		return n + 1
	}
	return n
}

// next walks wall-clock times in loc from `after` onwards, field by field,
// and returns the first one that exists and is strictly after `after`.
func (c *cronSpec) next(after time.Time, loc *time.Location) time.Time {
	a := after.In(loc)
	start := wallTime{year: a.Year(), month: int(a.Month()), day: a.Day(), hour: a.Hour(), minute: a.Minute()}
	if start.year < MinYear {
		start = wallTime{year: MinYear, month: 1, day: 1}
	}
	for y := start.year; y <= MaxYear; y++ {
		if !c.years.has(y) {
			continue
		}
		sameYear := y == start.year
		for m := from(sameYear, start.month, 1); m <= 12; m++ {
			if !c.months.has(m) {
				continue
			}
			sameMonth := sameYear && m == start.month
			for d := from(sameMonth, start.day, 1); d <= daysIn(y, m); d++ {
				if !c.day.matches(y, m, d) {
					continue
				}
				sameDay := sameMonth && d == start.day
				for h := from(sameDay, start.hour, 0); h < 24; h++ {
					if !c.hours.has(h) {
						continue
					}
					sameHour := sameDay && h == start.hour
					for mi := from(sameHour, start.minute, 0); mi < 60; mi++ {
						if !c.minutes.has(mi) {
							continue
						}
						w := wallTime{year: y, month: m, day: d, hour: h, minute: mi}
						// A wall time in a DST gap does not exist and is skipped.
						if t, ok := w.in(loc); ok && t.After(after) {
							return t
						}
					}
				}
			}
		}
	}
	return time.Time{}
}

// from returns the start value of a loop: the start position when the outer
// loops are still at the starting point, the field's minimum otherwise.
func from(atStart bool, startValue, minValue int) int {
	if atStart {
		return startValue
	}
	return minValue
}
