// Package schedule parses and evaluates EventBridge Scheduler schedule
// expressions, so the local runtime fires schedules at the same wall-clock
// times AWS does and targets.yaml is checked before anything is deployed.
//
// Three forms are accepted, exactly as EventBridge Scheduler spells them:
//
//	rate(5 minutes)                   every N minutes, hours or days
//	cron(0 9 ? * MON-FRI *)           six fields: minutes hours day-of-month month day-of-week year
//	at(2026-03-01T09:00:00)           once, at a wall-clock time
//
// Cron and at() expressions are wall-clock times in the schedule's time zone
// (the location passed to Expr.Next). Daylight saving time is handled the way
// EventBridge Scheduler documents it: a wall time that does not exist (the
// hour skipped when clocks go forward) does not fire, and the next fire is the
// next matching wall time that does exist; a wall time that happens twice
// (clocks going back) fires once, at its first occurrence. The exception is
// at(): a one-time schedule whose wall time falls in a gap fires at the first
// instant after the gap, so it is not lost.
//
// See https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html.
package schedule

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MinYear and MaxYear bound the year field of cron expressions, as
// EventBridge does. No schedule fires after MaxYear.
const (
	MinYear = 1970
	MaxYear = 2199
)

// ErrInvalid is wrapped by every error Parse returns, so callers can test
// for a bad expression with errors.Is(err, schedule.ErrInvalid).
var ErrInvalid = errors.New("invalid schedule expression")

// Error is a bad schedule expression: which expression, which field of it
// (for cron), and a message saying what is wrong and what is accepted.
// Use errors.As to get at it.
type Error struct {
	// Expr is the expression as it was given.
	Expr string
	// Field is the cron field at fault ("minutes", "day-of-week", ...), or
	// empty when the problem is not in one field.
	Field string
	// Msg says what is wrong and how to fix it.
	Msg string
}

// Error formats the problem as "expr: field: message".
func (e *Error) Error() string {
	var b strings.Builder
	if e.Expr != "" {
		b.WriteString(e.Expr)
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap lets errors.Is(err, ErrInvalid) match every *Error.
func (e *Error) Unwrap() error { return ErrInvalid }

// kind is which of the three forms an Expr is.
type kind int

const (
	kindNone kind = iota
	kindRate
	kindCron
	kindAt
)

// Expr is a parsed schedule expression. The zero Expr never fires.
// An Expr is immutable and safe for concurrent use.
type Expr struct {
	raw    string
	kind   kind
	period time.Duration // rate()
	cron   *cronSpec     // cron()
	at     wallTime      // at()
}

// String returns the expression as it was written (without surrounding
// spaces), e.g. "rate(1 hour)".
func (e Expr) String() string { return e.raw }

// IsZero reports whether e is the zero Expr (never parsed).
func (e Expr) IsZero() bool { return e.kind == kindNone }

// IsOneTime reports whether e is an at() expression, which fires once.
func (e Expr) IsOneTime() bool { return e.kind == kindAt }

// Parse parses a rate(), cron() or at() expression. Errors are *Error and
// wrap ErrInvalid.
func Parse(expr string) (Expr, error) {
	s := strings.TrimSpace(expr)
	if s == "" {
		return Expr{}, &Error{Msg: "schedule expression is empty; use rate(1 hour), cron(0 9 * * ? *) or at(2026-01-01T09:00:00)"}
	}
	open := strings.IndexByte(s, '(')
	if open < 0 || !strings.HasSuffix(s, ")") {
		return Expr{}, &Error{Expr: s, Msg: "must be rate(...), cron(...) or at(...), e.g. rate(1 hour) or cron(0 9 * * ? *)"}
	}
	body := s[open+1 : len(s)-1]
	var (
		e   Expr
		err error
	)
	switch s[:open] {
	case "rate":
		e, err = parseRate(s, body)
	case "cron":
		e, err = parseCron(s, body)
	case "at":
		e, err = parseAt(s, body)
	default:
		return Expr{}, &Error{Expr: s, Msg: fmt.Sprintf("unknown schedule type %q; use rate(...), cron(...) or at(...) in lower case", s[:open])}
	}
	if err != nil {
		return Expr{}, err
	}
	e.raw = s
	return e, nil
}

// maxRateValue keeps rate() arithmetic far from overflow; it is over 2,700
// years of days, so no real schedule comes near it.
const maxRateValue = 1_000_000

func parseRate(raw, body string) (Expr, error) {
	const accepted = "use rate(N unit) with unit minute(s), hour(s) or day(s), e.g. rate(5 minutes) or rate(1 hour)"
	parts := strings.Fields(body)
	if len(parts) != 2 {
		return Expr{}, &Error{Expr: raw, Msg: "needs a value and a unit; " + accepted}
	}
	n, err := strconv.Atoi(parts[0])
	if err != nil || !isDigits(parts[0]) {
		return Expr{}, &Error{Expr: raw, Msg: fmt.Sprintf("value %q is not a whole number; %s", parts[0], accepted)}
	}
	if n < 1 {
		return Expr{}, &Error{Expr: raw, Msg: fmt.Sprintf("value %d must be at least 1; %s", n, accepted)}
	}
	if n > maxRateValue {
		return Expr{}, &Error{Expr: raw, Msg: fmt.Sprintf("value %d is too large; use at most %d", n, maxRateValue)}
	}
	var unit time.Duration
	var singular string
	switch parts[1] {
	case "minute", "minutes":
		unit, singular = time.Minute, "minute"
	case "hour", "hours":
		unit, singular = time.Hour, "hour"
	case "day", "days":
		unit, singular = 24*time.Hour, "day"
	default:
		return Expr{}, &Error{Expr: raw, Msg: fmt.Sprintf("unknown unit %q; %s", parts[1], accepted)}
	}
	plural := singular + "s"
	if n == 1 && parts[1] != singular {
		return Expr{}, &Error{Expr: raw, Msg: fmt.Sprintf("a value of 1 takes the singular unit; write rate(1 %s)", singular)}
	}
	if n != 1 && parts[1] != plural {
		return Expr{}, &Error{Expr: raw, Msg: fmt.Sprintf("a value other than 1 takes the plural unit; write rate(%d %s)", n, plural)}
	}
	return Expr{kind: kindRate, period: time.Duration(n) * unit}, nil
}

// atLayout is the layout of an at() expression: a wall time with no zone.
const atLayout = "2006-01-02T15:04:05"

func parseAt(raw, body string) (Expr, error) {
	t, err := time.Parse(atLayout, body)
	if err != nil {
		return Expr{}, &Error{Expr: raw, Msg: "date and time must be a valid yyyy-mm-ddThh:mm:ss, e.g. at(2026-03-01T09:00:00)"}
	}
	if t.Year() < MinYear || t.Year() > MaxYear {
		return Expr{}, &Error{Expr: raw, Msg: fmt.Sprintf("year %d is out of range; use %d-%d", t.Year(), MinYear, MaxYear)}
	}
	return Expr{kind: kindAt, at: wallTime{
		year: t.Year(), month: int(t.Month()), day: t.Day(),
		hour: t.Hour(), minute: t.Minute(), second: t.Second(),
	}}, nil
}

// Next returns the first fire time strictly after `after`, or the zero
// time when the schedule never fires again (an at() in the past, or nothing
// before the end of MaxYear). The result is in loc; a nil loc means UTC.
//
// Cron and at() fields are wall-clock times in loc (see the package comment
// for daylight saving time). rate() ignores loc: it fires at every multiple
// of its period since the Unix epoch (1970-01-01T00:00:00Z), so rate(1 hour)
// fires on the hour and rate(1 day) at midnight UTC. EventBridge instead
// counts from when the schedule was created (or its StartDate); the fixed
// anchor makes local runs reproducible and keeps run IDs stable across
// restarts.
func (e Expr) Next(after time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	var next time.Time
	switch e.kind {
	case kindRate:
		next = e.nextRate(after)
		if next.Year() > MaxYear {
			return time.Time{} // no schedule fires after MaxYear
		}
	case kindCron:
		next = e.cron.next(after, loc) // bounded by the year field
	case kindAt:
		if t := e.at.inOrAfterGap(loc); t.After(after) {
			next = t
		}
	}
	if next.IsZero() {
		return time.Time{}
	}
	return next.In(loc)
}

func (e Expr) nextRate(after time.Time) time.Time {
	p := int64(e.period / time.Second)
	s := after.Unix() // whole seconds, rounded down; fractions are below every multiple
	k := s / p
	if s%p < 0 {
		k-- // floor division for times before 1970
	}
	return time.Unix((k+1)*p, 0).UTC()
}

// wallTime is a clock reading in some time zone.
type wallTime struct {
	year, month, day, hour, minute, second int
}

// in returns the instant at which the clocks of loc read w. When w happens
// twice (clocks going back) it returns the first occurrence; when w never
// happens (clocks going forward) it reports false.
func (w wallTime) in(loc *time.Location) (time.Time, bool) {
	t := time.Date(w.year, time.Month(w.month), w.day, w.hour, w.minute, w.second, 0, loc)
	if !w.matches(t) {
		return time.Time{}, false // in a gap: time.Date normalised it
	}
	// time.Date may pick either occurrence of a repeated wall time. The
	// earlier one, if any, is in the zone that was in effect just before the
	// current zone began.
	start, _ := t.ZoneBounds()
	if start.IsZero() {
		return t, true
	}
	_, off := t.Zone()
	_, prevOff := start.Add(-time.Second).Zone()
	if prevOff != off {
		earlier := t.Add(time.Duration(off-prevOff) * time.Second)
		if earlier.Before(start) && earlier.Before(t) && w.matches(earlier) {
			return earlier, true
		}
	}
	return t, true
}

// inOrAfterGap is like in, but a wall time that never happens (clocks going
// forward) is moved to the first instant after the gap, e.g. 02:30 on the
// day New York springs forward becomes 03:00 EDT. at() uses it, so a
// one-time schedule in a gap still fires once.
func (w wallTime) inOrAfterGap(loc *time.Location) time.Time {
	if t, ok := w.in(loc); ok {
		return t
	}
	// time.Date normalised the missing wall time into one of the zones
	// around the gap; the gap's end is a bound of that zone.
	t := time.Date(w.year, time.Month(w.month), w.day, w.hour, w.minute, w.second, 0, loc)
	start, end := t.ZoneBounds()
	if w.asUTC().Before(clock(t)) {
		return start // t was pushed forward, into the zone after the gap
	}
	return end // t was pulled back, into the zone before the gap
}

// asUTC is w read as a UTC time, for comparing wall clocks.
func (w wallTime) asUTC() time.Time {
	return time.Date(w.year, time.Month(w.month), w.day, w.hour, w.minute, w.second, 0, time.UTC)
}

// clock is t's wall clock read as a UTC time, for comparing wall clocks.
func clock(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

func (w wallTime) matches(t time.Time) bool {
	y, m, d := t.Date()
	return y == w.year && int(m) == w.month && d == w.day &&
		t.Hour() == w.hour && t.Minute() == w.minute && t.Second() == w.second
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
