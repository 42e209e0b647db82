package crawl

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// stubResolver resolves a fixed table of names; anything else does not exist.
// The tests never reach a real resolver.
type stubResolver map[string][]string

func (s stubResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	addrs, ok := s[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, a := range addrs {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

// guardDialer is the dialer under the address guard in SSRF tests. It only
// ever connects to loopback, so nothing leaves the machine even if the guard
// is broken; route maps the checked address of a fake public host to a
// loopback test server.
type guardDialer struct {
	t     *testing.T
	route map[string]string
	mu    sync.Mutex
	calls []string
}

func (d *guardDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.calls = append(d.calls, addr)
	d.mu.Unlock()
	if to, ok := d.route[addr]; ok {
		addr = to
	} else {
		d.t.Errorf("dial reached for %s: the address guard let it through", addr)
		return nil, errors.New("test dialer: refusing " + addr)
	}
	host, _, _ := net.SplitHostPort(addr)
	if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
		d.t.Errorf("test dialer asked for non-loopback %s", addr)
		return nil, errors.New("test dialer: refusing non-loopback " + addr)
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

func (d *guardDialer) dialed() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.calls...)
}

// ssrfResolver maps test names to blocked (and one public) addresses.
var ssrfResolver = stubResolver{
	"loopback.test":   {"127.0.0.1"},
	"loopback6.test":  {"::1"},
	"ten.test":        {"10.0.0.1"},
	"172.test":        {"172.16.5.4"},
	"192.test":        {"192.168.1.1"},
	"metadata.test":   {"169.254.169.254"},
	"linklocal.test":  {"169.254.1.1"},
	"mapped.test":     {"::ffff:10.0.0.1"},
	"mappedmeta.test": {"::ffff:169.254.169.254"},
	"nat64.test":      {"64:ff9b::a9fe:a9fe"},
	"nat64lo.test":    {"64:ff9b::7f00:1"},
	"sixtofour.test":  {"2002:a00:1::1"},
	"ec2v6.test":      {"fd00:ec2::254"},
	"ula.test":        {"fc00::1"},
	"ll6.test":        {"fe80::1"},
	"cgnat.test":      {"100.64.0.1"},
	"zero.test":       {"0.0.0.0"},
	"zeronet.test":    {"0.1.2.3"},
	"unspec6.test":    {"::"},
	"ietf.test":       {"192.0.0.8"},
	"bench.test":      {"198.18.0.1"},
	"reserved.test":   {"240.0.0.1"},
	"bcast.test":      {"255.255.255.255"},
	"mcast.test":      {"224.0.0.1"},
	"mcast6.test":     {"ff02::1"},
	"mixed.test":      {"203.0.113.10", "10.0.0.1"}, // one bad address spoils the name
	"public.test":     {"203.0.113.10"},
	"internal.test":   {"192.168.0.10"},
}

func TestSSRFBlocked(t *testing.T) {
	var urls []string
	for name := range ssrfResolver {
		if name != "public.test" {
			urls = append(urls, "http://"+name+"/")
		}
	}
	urls = append(urls,
		"http://127.0.0.1:1/", "http://[::1]/", "http://169.254.169.254/latest/meta-data/",
		"http://[::ffff:127.0.0.1]/", "http://[64:ff9b::a9fe:a9fe]/", "http://[fd00:ec2::254]/",
		"http://10.0.0.1:8080/", "http://[fe80::1%25eth0]/", "https://192.168.1.1/",
	)
	for _, u := range urls {
		t.Run(u, func(t *testing.T) {
			d := &guardDialer{t: t}
			f := New(Options{Resolver: ssrfResolver, DialContext: d.DialContext})
			j := testJob(u, nil)
			j.Robots = nil // robots.txt is the first request, and it is guarded too
			_, err := fetch(t, f, j)
			ce := asError(t, err)
			if ce.Kind != KindBlocked || ce.Retryable || Retryable(err) {
				t.Fatalf("got %v, want a permanent %s", err, KindBlocked)
			}
			if len(d.dialed()) != 0 {
				t.Errorf("dialer reached: %v", d.dialed())
			}
			msg := err.Error()
			host := mustHost(t, u)
			if !strings.Contains(msg, host) || !strings.Contains(msg, "--allow-private") || !strings.Contains(msg, "allow_private") {
				t.Errorf("message %q should name %s and how to allow it", msg, host)
			}
		})
	}
}

func mustHost(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	h := u.Hostname()
	if i := strings.IndexByte(h, '%'); i >= 0 {
		h = h[:i]
	}
	return h
}

func TestSSRFRedirectToBlocked(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, port, _ := net.SplitHostPort(r.Host)
		switch r.URL.Path {
		case "/robots.txt":
			w.WriteHeader(http.StatusNotFound)
		case "/ok":
			writeHTML(w, "<title>public</title>")
		case "/to-ten":
			http.Redirect(w, r, "http://10.0.0.1:"+port+"/secret", http.StatusFound)
		case "/to-metadata":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/iam/", http.StatusFound)
		case "/to-name":
			http.Redirect(w, r, "http://internal.test/admin", http.StatusMovedPermanently)
		case "/to-loopback":
			http.Redirect(w, r, "http://127.0.0.1:"+port+"/ok", http.StatusFound)
		case "/to-decimal":
			http.Redirect(w, r, "http://2130706433:"+port+"/ok", http.StatusFound)
		case "/to-hex":
			http.Redirect(w, r, "http://0x7f.1:"+port+"/ok", http.StatusFound)
		case "/to-octal-metadata":
			http.Redirect(w, r, "http://0251.0376.0251.0376/latest/", http.StatusFound)
		case "/to-mapped":
			http.Redirect(w, r, "http://[::ffff:127.0.0.1]:"+port+"/ok", http.StatusFound)
		case "/to-bad-number":
			http.Redirect(w, r, "http://1.2.3.4.5/", http.StatusFound)
		}
	}))
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	public := "http://public.test:" + port
	newF := func(t *testing.T) (*Fetcher, *guardDialer) {
		d := &guardDialer{t: t, route: map[string]string{"203.0.113.10:" + port: srv.Listener.Addr().String()}}
		f := New(Options{Resolver: ssrfResolver, DialContext: d.DialContext})
		t.Cleanup(f.CloseIdleConnections)
		return f, d
	}

	t.Run("public is allowed", func(t *testing.T) {
		f, d := newF(t)
		j := testJob(public+"/ok", nil)
		j.Robots = nil
		page, err := fetch(t, f, j)
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		if page.Fields["title"] != "public" {
			t.Errorf("fields = %v", page.Fields)
		}
		if got := d.dialed(); len(got) != 1 || got[0] != "203.0.113.10:"+port {
			t.Errorf("dials = %v, want one keep-alive connection to the checked address", got)
		}
	})
	for _, path := range []string{"/to-ten", "/to-metadata", "/to-name", "/to-loopback", "/to-decimal", "/to-hex", "/to-octal-metadata", "/to-mapped"} {
		t.Run(path, func(t *testing.T) {
			f, d := newF(t)
			page, err := fetch(t, f, testJob(public+path, nil))
			ce := asError(t, err)
			if ce.Kind != KindBlocked || ce.Retryable {
				t.Fatalf("got %v, want a permanent %s", err, KindBlocked)
			}
			for _, a := range d.dialed() {
				if a != "203.0.113.10:"+port {
					t.Errorf("dialed %s", a)
				}
			}
			if page.HTTPStatus != 0 {
				t.Errorf("page = %+v", page)
			}
			if !strings.Contains(err.Error(), "redirected to http://") {
				t.Errorf("message %q does not name the redirect target", err)
			}
		})
	}
}

func TestSSRFRedirectToBadNumber(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://1.2.3.4.5/", http.StatusFound)
	}))
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	d := &guardDialer{t: t, route: map[string]string{"203.0.113.10:" + port: srv.Listener.Addr().String()}}
	f := New(Options{Resolver: &strictResolver{t: t, table: ssrfResolver}, DialContext: d.DialContext})
	t.Cleanup(f.CloseIdleConnections)
	j := testJob("http://public.test:"+port+"/", nil)
	_, err := fetch(t, f, j)
	ce := asError(t, err)
	if ce.Kind != KindHTTP4xx || ce.Retryable || ce.HTTPStatus != http.StatusFound {
		t.Fatalf("got %v, want a permanent %s", err, KindHTTP4xx)
	}
	if msg := err.Error(); !strings.Contains(msg, "redirect to http://1.2.3.4.5/") || !strings.Contains(msg, "ends in a number") {
		t.Errorf("message %q does not name the redirect and what is wrong with it", msg)
	}
}

func TestBlockedReason(t *testing.T) {
	tests := map[string]bool{ // address → blocked
		"127.0.0.1": true, "127.255.255.254": true, "10.1.2.3": true, "172.31.255.255": true,
		"172.32.0.1": false, "192.168.0.1": true, "169.254.169.254": true, "169.254.0.1": true,
		"100.64.0.1": true, "100.127.255.255": true, "100.128.0.1": false, "0.0.0.0": true,
		"0.255.255.255": true, "192.0.0.1": true, "198.18.0.1": true, "198.19.255.255": true,
		"198.20.0.1": false, "224.0.0.251": true, "239.255.255.250": true, "240.0.0.1": true,
		"255.255.255.255": true, "8.8.8.8": false, "203.0.113.10": false, "1.1.1.1": false,
		"::": true, "::1": true, "fe80::1": true, "fe80::1%eth0": true, "fc00::1": true, "fd12:3456::1": true,
		"fd00:ec2::254": true, "ff02::1": true, "::ffff:10.0.0.1": true, "::ffff:8.8.8.8": false,
		"::ffff:127.0.0.1": true, "::10.0.0.1": true, "64:ff9b::a9fe:a9fe": true, "64:ff9b::0a00:0001": true,
		"64:ff9b::808:808": false, "64:ff9b:1::1": true, "2002:a9fe:a9fe::1": true, "2002:808:808::1": false,
		"2001:0::1": true, "2001:4860:4860::8888": false, "2606:4700::1111": false, "fec0::1": true,
	}
	for s, want := range tests {
		reason := blockedReason(netip.MustParseAddr(s))
		if (reason != "") != want {
			t.Errorf("blockedReason(%s) = %q, want blocked=%v", s, reason, want)
		}
	}
}

func TestAllowPrivate(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeHTML(w, "<title>local</title>") }))
	allowed := New(Options{AllowPrivate: true, Resolver: stubResolver{}, DialContext: loopbackDialer(t)})
	t.Cleanup(allowed.CloseIdleConnections)
	page, err := fetch(t, allowed, testJob(srv.URL, nil))
	if err != nil || page.Fields["title"] != "local" {
		t.Fatalf("AllowPrivate: page=%+v err=%v", page, err)
	}
	d := &guardDialer{t: t} // fails the test if reached
	_, err = fetch(t, New(Options{Resolver: stubResolver{}, DialContext: d.DialContext}), testJob(srv.URL, nil))
	if KindOf(err) != KindBlocked {
		t.Fatalf("default: got %v, want %s", err, KindBlocked)
	}
}
