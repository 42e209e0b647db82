package targets

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cronless/cronless/shared/schedule"
)

func (p *parser) schedules(f *File, e entry) (declared []string) {
	n := deref(e.value)
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.addf(n, `schedules must map names to schedules, e.g. hourly: { expression: "rate(1 hour)" }; got %s`, describe(n))
		return nil
	}
	for _, kv := range p.pairs(n, "schedules") {
		name := kv.key
		declared = append(declared, name)
		if !validScheduleName(name) {
			msg := fmt.Sprintf("schedule name %q is not allowed; %s", name, nameHint)
			if s := suggestName(name); s != "" {
				msg += fmt.Sprintf(`, e.g. %q`, s)
			}
			p.add(kv.keyNode, "schedule name", msg)
		}
		s, ok := p.schedule(name, kv.value)
		if ok {
			f.Schedules[name] = s
			f.ScheduleNames = append(f.ScheduleNames, name)
		}
	}
	return declared
}

func (p *parser) schedule(name string, n *yaml.Node) (Schedule, bool) {
	noun := fmt.Sprintf("schedule %q", name)
	fields := p.fields(n, noun, scheduleKeys, `{ expression: "rate(1 hour)", timezone: "Asia/Seoul" }`)
	if fields == nil {
		return Schedule{}, false
	}
	s := Schedule{Name: name, Timezone: DefaultTimezone, Location: time.UTC}
	ok := true

	if e, found := fields["expression"]; !found {
		p.addf(deref(n), `%s has no expression; add expression: "rate(1 hour)" or "cron(0 9 * * ? *)"`, noun)
		ok = false
	} else if expr, good := p.str(e, "expression in "+noun, `write an EventBridge expression such as "rate(1 hour)" or "cron(0 9 * * ? *)"`); good {
		parsed, err := schedule.Parse(expr)
		if err != nil {
			p.addf(e.value, "bad expression in %s: %v", noun, err)
			ok = false
		} else {
			s.Expression, s.Expr = parsed.String(), parsed
		}
	} else {
		ok = false
	}

	if e, found := fields["timezone"]; found {
		if tz, good := p.str(e, "timezone in "+noun, zoneHint); good {
			loc, err := loadZone(tz)
			if err != nil {
				p.addf(e.value, "unknown time zone %q in %s; %s", tz, noun, zoneHint)
				ok = false
			} else {
				s.Timezone, s.Location = tz, loc
			}
		} else {
			ok = false
		}
	}

	if e, found := fields["description"]; found {
		if d, good := p.str(e, "description in "+noun, "write a short sentence, or remove the key"); good {
			s.Description = d
		}
	}
	return s, ok
}

// loadZone loads an IANA time zone. It refuses "Local" and the empty name,
// which mean different zones on different machines.
func loadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("time zone %q depends on the machine", name)
	}
	return time.LoadLocation(name)
}
