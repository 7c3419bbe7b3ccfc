package admin

import (
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/web"
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

// TestFormToken: the dashboard's form tokens are keyed by the
// installation secret (web.FormTokens pins their format and checks), one
// purpose per form.
func TestFormToken(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef0123456789abcdef")
	s, err := New(Config{Service: &notifier.Service{}, Secret: secret, PublicURL: "https://notify.example"})
	if err != nil {
		t.Fatal(err)
	}
	now, bound := time.Now(), []byte("session hash")
	tok := s.forms.Make(formSession, bound, now)
	if forms, _ := web.NewFormTokens(secret); !forms.Valid(formSession, tok, bound, now) || s.forms.Valid(formSignIn, tok, bound, now) {
		t.Errorf("session form token %q", tok)
	}
	if !s.cookies.Secure() || s.cookies.Name(sessionCookie) != "__Host-bn_admin" {
		t.Errorf("secure %v, cookie %s", s.cookies.Secure(), s.cookies.Name(sessionCookie))
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
