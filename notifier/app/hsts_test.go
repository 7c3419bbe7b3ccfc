package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// TestHSTSWhenPublicURLIsHTTPS checks that with an https public URL every
// response, whoever answers it (API, operational endpoints, customer
// pages, dashboard, River UI, a 404), tells browsers to use https only,
// and that with an http one (development) none does.
func TestHSTSWhenPublicURLIsHTTPS(t *testing.T) {
	t.Parallel()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct{ publicURL, want string }{
		{"https://notify.test", "max-age=31536000"},
		{"http://notify.test", ""},
	} {
		e := apptest.Start(t, apptest.Options{NoWorkers: true, Configure: func(c *config.Config) { c.PublicURL = tc.publicURL }})
		for _, r := range []struct{ method, path, key, body string }{
			{"GET", "/api/v1/incidents", e.Key, ""},
			{"GET", "/api/v1/incidents", "", ""}, // 401
			{"POST", "/api/v1/incidents", e.Key, `{"slug":"hsts","title":"HSTS"}`},
			{"POST", "/api/v1/incidents", e.Key, `{"slug":`}, // 400
			{"GET", "/api/v1/openapi.json", "", ""},
			{"GET", "/healthz", "", ""},
			{"GET", "/readyz", "", ""},
			{"GET", "/metrics", "", ""},
			{"GET", "/verify", "", ""},
			{"GET", "/verify?code=BN-0000-0000-0000-0000", "", ""},
			{"GET", "/ack/no-such-token", "", ""},
			{"GET", "/portal", "", ""},
			{"GET", "/portal/login", "", ""},
			{"GET", "/admin/login", "", ""},
			{"GET", "/admin", "", ""},
			{"GET", "/riverui/api/queues", "", ""},
			{"GET", "/no/such/page", "", ""},
		} {
			req, _ := http.NewRequest(r.method, e.App.URL()+r.path, strings.NewReader(r.body))
			if r.key != "" {
				req.Header.Set("Authorization", "Bearer "+r.key)
			}
			if r.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Strict-Transport-Security"); got != tc.want {
				t.Errorf("public URL %s: %s %s (%d): Strict-Transport-Security %q, want %q", tc.publicURL, r.method, r.path, resp.StatusCode, got, tc.want)
			}
		}
	}
}
