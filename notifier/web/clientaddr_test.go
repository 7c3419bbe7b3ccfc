package web

import (
	"net"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// proxies are the trusted proxies of these tests: a private network, one
// IPv4 address and an IPv6 network.
var proxies = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("192.0.2.1/32"),
	netip.MustParsePrefix("2001:db8:1::/48"),
}

func TestClientAddr(t *testing.T) {
	t.Parallel()
	behind := NewClientAddr(proxies)
	for _, tc := range []struct {
		name   string
		remote string
		xff    []string // header lines
		want   string
	}{
		// The peer when it is not a trusted proxy, whatever the header.
		{"no header", "203.0.113.7:52000", nil, "203.0.113.7"},
		{"untrusted peer's header ignored", "203.0.113.7:52000", []string{"198.51.100.9"}, "203.0.113.7"},
		{"untrusted peer next to a trusted one", "192.0.2.2:52000", []string{"198.51.100.9"}, "192.0.2.2"},
		// A trusted peer: the header, right to left, past trusted proxies.
		{"one proxy", "10.1.2.3:52000", []string{"198.51.100.9"}, "198.51.100.9"},
		{"chain of proxies", "10.1.2.3:52000", []string{"198.51.100.9, 192.0.2.1, 10.9.9.9"}, "198.51.100.9"},
		{"spoofed leftmost ignored", "10.1.2.3:52000", []string{"127.0.0.1, 203.0.113.66, 198.51.100.9"}, "198.51.100.9"},
		{"spoofed trusted address ignored", "10.1.2.3:52000", []string{"10.0.0.1, 198.51.100.9, 10.9.9.9"}, "198.51.100.9"},
		{"several header lines are one list", "10.1.2.3:52000", []string{"203.0.113.66", "198.51.100.9, 10.9.9.9"}, "198.51.100.9"},
		{"all trusted: the leftmost", "10.1.2.3:52000", []string{"10.0.0.5, 192.0.2.1, 10.9.9.9"}, "10.0.0.5"},
		{"no spaces, tabs", "10.1.2.3:52000", []string{"198.51.100.9,\t10.9.9.9"}, "198.51.100.9"},
		{"empty elements skipped", "10.1.2.3:52000", []string{", 198.51.100.9,, 10.9.9.9 ,"}, "198.51.100.9"},
		{"entry with a port", "10.1.2.3:52000", []string{"198.51.100.9:4711, 10.9.9.9"}, "198.51.100.9"},
		// IPv6 peers, proxies and clients.
		{"IPv6 proxy", "[2001:db8:1::5]:443", []string{"2001:DB8:FFFF::1"}, "2001:db8:ffff::1"},
		{"IPv6 proxy, IPv4 client", "[2001:db8:1::5]:443", []string{"198.51.100.9"}, "198.51.100.9"},
		{"IPv6 client behind IPv4 proxy", "10.1.2.3:52000", []string{"2001:db8:ffff::1, 2001:db8:1::7"}, "2001:db8:ffff::1"},
		{"IPv6 client with a port", "10.1.2.3:52000", []string{"[2001:db8:ffff::1]:4711"}, "2001:db8:ffff::1"},
		{"IPv4-mapped proxy", "[::ffff:10.1.2.3]:52000", []string{"::ffff:198.51.100.9, ::ffff:10.9.9.9"}, "198.51.100.9"},
		{"untrusted IPv6 peer", "[2001:db8:2::5]:443", []string{"198.51.100.9"}, "2001:db8:2::5"},
		// Ports, or none, in RemoteAddr.
		{"peer without a port", "203.0.113.7", nil, "203.0.113.7"},
		{"trusted peer without a port", "10.1.2.3", []string{"198.51.100.9"}, "198.51.100.9"},
		{"IPv6 peer without a port", "2001:db8:2::5", nil, "2001:db8:2::5"},
		{"unreadable RemoteAddr", "pipe", []string{"198.51.100.9"}, "pipe"},
		// Nothing usable in the header: the peer.
		{"trusted peer, no header", "10.1.2.3:52000", nil, "10.1.2.3"},
		{"trusted peer, empty header", "10.1.2.3:52000", []string{""}, "10.1.2.3"},
		{"trusted peer, only commas", "10.1.2.3:52000", []string{" , ,"}, "10.1.2.3"},
		{"garbage", "10.1.2.3:52000", []string{"not an address"}, "10.1.2.3"},
		{"garbage after the client", "10.1.2.3:52000", []string{"198.51.100.9, unknown"}, "10.1.2.3"},
		{"garbage left of the client", "10.1.2.3:52000", []string{"unknown, 198.51.100.9"}, "198.51.100.9"},
		{"obfuscated identifier", "10.1.2.3:52000", []string{"_hidden"}, "10.1.2.3"},
		{"zone", "10.1.2.3:52000", []string{"fe80::1%eth0"}, "10.1.2.3"},
		{"bracketed without a port", "10.1.2.3:52000", []string{"[2001:db8::1]"}, "10.1.2.3"},
		{"leading zeros", "10.1.2.3:52000", []string{"198.051.100.009"}, "10.1.2.3"},
		{"CIDR", "10.1.2.3:52000", []string{"198.51.100.0/24"}, "10.1.2.3"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := behind.Of(r); got != tc.want {
			t.Errorf("%s: Of(%s, %q) = %q, want %q", tc.name, tc.remote, tc.xff, got, tc.want)
		}
		// Trusting no proxy, the header never counts.
		peer, _, err := net.SplitHostPort(tc.remote)
		if err != nil {
			peer = tc.remote
		}
		if got := (ClientAddr{}).Of(r); got != peer {
			t.Errorf("%s: with no trusted proxy, Of = %q, want the peer %q", tc.name, got, peer)
		}
	}
}

// FuzzClientAddr: reading X-Forwarded-For never panics, and its answer is
// the peer, or an address the header holds; a peer that is not a trusted
// proxy is always the answer.
func FuzzClientAddr(f *testing.F) {
	for _, seed := range [][2]string{
		{"10.1.2.3:52000", "198.51.100.9, 192.0.2.1, 10.9.9.9"},
		{"10.1.2.3:52000", "127.0.0.1, 198.51.100.9"},
		{"203.0.113.7:52000", "198.51.100.9"},
		{"[2001:db8:1::5]:443", "2001:db8:ffff::1, [2001:db8::2]:80"},
		{"[::ffff:10.1.2.3]:1", "::ffff:198.51.100.9"},
		{"10.1.2.3", ", ,,"},
		{"10.1.2.3:1", "fe80::1%eth0, unknown"},
		{"pipe", "198.51.100.9"},
		{"", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	c := NewClientAddr(proxies)
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		got := c.Of(r)
		peer, _, err := net.SplitHostPort(remote)
		if err != nil {
			peer = remote
		}
		if got == peer {
			return
		}
		if p, err := netip.ParseAddr(peer); err != nil || !c.trusts(p) {
			t.Fatalf("untrusted peer %q: Of = %q, want the peer", remote, got)
		}
		a, err := netip.ParseAddr(got)
		if err != nil || a.String() != got {
			t.Fatalf("Of(%q, %q) = %q: not the peer, nor a canonical address", remote, xff, got)
		}
		for _, entry := range strings.Split(xff, ",") {
			if e, ok := forwardedAddr(strings.Trim(entry, " \t")); ok && e == a {
				return
			}
		}
		t.Fatalf("Of(%q, %q) = %q: not the peer, nor in the header", remote, xff, got)
	})
}
