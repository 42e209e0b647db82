package targets

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"golang.org/x/net/idna"

	"github.com/cronless/cronless/shared/job"
)

// Hints of the host limits.
const (
	rateHint        = "use a rate like 1/s, 0.5/s, 30/m or 3600/h (jobs a second, a minute or an hour, for the whole fleet), or unlimited for a host of your own"
	concurrencyHint = "use a whole number of pages at once per worker"
	hostKeyHint     = "write a host name such as example.com or an address such as 192.0.2.1"
)

// hosts reads the hosts: section into f.Hosts.
func (p *parser) hosts(f *File, n *yaml.Node) {
	n = deref(n)
	if isNull(n) {
		return // "hosts:" with nothing under it
	}
	if n.Kind != yaml.MappingNode {
		p.addf(n, "hosts must map host names to limits, e.g. example.com: { rate: 5/s, concurrency: 4 }; got %s", describe(n))
		return
	}
	firstLine := map[string]int{} // hostKey -> line of its first entry
	for _, kv := range p.pairs(n, "hosts") {
		name, msg := hostName(kv.key)
		if msg != "" {
			p.add(kv.keyNode, "hosts name", msg)
		}
		noun := fmt.Sprintf("hosts entry %q", kv.key)
		h, ok := p.host(kv.value, noun)
		if msg != "" || !ok {
			continue
		}
		key := hostKey(name)
		if line, dup := firstLine[key]; dup {
			p.addf(kv.keyNode, "hosts key %q is the same host as the entry at line %d (host names ignore case); keep one of them", kv.key, line)
			continue
		}
		firstLine[key] = kv.keyNode.Line
		h.Name, h.Line, h.Col = name, kv.keyNode.Line, kv.keyNode.Column
		f.Hosts[name] = h
		f.HostNames = append(f.HostNames, name)
		f.hostKeys[key] = name
	}
}

// host reads one entry of hosts:.
func (p *parser) host(n *yaml.Node, noun string) (Host, bool) {
	if isNull(deref(n)) {
		return Host{}, true // "example.com:" with nothing under it: the defaults
	}
	fields := p.fields(n, noun, hostKeys, "{ rate: 5/s, concurrency: 4 }")
	if fields == nil {
		return Host{}, false
	}
	var h Host
	ok := true
	if e, found := fields["rate"]; found {
		v, good := p.rate(e, "rate in "+noun)
		h.Rate, ok = v, ok && good
	}
	if e, found := fields["concurrency"]; found {
		v, good := p.concurrency(e, "concurrency in "+noun)
		h.Concurrency, ok = v, ok && good
	}
	return h, ok
}

// rateUnits are the seconds in each unit a rate may be given per.
var rateUnits = map[string]float64{"s": 1, "m": 60, "h": 3600}

// Unlimited is the rate of a host whose jobs are not paced (host_rate:
// unlimited), for sites of your own: every job of a tick is due at once,
// and only host_concurrency bounds the host.
var Unlimited = math.Inf(1)

// rate reads a rate (N/s, N/m or N/h, or unlimited) as jobs a second.
func (p *parser) rate(e entry, what string) (float64, bool) {
	v := deref(e.value)
	if v.Kind == yaml.ScalarNode && v.Value == "unlimited" {
		return Unlimited, true
	}
	switch {
	case isNull(v) || v.Kind != yaml.ScalarNode:
		p.addf(v, "%s must be a rate, got %s; %s", what, describe(v), rateHint)
		return 0, false
	case v.ShortTag() == "!!int" || v.ShortTag() == "!!float":
		p.addf(v, "%s is the bare number %s; add a unit: %s/s (a second), %s/m (a minute) or %s/h (an hour)", what, v.Value, v.Value, v.Value, v.Value)
		return 0, false
	}
	num, unit, found := strings.Cut(v.Value, "/")
	num, unit = strings.TrimSpace(num), strings.TrimSpace(unit)
	perUnit, known := rateUnits[unit]
	x, err := strconv.ParseFloat(num, 64)
	switch {
	case !found && err == nil:
		p.addf(v, "%s is the bare number %s; add a unit: %s/s (a second), %s/m (a minute) or %s/h (an hour)", what, num, num, num, num)
		return 0, false
	case !found || !known || err != nil || math.IsInf(x, 0) || math.IsNaN(x) || !isDecimal(num):
		p.addf(v, "%s %q is not a rate; %s", what, v.Value, rateHint)
		return 0, false
	case x <= 0:
		p.addf(v, "%s %q must be greater than 0; %s", what, v.Value, rateHint)
		return 0, false
	}
	perSecond := x / perUnit
	if perSecond > job.MaxHostRate {
		p.addf(v, "%s %q is more than %d/s, the most a host may be given; %s", what, v.Value, job.MaxHostRate, rateHint)
		return 0, false
	}
	return perSecond, true
}

// isDecimal reports whether s is a plain decimal number, optionally signed
// (the sign is refused apart): not 1e3, 0x10, Inf or 1_000.
func isDecimal(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	digits, frac, dot := strings.Cut(s, ".")
	if digits == "" && (!dot || frac == "") {
		return false
	}
	for _, r := range digits + frac {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// concurrency reads a number of pages at once, 1 to job.MaxHostConcurrency.
func (p *parser) concurrency(e entry, what string) (int, bool) {
	v := deref(e.value)
	hint := fmt.Sprintf("%s, 1 to %d", concurrencyHint, job.MaxHostConcurrency)
	if isNull(v) || v.Kind != yaml.ScalarNode {
		p.addf(v, "%s must be a whole number, got %s; %s", what, describe(v), hint)
		return 0, false
	}
	n, err := strconv.Atoi(v.Value)
	if v.ShortTag() != "!!int" || err != nil {
		p.addf(v, "%s must be a whole number, got %q; %s", what, v.Value, hint)
		return 0, false
	}
	if n < 1 || n > job.MaxHostConcurrency {
		p.addf(v, "%s %d is out of range; %s", what, n, hint)
		return 0, false
	}
	return n, true
}

// hostName checks a key of hosts: and returns the host name it stands for,
// as Target.Host gives it, or a message saying what is wrong.
func hostName(key string) (name, msg string) {
	k := strings.TrimSpace(key)
	if k == "" {
		return "", "keys in hosts must not be empty; " + hostKeyHint
	}
	if inner, ok := strings.CutPrefix(k, "["); ok && strings.HasSuffix(inner, "]") && net.ParseIP(strings.TrimSuffix(inner, "]")) != nil {
		return strings.ToLower(strings.TrimSuffix(inner, "]")), "" // [::1], as in a URL
	}
	if net.ParseIP(k) != nil {
		return strings.ToLower(k), ""
	}
	if strings.Contains(k, "://") {
		if u, err := url.Parse(k); err == nil && u.Hostname() != "" {
			return "", fmt.Sprintf("hosts key %q is a URL; limits are per host, write the host name alone: %q", key, strings.ToLower(u.Hostname()))
		}
		return "", fmt.Sprintf("hosts key %q is a URL; %s", key, hostKeyHint)
	}
	if i := strings.IndexAny(k, "/?#"); i >= 0 {
		if base, msg := hostName(k[:i]); msg == "" && base != "" {
			return "", fmt.Sprintf("hosts key %q has a path; limits are per host, write %q", key, base)
		}
		return "", fmt.Sprintf("hosts key %q has a path; %s", key, hostKeyHint)
	}
	if h, _, err := net.SplitHostPort(k); err == nil && h != "" {
		return "", fmt.Sprintf("hosts key %q has a port; limits are per host whatever the port, write %q", key, strings.ToLower(h))
	}
	if strings.ContainsAny(k, " \t:@%\\,;\"'") {
		return "", fmt.Sprintf("hosts key %q is not a host name; %s", key, hostKeyHint)
	}
	return strings.ToLower(k), ""
}

// hostKey is the form two host names are compared in: an internationalised
// name and its xn-- form are one host. Names idna refuses (an address, an
// underscore) are compared as they are.
func hostKey(name string) string {
	if a, err := idna.Lookup.ToASCII(name); err == nil && a != "" {
		return strings.ToLower(a)
	}
	return strings.ToLower(name)
}

// hostFor returns the hosts: entry of host, if it has one.
func (f *File) hostFor(host string) (Host, bool) {
	if h, ok := f.Hosts[host]; ok {
		return h, true
	}
	if name, ok := f.hostKeys[hostKey(host)]; ok {
		return f.Hosts[name], true
	}
	return Host{}, false
}

// UnusedHosts are the hosts: entries that no target of the file matches,
// to warn about: not an error, since a target added later or a stored
// target (cronless targets import, which the file does not see) may use
// one, but often a typo. The message says so.
func (f *File) UnusedHosts() []Problem {
	used := map[string]bool{}
	var hosts []string
	for _, t := range f.Targets {
		h := t.Host()
		if !used[hostKey(h)] {
			hosts = append(hosts, h)
		}
		used[hostKey(h)] = true
	}
	var out []Problem
	for _, name := range f.HostNames {
		if used[hostKey(name)] {
			continue
		}
		h := f.Hosts[name]
		msg := fmt.Sprintf("hosts entry %q matches no target's host in this file", name)
		if best := suggest(name, hosts); best != "" {
			msg += fmt.Sprintf("; did you mean %q? (stored targets are not checked)", best)
		} else {
			msg += "; it applies to stored targets on that host (cronless targets import), and once a target's URL is on it"
		}
		out = append(out, Problem{File: f.file, Line: h.Line, Col: h.Col, Msg: msg})
	}
	return out
}

// FormatRate writes a rate in jobs a second the way targets.yaml does:
// per second from 1/s up, else per minute, else per hour.
func FormatRate(perSecond float64) string {
	if math.IsInf(perSecond, 1) {
		return "unlimited"
	}
	f := func(x float64) string {
		return strconv.FormatFloat(math.Round(x*1000)/1000, 'f', -1, 64)
	}
	switch {
	case perSecond >= 1:
		return f(perSecond) + "/s"
	case perSecond*60 >= 1:
		return f(perSecond*60) + "/m"
	}
	return f(perSecond*3600) + "/h"
}
