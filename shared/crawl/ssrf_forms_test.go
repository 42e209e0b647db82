package crawl

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// strictResolver resolves the names of its table, and fails the test when
// asked for any other: a URL host that is an address in some form (decimal,
// octal, hex, short) must be read as one before any lookup, so that Go's
// resolver and the C library's cannot disagree about it.
type strictResolver struct {
	t     *testing.T
	table stubResolver
	mu    sync.Mutex
	asked []string
}

func (r *strictResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	r.asked = append(r.asked, host)
	r.mu.Unlock()
	if _, ok := r.table[host]; !ok {
		r.t.Errorf("resolver asked for %q, which it must never see", host)
	}
	return r.table.LookupNetIP(ctx, network, host)
}

// TestSSRFAddressForms is the address guard's table: every way of writing
// an internal address in a URL is blocked (or refused as a bad URL) without
// a lookup or a dial, and public addresses written the same ways are
// fetched, at the address they mean.
func TestSSRFAddressForms(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeHTML(w, "<title>public "+r.Host+"</title>")
	}))
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	const (
		blocked = "blocked"
		badURL  = "bad url"
		ok      = "fetched"
	)
	tests := []struct {
		url  string
		want string
		ip   string // the address the message (blocked) or the dial (fetched) names
	}{
		// IPv4, dotted decimal
		{"http://127.0.0.1/", blocked, "127.0.0.1"},
		{"http://10.0.0.1/", blocked, "10.0.0.1"},
		{"http://172.16.0.1/", blocked, "172.16.0.1"},
		{"http://192.168.0.1/", blocked, "192.168.0.1"},
		{"http://169.254.169.254/latest/meta-data/", blocked, "169.254.169.254"},
		{"http://100.64.0.1/", blocked, "100.64.0.1"}, // CGNAT
		{"http://100.127.255.254/", blocked, "100.127.255.254"},
		{"http://255.255.255.255/", blocked, "255.255.255.255"}, // broadcast
		{"http://224.0.0.1/", blocked, "224.0.0.1"},             // multicast
		{"http://0.0.0.0/", blocked, "0.0.0.0"},                 // unspecified
		{"http://127.0.0.1./", blocked, "127.0.0.1"},            // trailing dot
		// IPv4 in the forms inet_aton and browsers accept
		{"http://2130706433/", blocked, "127.0.0.1"},   // decimal
		{"http://0177.0.0.1/", blocked, "127.0.0.1"},   // octal
		{"http://0x7f.0.0.1/", blocked, "127.0.0.1"},   // hex
		{"http://0X7F.0.0.1/", blocked, "127.0.0.1"},   // hex, upper case
		{"http://0x7f000001/", blocked, "127.0.0.1"},   // one hex number
		{"http://017700000001/", blocked, "127.0.0.1"}, // one octal number
		{"http://127.1/", blocked, "127.0.0.1"},        // short form
		{"http://127.0.1/", blocked, "127.0.0.1"},
		{"http://0177.1/", blocked, "127.0.0.1"},
		{"http://2852039166/", blocked, "169.254.169.254"}, // metadata, decimal
		{"http://0xa9fea9fe/", blocked, "169.254.169.254"},
		{"http://0xa9.0xfe.0xa9.0xfe/", blocked, "169.254.169.254"},
		{"http://167772161/", blocked, "10.0.0.1"},
		{"http://4294967295/", blocked, "255.255.255.255"},
		{"http://0/", blocked, "0.0.0.0"},
		{"http://0x/", blocked, "0.0.0.0"},
		// IPv6 and the forms that embed IPv4
		{"http://[::1]/", blocked, "::1"},
		{"http://[0:0:0:0:0:0:0:1]/", blocked, "::1"},
		{"http://[::]/", blocked, "::"},
		{"http://[::ffff:169.254.169.254]/", blocked, "169.254.169.254"}, // IPv4-mapped
		{"http://[::ffff:a9fe:a9fe]/", blocked, "169.254.169.254"},
		{"http://[::ffff:127.0.0.1]/", blocked, "127.0.0.1"},
		{"http://[::127.0.0.1]/", blocked, "::7f00:1"},                  // IPv4-compatible
		{"http://[64:ff9b::a9fe:a9fe]/", blocked, "64:ff9b::a9fe:a9fe"}, // NAT64
		{"http://[64:ff9b::7f00:1]/", blocked, "64:ff9b::7f00:1"},
		{"http://[2002:7f00:1::]/", blocked, "2002:7f00:1::"}, // 6to4
		{"http://[2002:a9fe:a9fe::1]/", blocked, "2002:a9fe:a9fe::1"},
		{"http://[fd00:ec2::254]/", blocked, "fd00:ec2::254"}, // EC2 metadata, IPv6
		{"http://[fc00::1]/", blocked, "fc00::1"},             // ULA
		{"http://[fe80::1%25eth0]/", blocked, "fe80::1"},      // link-local
		{"http://[ff02::1]/", blocked, "ff02::1"},             // multicast
		// names
		{"http://localhost/", blocked, "127.0.0.1"},
		{"http://metadata.test/", blocked, "169.254.169.254"},
		{"http://ec2v6.test/", blocked, "fd00:ec2::254"},
		// hosts that end in a number but are no IPv4 address
		{"http://1.2.3.4.5/", badURL, ""},
		{"http://256.0.0.1/", badURL, ""},
		{"http://0x100.0.0.1/", badURL, ""},
		{"http://09.0.0.1/", badURL, ""},
		{"http://4294967296/", badURL, ""},
		{"http://internal.123/", badURL, ""},
		// public addresses in the same forms are fetched, at the address meant
		{"http://203.0.113.10:" + port + "/", ok, "203.0.113.10"},
		{"http://3405803786:" + port + "/", ok, "203.0.113.10"},
		{"http://0xcb.0.0x71.0xa:" + port + "/", ok, "203.0.113.10"},
		{"http://0313.0.0161.012:" + port + "/", ok, "203.0.113.10"},
		{"http://203.0.28938:" + port + "/", ok, "203.0.113.10"},
		{"http://public.test:" + port + "/", ok, "203.0.113.10"},
		{"http://[64:ff9b::cb00:710a]:" + port + "/", ok, "64:ff9b::cb00:710a"}, // NAT64 of a public address
	}
	resolverTable := stubResolver{
		"localhost":     {"127.0.0.1", "::1"},
		"metadata.test": {"169.254.169.254"},
		"ec2v6.test":    {"fd00:ec2::254"},
		"public.test":   {"203.0.113.10"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			res := &strictResolver{t: t, table: resolverTable}
			d := &guardDialer{t: t, route: map[string]string{
				net.JoinHostPort(tt.ip, port): srv.Listener.Addr().String(),
			}}
			if tt.want != ok {
				d.route = nil // any dial fails the test
			}
			f := New(Options{Resolver: res, DialContext: d.DialContext})
			t.Cleanup(f.CloseIdleConnections)
			j := testJob(tt.url, nil)
			j.Robots = nil // robots.txt is the first request: it must be guarded too
			page, err := fetch(t, f, j)
			for _, h := range res.asked {
				if _, err := netip.ParseAddr(h); err == nil || endsInNumber(h[strings.LastIndexByte(h, '.')+1:]) {
					t.Errorf("looked up %q", h)
				}
			}
			switch tt.want {
			case ok:
				if err != nil {
					t.Fatalf("Fetch: %v", err)
				}
				if !strings.HasPrefix(page.Fields["title"].(string), "public ") {
					t.Errorf("fields = %v", page.Fields)
				}
				if got := d.dialed(); len(got) == 0 || got[0] != net.JoinHostPort(tt.ip, port) {
					t.Errorf("dialed %v, want %s", got, tt.ip)
				}
				return
			case blocked:
				ce := asError(t, err)
				if ce.Kind != KindBlocked || ce.Retryable {
					t.Fatalf("got %v, want a permanent %s", err, KindBlocked)
				}
				if msg := err.Error(); !strings.Contains(msg, tt.ip) || !strings.Contains(msg, "--allow-private") {
					t.Errorf("message %q should name %s and how to allow it", msg, tt.ip)
				}
			case badURL:
				ce := asError(t, err)
				if ce.Kind != KindBadRule || ce.Retryable {
					t.Fatalf("got %v, want a permanent %s", err, KindBadRule)
				}
				if msg := err.Error(); !strings.Contains(msg, "ends in a number") || !strings.Contains(msg, "four decimal numbers") {
					t.Errorf("message %q does not say what is wrong and how to fix it", msg)
				}
				if len(res.asked) != 0 {
					t.Errorf("resolver asked for %v", res.asked)
				}
			}
			if got := d.dialed(); len(got) != 0 {
				t.Errorf("dialed %v", got)
			}
		})
	}
}

// rebindingResolver answers a public address to the first lookups and an
// internal one afterwards, as a DNS rebinding attacker's server does.
type rebindingResolver struct {
	public  int // lookups answered with the public address
	n       atomic.Int32
	private string
}

func (r *rebindingResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if host != "rebind.test" {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	if int(r.n.Add(1)) <= r.public {
		return []netip.Addr{netip.MustParseAddr("203.0.113.10")}, nil
	}
	return []netip.Addr{netip.MustParseAddr(r.private)}, nil
}

func TestDNSRebinding(t *testing.T) {
	// Every response closes its connection, so every request dials (and
	// resolves) again, as it would after a keep-alive connection expired.
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		if r.URL.Path == "/robots.txt" {
			_, _ = w.Write([]byte("User-agent: *\nAllow: /\n"))
			return
		}
		writeHTML(w, "<title>public</title>")
	}))
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	public := "203.0.113.10:" + port
	for _, private := range []string{"127.0.0.1", "169.254.169.254", "10.0.0.1", "::ffff:127.0.0.1"} {
		t.Run("robots then page/"+private, func(t *testing.T) {
			// robots.txt is fetched from the public address; the page's
			// own connection resolves to the internal one.
			d := &guardDialer{t: t, route: map[string]string{public: srv.Listener.Addr().String()}}
			f := New(Options{Resolver: &rebindingResolver{public: 1, private: private}, DialContext: d.DialContext})
			t.Cleanup(f.CloseIdleConnections)
			j := testJob("http://rebind.test:"+port+"/page", nil)
			j.Robots = nil
			_, err := fetch(t, f, j)
			if ce := asError(t, err); ce.Kind != KindBlocked || ce.Retryable {
				t.Fatalf("got %v, want a permanent %s", err, KindBlocked)
			}
			if got := d.dialed(); len(got) != 1 || got[0] != public {
				t.Errorf("dialed %v, want only %s", got, public)
			}
		})
	}
	t.Run("second fetch", func(t *testing.T) {
		d := &guardDialer{t: t, route: map[string]string{public: srv.Listener.Addr().String()}}
		f := New(Options{Resolver: &rebindingResolver{public: 1, private: "192.168.1.1"}, DialContext: d.DialContext})
		t.Cleanup(f.CloseIdleConnections)
		j := testJob("http://rebind.test:"+port+"/page", nil)
		if _, err := fetch(t, f, j); err != nil {
			t.Fatalf("first fetch: %v", err)
		}
		_, err := fetch(t, f, j)
		if ce := asError(t, err); ce.Kind != KindBlocked {
			t.Fatalf("second fetch: got %v, want %s", err, KindBlocked)
		}
		if !strings.Contains(err.Error(), "rebind.test (192.168.1.1)") {
			t.Errorf("message %q does not name the name and its address", err)
		}
	})
}

func TestCanonicalHost(t *testing.T) {
	tests := []struct{ in, want string }{ // want "!" = error
		{"example.com", "example.com"},
		{"example.com.", "example.com."},
		{"xn--nxasmq6b.test", "xn--nxasmq6b.test"},
		{"127.0.0.1", "127.0.0.1"},
		{"2130706433", "127.0.0.1"},
		{"0177.0.0.1", "127.0.0.1"},
		{"0x7f.0.0.1", "127.0.0.1"},
		{"0x7F.1", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"127.0.1", "127.0.0.1"},
		{"127.0.0.1.", "127.0.0.1"},
		{"0", "0.0.0.0"},
		{"0x", "0.0.0.0"},
		{"00", "0.0.0.0"},
		{"1.0x", "1.0.0.0"},
		{"4294967295", "255.255.255.255"},
		{"203.0.28938", "203.0.113.10"},
		{"::1", "::1"},
		{"1.2.3.4.5", "!"},
		{"256.1.1.1", "!"},
		{"1.256.1.1", "!"},
		{"1.2.3.256", "!"},
		{"1.2.65536", "!"},
		{"4294967296", "!"},
		{"99999999999999999999999", "!"},
		{"08.1.1.1", "!"},
		{"0x1g.1.1.1", "!"},
		{"foo.1", "!"},
		{"1..1", "!"},
		{"1.2.3.4..", "1.2.3.4.."}, // the last label is empty: a name, as in browsers
		{"foo.0x", "!"},
		{"foo.0xg", "foo.0xg"}, // not a number: a name
		{"a1", "a1"},
		{"1a", "1a"},
	}
	for _, tt := range tests {
		got, err := canonicalHost(tt.in)
		if tt.want == "!" {
			if err == nil {
				t.Errorf("canonicalHost(%q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("canonicalHost(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
