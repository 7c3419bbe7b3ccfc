package web

import (
	"net/netip"
	"sync"
	"time"
)

// RateKey is the key a client address is rate-limited under: an IPv4
// address as it is, an IPv6 address by its /64, which one subscriber
// usually holds whole, so cycling through its addresses gives no fresh
// buckets. A string that is not an address (a RemoteAddr without one) is
// its own key.
func RateKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil || !a.Is6() || a.Is4In6() {
		return addr
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

// Limiter is a token bucket per key (a client address, a typed email
// address), in this process's memory: each process limits on its own, so
// N processes allow N times the rate, which still bounds guessing, mail
// bombing and a client using a form to load the database, without a
// shared store on every request. The map is bounded: past maxKeys,
// buckets that have refilled (idle clients) are forgotten first, then
// arbitrary ones, so a flood of fresh keys costs memory only up to the
// bound. Keys by client address are only as good as the address: see
// ClientAddr.
type Limiter struct {
	mu      sync.Mutex
	burst   float64
	every   time.Duration // one token back per every
	maxKeys int
	now     func() time.Time
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewLimiter allows burst requests at once per key and one more per
// every, keeping at most maxKeys keys.
func NewLimiter(burst int, every time.Duration, maxKeys int) *Limiter {
	return &Limiter{burst: float64(burst), every: every, maxKeys: maxKeys, now: time.Now, buckets: map[string]*bucket{}}
}

// Allow takes a token from key's bucket; false means the key is over its
// rate and should come back in retryAfter.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, found := l.buckets[key]
	if !found {
		if len(l.buckets) >= l.maxKeys {
			l.evict(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+float64(now.Sub(b.at))/float64(l.every))
	b.at = now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) * float64(l.every))
	}
	b.tokens--
	return true, 0
}

// evict makes room: first every bucket that is full again, then, if none
// is, about a tenth of the map.
func (l *Limiter) evict(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+float64(now.Sub(b.at))/float64(l.every) >= l.burst {
			delete(l.buckets, k)
		}
	}
	n := max(1, l.maxKeys/10)
	for k := range l.buckets {
		if len(l.buckets) < l.maxKeys || n <= 0 {
			break
		}
		delete(l.buckets, k) // map order is random enough for this
		n--
	}
}
