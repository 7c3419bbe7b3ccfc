package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCookies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url    string
		secure bool
		name   string
	}{
		{"https://notify.example", true, "__Host-bn_x"},
		{"HTTPS://notify.example/", true, "__Host-bn_x"},
		{"http://127.0.0.1:8080", false, "bn_x"},
	} {
		c := NewCookies(tc.url, http.SameSiteStrictMode)
		if c.Secure() != tc.secure || c.Name("bn_x") != tc.name {
			t.Errorf("%s: secure %v, name %q", tc.url, c.Secure(), c.Name("bn_x"))
		}
		w := httptest.NewRecorder()
		c.Set(w, "bn_x", "v", 0)
		got := w.Result().Cookies()
		if len(got) != 1 || got[0].Name != tc.name || got[0].Value != "v" || got[0].Path != "/" || got[0].Domain != "" ||
			!got[0].HttpOnly || got[0].Secure != tc.secure || got[0].SameSite != http.SameSiteStrictMode || got[0].MaxAge != 0 {
			t.Errorf("%s: cookie %+v", tc.url, got)
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: tc.name, Value: "v"})
		if c.Get(r, "bn_x") != "v" || c.Get(r, "bn_y") != "" {
			t.Errorf("%s: Get", tc.url)
		}
	}
	w := httptest.NewRecorder()
	NewCookies("https://notify.example", http.SameSiteLaxMode).Delete(w, "bn_x")
	if got := w.Result().Cookies(); len(got) != 1 || got[0].MaxAge >= 0 || got[0].SameSite != http.SameSiteLaxMode {
		t.Errorf("delete: %+v", got)
	}
}

func TestFormBinding(t *testing.T) {
	t.Parallel()
	c := NewCookies("https://notify.example", http.SameSiteLaxMode)
	w := httptest.NewRecorder()
	bind := c.FormBinding(w, httptest.NewRequest("GET", "/", nil), "bn_signin")
	set := w.Result().Cookies()
	if len(bind) != bindingLen || len(set) != 1 || set[0].Value != bind || set[0].MaxAge != int(FormLifetime.Seconds()) {
		t.Fatalf("binding %q, cookies %+v", bind, set)
	}
	// A request with a binding keeps it; one with a malformed value gets
	// a new one.
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: "__Host-bn_signin", Value: bind})
	w = httptest.NewRecorder()
	if got := c.FormBinding(w, r, "bn_signin"); got != bind || len(w.Result().Cookies()) != 0 {
		t.Errorf("existing binding: %q, set %v", got, w.Result().Cookies())
	}
	r = httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: "__Host-bn_signin", Value: "short"})
	if got := c.FormBinding(httptest.NewRecorder(), r, "bn_signin"); got == "short" || got == bind || len(got) != bindingLen {
		t.Errorf("malformed binding kept or reused: %q", got)
	}
}

func TestSecureHeaders(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	SecureHeaders(w, "default-src 'none'")
	h := w.Header()
	if h.Get("Content-Security-Policy") != "default-src 'none'" || h.Get("Referrer-Policy") != "no-referrer" ||
		h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", h)
	}
}
