package crawl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
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
}

func (d *guardedDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
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
