package app_test

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// TestPortalCookiesBehindHTTPS checks the cookies' attributes when the
// public URL is https: Secure, HttpOnly, SameSite=Lax, Path=/ and the
// __Host- prefix, which a browser accepts only so. (The test talks plain
// http to the server, as a TLS-terminating proxy would, and carries the
// cookies itself.)
func TestPortalCookiesBehindHTTPS(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{Configure: func(c *config.Config) { c.PublicURL = "https://notify.test" }})
	e.LoadSample(t, "https")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(method, path, cookie string, form url.Values) (*http.Response, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, e.App.URL()+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	// cookie returns the named cookie the response set, checking its
	// attributes.
	cookie := func(resp *http.Response, name string) string {
		t.Helper()
		for _, c := range resp.Cookies() {
			if c.Name != name {
				continue
			}
			if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
				t.Errorf("cookie %s: %q", name, c.Raw)
			}
			return c.Name + "=" + c.Value
		}
		t.Fatalf("no cookie %s in %v", name, resp.Header.Values("Set-Cookie"))
		return ""
	}
	csrf := func(page string) string {
		return html.UnescapeString(formToken.FindStringSubmatch(page)[1])
	}

	resp, page := send("GET", "/portal/login", "", nil)
	signIn := cookie(resp, "__Host-bn_signin")
	if resp, _ := send("POST", "/portal/login", "", url.Values{"csrf": {csrf(page)}, "email": {"soc@contoso.example"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in request without its cookie: %d, want 403", resp.StatusCode)
	}
	if resp, _ := send("POST", "/portal/login", signIn, url.Values{"csrf": {csrf(page)}, "email": {"soc@contoso.example"}}); resp.StatusCode != 200 {
		t.Fatalf("sign-in request: %d", resp.StatusCode)
	}
	link := awaitLinks(t, e, "soc@contoso.example", 1)[0]
	if !strings.Contains(link.Text, "https://notify.test/portal/login/") {
		t.Errorf("the link is not on the public URL:\n%s", link.Text)
	}
	resp, page = send("GET", link.Path, "", nil)
	linkBind := cookie(resp, "__Host-bn_signin")
	if resp, _ := send("POST", link.Path, "", url.Values{"csrf": {csrf(page)}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in link's POST without the browser's cookie: %d, want 403", resp.StatusCode)
	}
	resp, _ = send("POST", link.Path, linkBind, url.Values{"csrf": {csrf(page)}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST sign-in link: %d", resp.StatusCode)
	}
	session := cookie(resp, "__Host-bn_portal")
	if resp, _ := send("GET", "/portal", session, nil); resp.StatusCode != 200 {
		t.Errorf("signed-in overview: %d", resp.StatusCode)
	}
	// The same value under the unprefixed name is no session.
	if resp, _ := send("GET", "/portal", strings.TrimPrefix(session, "__Host-"), nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("unprefixed cookie: %d, want 303 to sign in", resp.StatusCode)
	}
}
