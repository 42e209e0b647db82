package targets

import (
	"fmt"
	"math"
	"time"
)

// Spread is how long one tick of a schedule takes to start every job when
// each host's jobs start at its rate: a host with n jobs at r a second needs
// n/r seconds, and the tick needs its slowest host's time. The planner
// spaces a host's jobs that way (see docs/aws.md), so a tick that needs
// longer than the schedule's period overlaps the next one.
type Spread struct {
	// Schedule is the schedule's name; Targets and Hosts count its targets
	// and their distinct hosts.
	Schedule string
	Targets  int
	Hosts    int
	// Duration is the slowest host's time to start all of its jobs.
	Duration time.Duration
	// SlowestHost is that host, with its number of jobs and its rate (jobs
	// a second); empty when the schedule has no targets.
	SlowestHost string
	SlowestJobs int
	SlowestRate float64
	// Period is the shortest time between two of the schedule's fires, 0
	// when it fires at most once (at()).
	Period time.Duration
}

// Overlaps reports whether a tick takes longer to start than the time to
// the next one.
func (s Spread) Overlaps() bool { return s.Period > 0 && s.Duration > s.Period }

// String says how long the tick takes to start, e.g. "schedule hourly: 60
// targets on 3 hosts start within 1m0s (slowest host example.com: 60 at 1/s)".
func (s Spread) String() string {
	if s.Targets == 0 {
		return fmt.Sprintf("schedule %s: no targets", s.Schedule)
	}
	return fmt.Sprintf("schedule %s: %d %s on %d %s %s within %s (slowest host %s: %d at %s)",
		s.Schedule, s.Targets, plural(s.Targets, "target", "targets"), s.Hosts, plural(s.Hosts, "host", "hosts"),
		plural(s.Targets, "starts", "start"), roundDuration(s.Duration), s.SlowestHost, s.SlowestJobs, FormatRate(s.SlowestRate))
}

// Warning says why an overlapping tick is a problem and what to do; it is
// empty when the tick fits in the period.
func (s Spread) Warning() string {
	if !s.Overlaps() {
		return ""
	}
	return fmt.Sprintf("schedule %s: a tick needs %s to start its %d %s on %d %s (slowest host %s: %d at %s), longer than its period of %s: ticks will overlap; raise the host's rate in hosts:, or run the schedule less often",
		s.Schedule, roundDuration(s.Duration), s.Targets, plural(s.Targets, "target", "targets"), s.Hosts, plural(s.Hosts, "host", "hosts"), s.SlowestHost, s.SlowestJobs, FormatRate(s.SlowestRate), roundDuration(s.Period))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// roundDuration rounds to the second, or to the millisecond under one.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}

// TickSpread is the Spread of one tick of s running ts (the schedule's
// targets, with their hosts' rates). from is where Period starts looking.
func TickSpread(s Schedule, ts []Target, from time.Time) Spread {
	sp := Spread{Schedule: s.Name, Targets: len(ts), Period: s.Period(from)}
	type load struct {
		jobs int
		rate float64
	}
	loads := map[string]*load{}
	var order []string // hosts in file order, so ties go to the first
	for _, t := range ts {
		h := t.Host()
		l, ok := loads[h]
		if !ok {
			l = &load{rate: t.HostRate}
			loads[h] = l
			order = append(order, h)
		}
		l.jobs++
		// A host's targets share its rate; should they not, the slowest
		// paces them all.
		if t.HostRate > 0 && (l.rate <= 0 || t.HostRate < l.rate) {
			l.rate = t.HostRate
		}
	}
	sp.Hosts = len(order)
	best := -1.0
	for _, h := range order {
		l := loads[h]
		rate := l.rate
		if rate <= 0 {
			rate = DefaultHostRate
		}
		secs := float64(l.jobs) / rate
		if secs > best {
			best = secs
			sp.SlowestHost, sp.SlowestJobs, sp.SlowestRate = h, l.jobs, rate
		}
	}
	if best > 0 {
		sp.Duration = seconds(best)
	}
	return sp
}

// seconds converts to a Duration, saturating where it would overflow.
func seconds(s float64) time.Duration {
	if s >= float64(math.MaxInt64)/float64(time.Second) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(math.Round(s * float64(time.Second)))
}

// TickSpread is the Spread of a tick of the named schedule of the file.
func (f *File) TickSpread(schedule string, from time.Time) Spread {
	return TickSpread(f.Schedules[schedule], f.TargetsFor(schedule), from)
}

// periodFires is how many of a schedule's fires Period looks at, and
// periodHorizon how far ahead: enough to see the shortest gap of any cron
// (a year has every weekday, month length and daylight saving change).
const (
	periodFires   = 2000
	periodHorizon = 366 * 24 * time.Hour
)

// Period is the shortest time between two fires of s, over its next fires
// after from (up to periodFires of them, within a year and a day of from);
// 0 when it fires fewer than twice in that time.
func (s Schedule) Period(from time.Time) time.Duration {
	if s.Expr.IsZero() || s.Expr.IsOneTime() {
		return 0
	}
	end := from.Add(periodHorizon)
	var shortest time.Duration
	prev := s.Next(from)
	for i := 0; i < periodFires && !prev.IsZero() && prev.Before(end); i++ {
		next := s.Next(prev)
		if next.IsZero() {
			break
		}
		if gap := next.Sub(prev); shortest == 0 || gap < shortest {
			shortest = gap
		}
		prev = next
	}
	return shortest
}
