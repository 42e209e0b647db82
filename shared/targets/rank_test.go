package targets

import "testing"

// hostNames gives every URL a list can hold the host Target.Host gives it,
// whatever the URL's shape, however often its authority comes back.
func TestHostNames(t *testing.T) {
	urls := []string{
		"https://example.com/a",
		"https://example.com",
		"https://Example.COM:8443/b",
		"https://EXAMPLE.com?q=1",
		"https://example.com#frag",
		"http://user:pw@example.com/x",
		"http://user@other.example.com:80/x?y#z",
		"http://[::1]:8080/x",
		"http://[2001:db8::1]/x",
		"https://127.0.0.1:9/x",
		"https://xn--bcher-kva.example/x",
		"HTTPS://Caps.Example/x",
		"https:///no-host",
		"mailto:someone@example.com",
		"not a url",
		"",
		"h2c+x://example.com/x",
		"http:opaque://example.com/x",
		"https://example.com%2F/x",
	}
	h := hostNames{}
	for range 2 { // the second time from the cache
		for _, u := range urls {
			if got, want := h.of(u), (Target{URL: u}).Host(); got != want {
				t.Errorf("host of %q is %q, want %q", u, got, want)
			}
		}
	}
}
