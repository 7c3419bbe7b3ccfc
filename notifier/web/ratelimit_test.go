package web

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	l := NewLimiter(3, 10*time.Second, 100)
	l.now = func() time.Time { return now }
	for i := range 3 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("request %d refused within the burst", i+1)
		}
	}
	// The bucket is empty: the next token is one interval away.
	ok, wait := l.Allow("a")
	if ok || wait != 10*time.Second {
		t.Fatalf("4th request: %v, retry after %v; want refused, retry after 10s", ok, wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another key is limited too")
	}
	now = now.Add(10 * time.Second)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("no token back after its interval")
	}
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("two tokens back after one interval")
	}
}

func TestLimiterStaysBounded(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	l := NewLimiter(2, time.Minute, 50)
	l.now = func() time.Time { return now }
	for i := range 10_000 {
		l.Allow(fmt.Sprint("ip-", i))
		if len(l.buckets) > 50 {
			t.Fatalf("%d keys kept, bound 50", len(l.buckets))
		}
	}
	// A key that is over its limit is not forgotten while there are idle
	// ones to forget.
	l.Allow("busy")
	l.Allow("busy")
	now = now.Add(3 * time.Minute) // every other bucket is full again
	l.Allow("busy")                // a token back
	for i := range 40 {
		l.Allow(fmt.Sprint("new-", i))
	}
	if _, kept := l.buckets["busy"]; !kept {
		t.Error("an active bucket was evicted before idle ones")
	}
}

func TestRateKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"192.0.2.7":                     "192.0.2.7",
		"2001:db8:1:2:aaaa::1":          "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff:ffff:ffff:1": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":               "2001:db8:1:3::/64",
		"fe80::1%eth0":                  "fe80::/64",
		"::ffff:192.0.2.7":              "::ffff:192.0.2.7",
		"pipe":                          "pipe",
		"":                              "",
	} {
		if got := RateKey(in); got != want {
			t.Errorf("RateKey(%q) = %q, want %q", in, got, want)
		}
	}
}
