// Package targets loads and validates targets.yaml: what to crawl, on which
// schedule, and what to extract; and the target lists that
// `cronless targets import` stores (ParseList, WriteList).
//
// Validation reports every problem in the file at once, each with the line
// and column it is on and a hint on how to fix it, so a user can correct the
// whole file in one pass:
//
//	targets.yaml:7:5: unknown key "shedule" in target "example"; did you mean "schedule"? (allowed: id, url, schedule, timeout, user_agent, robots, extract)
//
// The file looks like this (see the repository's targets.yaml for a
// commented example):
//
//	schedules:
//	  hourly: { expression: "rate(1 hour)", timezone: "Asia/Seoul" }
//	defaults: { timeout: 10s, robots: true, host_rate: 1/s, host_concurrency: 2 }
//	hosts:
//	  example.com: { rate: 5/s, concurrency: 4 }
//	extracts:
//	  product:
//	    title: { css: h1, required: true }
//	targets:
//	  - id: example
//	    url: https://example.com/
//	    schedule: hourly
//	    extract:
//	      title: { css: title }
//	  - { id: shoe, url: "https://example.com/shoe", schedule: hourly, extract: product }
//
// A target's extract: is its own rules, or the name of an entry of
// extracts:, rules many targets share (a stored list's CSV names them so).
//
// A host's limits are its entry in hosts: (matched by host name, without
// scheme, port or path, in any case), else host_rate and host_concurrency
// of defaults:, else DefaultHostRate and the worker's own concurrency
// (HOST_CONCURRENCY, --host-concurrency: 2 unless set). A rate is
// jobs a second, minute or hour started to the host by the whole fleet:
// 1/s, 0.5/s, 30/m, 3600/h; a bare number is refused, as a bare timeout is,
// because 5 could mean any of them. Concurrency is pages of the host one
// worker crawls at once. TickSpread says how long a schedule's tick takes
// to start every job at those rates.
//
// A stored target list holds targets with the keys of targets.yaml's, each
// with its own settings only (Entry): the schedules, defaults, hosts: and
// extracts: stay in targets.yaml and apply when a tick plans the target
// (File.Resolve), so that a target gives the same job whether it is
// written in targets.yaml or stored.
package targets

import (
	"fmt"
	"maps"
	"math"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // time zones work on machines (and Lambda images) without zoneinfo

	"github.com/cronless/cronless/shared/job"
	"github.com/cronless/cronless/shared/schedule"
)

// Built-in defaults, used when targets.yaml does not set them.
const (
	DefaultTimeout   = 10 * time.Second
	DefaultUserAgent = job.DefaultUserAgent
	DefaultRobots    = true
	// DefaultTimezone is the zone of a schedule that names none.
	DefaultTimezone = "UTC"
	// DefaultHostRate is how many jobs a second the whole fleet starts to
	// one host: one a second, the pace robots.txt's Crawl-delay: 1 and most
	// crawler etiquette call polite.
	DefaultHostRate = 1.0
)

// File is a validated targets.yaml.
type File struct {
	// Schedules are the schedules by name.
	Schedules map[string]Schedule
	// ScheduleNames are the schedule names in file order.
	ScheduleNames []string
	// Defaults are the file's defaults, with built-in values for what the
	// file leaves out.
	Defaults Defaults
	// Hosts are the hosts: entries by host name (lower case, IPv6 addresses
	// without brackets); HostNames are those names in file order.
	Hosts     map[string]Host
	HostNames []string
	// Targets are the targets in file order, with defaults applied.
	Targets []Target
	// Extracts are the extracts: entries, shared extract rules by name,
	// that a target of the file or of a stored list names with
	// extract: <name>; ExtractNames are those names in file order.
	Extracts     map[string]map[string]job.Rule
	ExtractNames []string

	file        string            // the name Parse was given, for UnusedHosts
	hostKeys    map[string]string // hostKey of each hosts: entry -> its name
	targetLines map[string]int    // ID of each target -> the line of its id, for ParseList
}

// Host is an entry of hosts:, the limits of one host's requests. A zero
// field is not set by the entry: the target takes the file's default.
type Host struct {
	// Name is the host name or address, as Target.Host gives it.
	Name string
	// Rate is jobs a second the fleet starts to the host; Concurrency is
	// how many of its pages one worker crawls at once.
	Rate        float64
	Concurrency int
	// Line and Col are where the entry's key is, for messages.
	Line, Col int
}

// Schedule is a named schedule that targets refer to. Its name becomes part
// of AWS resource names and of run IDs.
type Schedule struct {
	Name string
	// Expression is the EventBridge schedule expression as written, e.g.
	// "cron(0 9 * * ? *)".
	Expression string
	// Expr is Expression parsed.
	Expr schedule.Expr
	// Timezone is the IANA zone the expression is evaluated in ("UTC" when
	// the file names none).
	Timezone string
	// Location is Timezone loaded.
	Location *time.Location
	// Description is free text for people; optional.
	Description string
}

// Next is the schedule's next fire time strictly after `after`, or the
// zero time if it never fires again.
func (s Schedule) Next(after time.Time) time.Time {
	return s.Expr.Next(after, s.Location)
}

// Defaults apply to every target that does not set its own value.
type Defaults struct {
	// Timeout is the total time one fetch may take.
	Timeout time.Duration
	// UserAgent is sent with every request.
	UserAgent string
	// Robots is whether robots.txt is respected.
	Robots bool
	// HostRate and HostConcurrency are the limits of a host without an
	// entry in hosts: (host_rate, host_concurrency; 0: the worker's own).
	HostRate        float64
	HostConcurrency int
}

// Target is one page to crawl on a schedule, with defaults applied.
type Target struct {
	// ID names the target; it is unique in the file and keys its results.
	ID string
	// URL is the absolute http or https URL to fetch.
	URL string
	// Schedule is the name of the schedule that runs the target.
	Schedule string
	// Timeout, UserAgent and Robots are the target's own values, or the
	// file's defaults.
	Timeout   time.Duration
	UserAgent string
	Robots    bool
	// Extract maps a result field name to the rule that extracts it. It is
	// empty when the target only records the page's status and content hash.
	Extract map[string]job.Rule
	// HostRate (jobs a second, fleet-wide) and HostConcurrency (at once,
	// per worker; 0: the worker's own HOST_CONCURRENCY) are the limits of
	// the target's host: its entry in hosts:, or the file's defaults.
	HostRate        float64
	HostConcurrency int
}

// jobRate is the host_rate a job carries: 0 (not paced) for Unlimited.
func (t Target) jobRate() float64 {
	if math.IsInf(t.HostRate, 1) {
		return 0
	}
	return t.HostRate
}

// Host is the host a target's requests count against: its URL's host name
// (or address), without the port, in lower case, as the crawler counts it.
func (t Target) Host() string {
	u, err := url.Parse(t.URL)
	if err != nil {
		return ""
	}
	return job.Host(u)
}

// Load reads and validates the targets file at path. Problems in the file
// are returned as an *Error naming path, line and column.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load targets: %w", err)
	}
	return Parse(path, data)
}

// TargetsFor returns the targets run by the named schedule, in file order.
func (f *File) TargetsFor(schedule string) []Target {
	var out []Target
	for _, t := range f.Targets {
		if t.Schedule == schedule {
			out = append(out, t)
		}
	}
	return out
}

// Target returns the target with the given id.
func (f *File) Target(id string) (Target, bool) {
	for _, t := range f.Targets {
		if t.ID == id {
			return t, true
		}
	}
	return Target{}, false
}

// Job builds the message the planner sends for this target in one run.
// scheduledAt is written in UTC; Robots is always set explicitly.
func (t Target) Job(runID string, scheduledAt time.Time) job.Job {
	robots := t.Robots
	var extract map[string]job.Rule
	if len(t.Extract) > 0 {
		extract = maps.Clone(t.Extract) // the job must not share the file's map
	}
	return job.Job{
		V:               job.Version,
		RunID:           runID,
		Schedule:        t.Schedule,
		TargetID:        t.ID,
		URL:             t.URL,
		ScheduledAt:     scheduledAt.UTC(),
		Extract:         extract,
		TimeoutMS:       t.Timeout.Milliseconds(),
		UserAgent:       t.UserAgent,
		Robots:          &robots,
		HostRate:        t.jobRate(),
		HostConcurrency: t.HostConcurrency,
	}
}

// Problem is one thing wrong in a targets file, at a line and column.
type Problem struct {
	File string
	// Line and Col are 1-based; Col is 0 when only the line is known (YAML
	// syntax errors), and both are 0 when the problem is the whole file.
	Line, Col int
	// Msg says what is wrong and how to fix it.
	Msg string
	// kind tells problems alike but for their values (the format of Msg),
	// to sum up those Error does not list; "" is Msg's own kind.
	kind string
}

// String formats the problem as "file:line:col: message", the form editors
// and terminals link to the spot.
func (p Problem) String() string {
	switch {
	case p.Line == 0:
		return fmt.Sprintf("%s: %s", p.File, p.Msg)
	case p.Col == 0:
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Col, p.Msg)
}

// Error is every problem found in a targets file, in file order. Get at it
// with errors.As.
type Error struct {
	Problems []Problem
}

// MaxListed is how many problems an Error's message lists: a list of a
// million bad rows has a million problems, and the first ones say what to
// fix; the message sums up the rest.
const MaxListed = 100

// Error lists the problems one per line, the first MaxListed of them, and
// then how many more there are and whether they are of the kinds listed.
func (e *Error) Error() string {
	listed := e.Problems[:min(len(e.Problems), MaxListed)]
	lines := make([]string, len(listed), len(listed)+1)
	for i, p := range listed {
		lines[i] = p.String()
	}
	if rest := e.Problems[len(listed):]; len(rest) > 0 {
		lines = append(lines, summary(listed, rest))
	}
	return strings.Join(lines, "\n")
}

// summary sums up the problems rest that follow those listed: how many,
// how many are of kinds not listed, and the first of those.
func summary(listed, rest []Problem) string {
	kinds := make(map[string]bool, len(listed))
	for _, p := range listed {
		kinds[p.kindOf()] = true
	}
	others := map[string]bool{}
	var first *Problem
	n := 0
	for i, p := range rest {
		if k := p.kindOf(); !kinds[k] {
			if first == nil {
				first = &rest[i]
			}
			others[k] = true
			n++
		}
	}
	more := fmt.Sprintf("… and %d more %s not listed", len(rest), plural(len(rest), "problem", "problems"))
	switch {
	case n == 0:
		return more + ", of the kinds above; fix those, and check the file again"
	case n == len(rest):
		return fmt.Sprintf("%s, of %d other %s, the first at %s; fix the ones above, and check the file again",
			more, len(others), plural(len(others), "kind", "kinds"), first)
	}
	return fmt.Sprintf("%s: %d of the kinds above and %d of %d other %s, the first at %s; fix the ones above, and check the file again",
		more, len(rest)-n, n, len(others), plural(len(others), "kind", "kinds"), first)
}

func (p Problem) kindOf() string {
	if p.kind != "" {
		return p.kind
	}
	return p.Msg
}

// sortProblems orders problems by position, keeping the order of problems
// found at the same spot.
func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Col - b.Col
	})
}
