package targets

import (
	"fmt"
	"maps"
	"time"

	"github.com/cronless/cronless/shared/job"
)

// Entry is one target as a stored target list holds it (cronless targets
// import): its own settings only. targets.yaml's defaults, hosts: and
// extracts: apply when a tick plans it (File.Resolve), so that editing them
// takes effect at the next deploy without a new import, and the list stays
// small (a million entries are read every tick).
type Entry struct {
	ID       string
	URL      string
	Schedule string
	// Timeout, UserAgent and Robots are the target's own values; zero, ""
	// and nil take the file's defaults.
	Timeout   time.Duration
	UserAgent string
	Robots    *bool
	// Extract names an entry of the file's extracts: (shared rules); Rules
	// are the target's own. At most one of them is set.
	Extract string
	Rules   map[string]job.Rule
}

// Host is the host the entry's requests count against (Target.Host).
func (e Entry) Host() string { return Target{URL: e.URL}.Host() }

// Equal reports whether two entries say the same.
func (e Entry) Equal(o Entry) bool {
	if e.ID != o.ID || e.URL != o.URL || e.Schedule != o.Schedule || e.Timeout != o.Timeout ||
		e.UserAgent != o.UserAgent || e.Extract != o.Extract || (e.Robots == nil) != (o.Robots == nil) ||
		(e.Robots != nil && *e.Robots != *o.Robots) || len(e.Rules) != len(o.Rules) {
		return false
	}
	// No rules are alike without hashing (a hash allocates; a re-import of a
	// million targets compares a million entries).
	return len(e.Rules) == 0 || job.RulesHash(e.Rules) == job.RulesHash(o.Rules)
}

// Resolve makes a stored entry the target a tick plans: the file's defaults,
// its hosts: entry and its named extract rules applied, as Parse applies
// them to the file's own targets. An entry whose schedule or extract the
// file no longer defines (targets.yaml changed since the import) is an
// error naming it, and is not planned.
func (f *File) Resolve(e Entry) (Target, error) {
	if _, ok := f.Schedules[e.Schedule]; !ok {
		return Target{}, fmt.Errorf("target %q: schedule %q is not in targets.yaml any more; add it back or re-import the target with another", e.ID, e.Schedule)
	}
	d := f.Defaults
	t := Target{ID: e.ID, URL: e.URL, Schedule: e.Schedule, Timeout: d.Timeout, UserAgent: d.UserAgent, Robots: d.Robots,
		HostRate: d.HostRate, HostConcurrency: d.HostConcurrency}
	if e.Timeout > 0 {
		t.Timeout = e.Timeout
	}
	if e.UserAgent != "" {
		t.UserAgent = e.UserAgent
	}
	if e.Robots != nil {
		t.Robots = *e.Robots
	}
	switch {
	case e.Extract != "":
		rules, ok := f.Extracts[e.Extract]
		if !ok {
			return Target{}, fmt.Errorf("target %q: extract %q is not under extracts: in targets.yaml any more; add it back or re-import the target", e.ID, e.Extract)
		}
		t.Extract = maps.Clone(rules)
	case len(e.Rules) > 0:
		t.Extract = maps.Clone(e.Rules)
	}
	if h, found := f.hostFor(t.Host()); found {
		if h.Rate > 0 {
			t.HostRate = h.Rate
		}
		if h.Concurrency > 0 {
			t.HostConcurrency = h.Concurrency
		}
	}
	return t, nil
}
