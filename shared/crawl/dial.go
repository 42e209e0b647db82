package crawl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The address guard runs at dial time, after name resolution, on every
// connection the Fetcher opens: the page, each redirect hop and robots.txt.
// Checking the resolved addresses (and dialing exactly the address that was
// checked) is what defeats DNS rebinding and redirects to internal services;
// checking URLs alone would not.

type blockedRange struct {
	prefix netip.Prefix
	reason string
}

// blockedRanges are the ranges no crawl may reach unless AllowPrivate is set.
// More specific ranges come first so the reason names them.
var blockedRanges = func() []blockedRange {
	rs := []struct{ cidr, reason string }{
		// IPv4
		{"0.0.0.0/8", "\"this network\" (0.0.0.0/8)"},
		{"10.0.0.0/8", "private (RFC 1918)"},
		{"100.64.0.0/10", "carrier-grade NAT (RFC 6598)"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.169.254/32", "cloud metadata service"},
		{"169.254.0.0/16", "link-local"},
		{"172.16.0.0/12", "private (RFC 1918)"},
		{"192.0.0.0/24", "IETF protocol assignment (192.0.0.0/24)"},
		{"192.168.0.0/16", "private (RFC 1918)"},
		{"198.18.0.0/15", "benchmarking (198.18.0.0/15)"},
		{"224.0.0.0/4", "multicast"},
		{"255.255.255.255/32", "broadcast"},
		{"240.0.0.0/4", "reserved (240.0.0.0/4)"},
		// IPv6
		{"::/128", "unspecified"},
		{"::1/128", "loopback"},
		{"::/96", "IPv4-compatible (deprecated)"},
		{"100::/64", "discard-only (RFC 6666)"},
		{"64:ff9b:1::/48", "local-use NAT64 (RFC 8215)"},
		{"2001::/32", "Teredo tunnel"},
		{"fd00:ec2::254/128", "cloud metadata service"},
		{"fc00::/7", "unique local (IPv6)"},
		{"fe80::/10", "link-local"},
		{"fec0::/10", "site-local (deprecated)"},
		{"ff00::/8", "multicast"},
	}
	out := make([]blockedRange, len(rs))
	for i, r := range rs {
		out[i] = blockedRange{netip.MustParsePrefix(r.cidr), r.reason}
	}
	return out
}()

var (
	nat64WellKnown = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour      = netip.MustParsePrefix("2002::/16")
)

// blockedReason says why ip may not be dialed, or "" when it may.
// IPv6 forms that embed an IPv4 address (mapped, NAT64, 6to4) are judged by
// the address they embed.
func blockedReason(ip netip.Addr) string {
	ip = ip.WithZone("")
	if !ip.IsValid() {
		return "invalid"
	}
	if ip.Is4In6() {
		if r := blockedReason(ip.Unmap()); r != "" {
			return "IPv4-mapped " + r
		}
		return ""
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64WellKnown.Contains(ip):
			if r := blockedReason(netip.AddrFrom4([4]byte(b[12:16]))); r != "" {
				return "NAT64-mapped " + r
			}
			return ""
		case sixToFour.Contains(ip):
			if r := blockedReason(netip.AddrFrom4([4]byte(b[2:6]))); r != "" {
				return "6to4-mapped " + r
			}
			return ""
		}
	}
	for _, r := range blockedRanges {
		if r.prefix.Contains(ip) {
			return r.reason
		}
	}
	return ""
}

// Resolver resolves host names; *net.Resolver satisfies it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// guardedDialer resolves, checks every address, then dials a checked one.
type guardedDialer struct {
	allowPrivate bool
	resolver     Resolver
	dial         func(ctx context.Context, network, addr string) (net.Conn, error)
	timeout      time.Duration // resolution and connect; 0: none
}

func (d *guardedDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.timeout <= 0 {
		return d.dialContext(ctx, network, addr)
	}
	dctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	conn, err := d.dialContext(dctx, network, addr)
	if err != nil && ctx.Err() == nil && errors.Is(dctx.Err(), context.DeadlineExceeded) {
		return nil, &Error{Kind: KindTimeout, Retryable: true,
			Err: fmt.Errorf("connecting to %s: no connection within the connect timeout of %s: %w", addr, d.timeout, err)}
	}
	return conn, err
}

func (d *guardedDialer) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	// A host that reads as an IPv4 number in another form (2130706433,
	// 0x7f.1, 0177.0.0.1) is never handed to a resolver: Go's own resolver
	// would look it up in the DNS, the C library's would read it as an
	// address. Read here, it is checked like any address.
	host, err = canonicalHost(host)
	if err != nil {
		return nil, &Error{Kind: KindBadRule, Err: err}
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		ips, err = d.resolver.LookupNetIP(ctx, lookupNetwork(network), host)
		if err != nil {
			return nil, err
		}
		if len(ips) == 0 {
			return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
		}
	}
	if !d.allowPrivate {
		// Every address must pass: a name that resolves to one public and
		// one internal address is refused rather than dialed "safely".
		for _, ip := range ips {
			if reason := blockedReason(ip); reason != "" {
				what := ip.String()
				if what != host {
					what = fmt.Sprintf("%s (%s)", host, ip)
				}
				return nil, &Error{Kind: KindBlocked, Err: fmt.Errorf("%s is a %s address", what, reason)}
			}
		}
	}
	var errs []error
	for _, ip := range ips {
		conn, err := d.dial(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	return nil, errors.Join(errs...)
}

func lookupNetwork(network string) string {
	switch {
	case strings.HasSuffix(network, "4"):
		return "ip4"
	case strings.HasSuffix(network, "6"):
		return "ip6"
	}
	return "ip"
}

// canonicalizeURLHost rewrites u's host the way the URL standard (and so
// every browser) reads it: an IPv4 address in decimal, octal, hex or short
// form becomes dotted decimal, and a host that ends in a number but is no
// valid IPv4 address is an error. Then the address guard, the robots.txt
// cache and the per-host limits all see the one address it means.
func canonicalizeURLHost(u *url.URL) error {
	h := u.Hostname()
	c, err := canonicalHost(h)
	if err != nil {
		return err
	}
	if c == h {
		return nil
	}
	if p := u.Port(); p != "" {
		u.Host = net.JoinHostPort(c, p)
	} else {
		u.Host = c
	}
	return nil
}

// canonicalHost returns host with an IPv4 address in any form the WHATWG
// URL standard's IPv4 parser accepts written in dotted decimal (and any
// other host unchanged). A host whose last label is a number is an IPv4
// address or invalid: "1.2.3.4.5", "256.1.1.1" and "foo.123" are errors,
// as they are in browsers.
func canonicalHost(host string) (string, error) {
	if host == "" || strings.HasPrefix(host, "[") || strings.Contains(host, ":") {
		return host, nil // empty, or IPv6
	}
	parts := strings.Split(host, ".")
	if len(parts) > 1 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1] // one trailing dot
	}
	if !endsInNumber(parts[len(parts)-1]) {
		return host, nil
	}
	bad := func(why string) error {
		return fmt.Errorf("host %q ends in a number, so it must be an IPv4 address, but %s; write the address as four decimal numbers (such as 93.184.215.14) or use a host name", host, why)
	}
	if len(parts) > 4 {
		return "", bad("it has more than four parts")
	}
	nums := make([]uint64, len(parts))
	for i, p := range parts {
		n, ok := ipv4Number(p)
		if !ok {
			return "", bad(fmt.Sprintf("%q is not a number", p))
		}
		nums[i] = n
	}
	var v uint64
	for i, n := range nums[:len(nums)-1] {
		if n > 255 {
			return "", bad(fmt.Sprintf("part %d is larger than 255", i+1))
		}
		v |= n << (8 * (3 - i))
	}
	last := nums[len(nums)-1]
	if last >= 1<<(8*(5-len(nums))) {
		return "", bad("its last part is too large")
	}
	v |= last
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String(), nil
}

// endsInNumber is the URL standard's test of a host's last label: all
// decimal digits, or a number in the IPv4 parser's sense (0x… hex).
func endsInNumber(last string) bool {
	if last == "" {
		return false
	}
	if strings.Trim(last, "0123456789") == "" {
		return true
	}
	_, ok := ipv4Number(last)
	return ok
}

// ipv4Number parses one part of an IPv4 host: decimal, 0x hex or 0 octal
// ("0x" alone is 0).
func ipv4Number(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	base := 10
	switch {
	case len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X"):
		s, base = s[2:], 16
	case len(s) >= 2 && s[0] == '0':
		s, base = s[1:], 8
	}
	if s == "" {
		return 0, true
	}
	for _, c := range s {
		var d int
		switch {
		case c >= '0' && c <= '9':
			d = int(c - '0')
		case base == 16 && c >= 'a' && c <= 'f', base == 16 && c >= 'A' && c <= 'F':
			d = 10
		default:
			return 0, false
		}
		if d >= base {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, base, 64)
	if err != nil {
		return 1 << 40, true // out of range: too large for any part
	}
	return n, true
}
