package admin

import (
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
)

func TestSafeNext(t *testing.T) {
	t.Parallel()
	for next, want := range map[string]string{
		"":                          "/admin",
		"/admin":                    "/admin",
		"/admin/incidents/3":        "/admin/incidents/3",
		"/admin/notices?after=djE6": "/admin/notices?after=djE6",
		"/riverui/":                 "/riverui/",
		"/riverui/jobs?state=retry": "/riverui/jobs?state=retry",
		"/riverui":                  "/riverui",
		"/riveruix":                 "/admin",
		"/portal":                   "/admin",
		"/administrator":            "/admin",
		"//evil.example/admin":      "/admin",
		"https://evil.example/":     "/admin",
		"/\\evil.example":           "/admin",
		"/admin/../portal":          "/admin",
		"/admin/%2e%2e/portal":      "/admin",
		"javascript:alert(1)":       "/admin",
		"/admin\r\nLocation: x":     "/admin",
		"admin":                     "/admin",
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}

func TestViewWave(t *testing.T) {
	t.Parallel()
	w := notifier.Wave{Status: notifier.WaveRunning, Deliveries: map[notifier.DeliveryStatus]int{
		notifier.DeliverySent: 5, notifier.DeliveryFailed: 1, notifier.DeliveryQueued: 3, notifier.DeliverySending: 1,
	}}
	v := viewWave(w)
	if v.Total != 10 || v.Finished != 6 || v.Percent != 60 || !v.CanPause || v.CanResume || !v.live() {
		t.Fatalf("view = total %d finished %d percent %d pause %v resume %v", v.Total, v.Finished, v.Percent, v.CanPause, v.CanResume)
	}
	if len(v.Segments) != len(notifier.DeliveryStatuses) {
		t.Fatalf("%d segments, want one per status", len(v.Segments))
	}
	// The segments tile the bar in order.
	x := 0.0
	for _, s := range v.Segments {
		if s.X != x {
			t.Errorf("%s starts at %v, want %v", s.Status, s.X, x)
		}
		x += s.Width
	}
	if x != barWidth {
		t.Errorf("the segments end at %v, want %d", x, barWidth)
	}
	empty := viewWave(notifier.Wave{Status: notifier.WavePaused})
	if empty.Total != 0 || empty.Percent != 0 || !empty.CanResume || empty.CanPause {
		t.Errorf("empty paused wave = %+v", empty)
	}
	if viewWave(notifier.Wave{Status: notifier.WaveCompleted}).live() {
		t.Error("a completed wave is live")
	}
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	l := newLimiter(2, time.Minute, 10)
	l.now = func() time.Time { return now }
	for i := 0; i < 2; i++ {
		if ok, _ := l.allow("a"); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
	}
	ok, wait := l.allow("a")
	if ok || wait != time.Minute {
		t.Fatalf("third attempt: %v, retry after %v", ok, wait)
	}
	if ok, _ := l.allow("b"); !ok {
		t.Error("another address is limited too")
	}
	now = now.Add(time.Minute)
	if ok, _ := l.allow("a"); !ok {
		t.Error("no attempt back after a minute")
	}
	for i := range 30 {
		l.allow(string(rune('c' + i)))
	}
	if len(l.buckets) > 10 {
		t.Errorf("%d buckets, want at most 10", len(l.buckets))
	}
}

func TestFormToken(t *testing.T) {
	t.Parallel()
	s := &Server{secret: []byte("0123456789abcdef0123456789abcdef")}
	now := time.Now()
	bound := []byte("session hash")
	tok := s.formToken(formSession, bound, now)
	if !s.validForm(formSession, tok, bound, now) {
		t.Fatal("a fresh token is refused")
	}
	for name, ok := range map[string]bool{
		"other purpose": s.validForm(formSignIn, tok, bound, now),
		"other session": s.validForm(formSession, tok, []byte("another"), now),
		"expired":       s.validForm(formSession, tok, bound, now.Add(csrfLifetime+time.Second)),
		"nothing bound": s.validForm(formSession, s.formToken(formSession, nil, now), nil, now),
		"altered":       s.validForm(formSession, tok[:len(tok)-2]+"AA", bound, now),
		"empty":         s.validForm(formSession, "", bound, now),
	} {
		if ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	for secs, want := range map[float64]string{-1: "0 s", 0: "0 s", 42: "42 s", 600: "10 min", 3 * 3600: "3 h 0 min", 5 * 86400: "5 days"} {
		if got := duration(secs); got != want {
			t.Errorf("duration(%v) = %q, want %q", secs, got, want)
		}
	}
}
