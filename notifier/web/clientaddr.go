package web

import (
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// ClientAddr finds the address a request came from, for per-address rate
// limits and for the address recorded with an acknowledgement or a
// sign-in. Without trusted proxies it is the connection's peer. Behind a
// reverse proxy the peer is the proxy, for every client: the limits
// would be one bucket for everyone and every record would name the proxy.
// So when the peer is a trusted proxy, the client is read from the
// X-Forwarded-For header, which each proxy extends with the address it
// received the request from.
//
// Only the right end of that header can be believed: a client may send
// any X-Forwarded-For it likes, and proxies append to it. So the header
// is read right to left, past the addresses of trusted proxies (a chain
// of them); the first address that is not a trusted proxy is the client,
// whatever stands to its left. If every address is a trusted proxy, the
// leftmost is the client. The header is never read when the peer is not a
// trusted proxy, and an entry that is not an address (garbage, or
// something a proxy wrote that we cannot read) makes the whole header
// untrustworthy: the answer is then the peer.
//
// The zero ClientAddr trusts no proxy.
type ClientAddr struct {
	trusted []netip.Prefix
}

// NewClientAddr trusts the proxies in trusted (config.Config's
// TrustedProxies: IPv4 prefixes for IPv4 proxies, masked).
func NewClientAddr(trusted []netip.Prefix) ClientAddr {
	return ClientAddr{trusted: slices.Clone(trusted)}
}

// Of is the client address of r: the peer's address without its port
// (RemoteAddr as it is if it has none), or with a trusted peer the one
// X-Forwarded-For names, in its canonical form (lower case IPv6,
// IPv4-mapped IPv6 as IPv4).
func (c ClientAddr) Of(r *http.Request) string {
	peer, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		peer = r.RemoteAddr
	}
	if len(c.trusted) == 0 {
		return peer
	}
	if a, err := netip.ParseAddr(peer); err != nil || !c.trusts(a) {
		return peer
	}
	// Several header lines are one list, in order: walk the lines from
	// the last, each from its right end.
	var leftmost netip.Addr
	lines := r.Header.Values("X-Forwarded-For")
	for i := len(lines) - 1; i >= 0; i-- {
		rest := lines[i]
		for rest != "" {
			var entry string
			if j := strings.LastIndexByte(rest, ','); j >= 0 {
				entry, rest = rest[j+1:], rest[:j]
			} else {
				entry, rest = rest, ""
			}
			entry = strings.Trim(entry, " \t")
			if entry == "" {
				continue // an empty list element, which HTTP allows
			}
			a, ok := forwardedAddr(entry)
			if !ok {
				return peer
			}
			if !c.trusts(a) {
				return a.String()
			}
			leftmost = a
		}
	}
	if leftmost.IsValid() {
		return leftmost.String()
	}
	return peer // a trusted proxy that forwarded no address
}

// trusts reports whether a is a trusted proxy's address.
func (c ClientAddr) trusts(a netip.Addr) bool {
	a = a.WithZone("").Unmap()
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedAddr reads one X-Forwarded-For entry: an IP address, or one
// with a port as some proxies write it (192.0.2.1:4711, [2001:db8::1]:4711).
// An address with an IPv6 zone is refused: a zone means nothing beyond
// the host that wrote it.
func forwardedAddr(entry string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(entry)
	if err != nil {
		ap, err := netip.ParseAddrPort(entry)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	if a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}
