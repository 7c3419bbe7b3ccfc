package admin

import (
	"sync"
	"time"
)

// Sign-in attempts per client address: 10 at once, then one a minute. A
// key has 256 random bits, so the limit is not what keeps keys safe; it
// keeps a client from using the form to load the database.
const (
	signInBurst = 10
	signInEvery = time.Minute
	// limiterKeys bounds the limiter's memory.
	limiterKeys = 10000
)

// limiter is a token bucket per key (a client address), in this process's
// memory: each process limits on its own, so N processes allow N times the
// rate. The map is bounded: past maxKeys, buckets that have refilled (idle
// clients) are forgotten first, then arbitrary ones. (The customer
// portal's limiter works the same way; each package keeps its own.)
type limiter struct {
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

// newLimiter allows burst requests at once per key and one more per every.
func newLimiter(burst int, every time.Duration, maxKeys int) *limiter {
	return &limiter{burst: float64(burst), every: every, maxKeys: maxKeys, now: time.Now, buckets: map[string]*bucket{}}
}

// allow takes a token from key's bucket; false means the key is over its
// rate and should come back in retryAfter.
func (l *limiter) allow(key string) (ok bool, retryAfter time.Duration) {
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
func (l *limiter) evict(now time.Time) {
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
