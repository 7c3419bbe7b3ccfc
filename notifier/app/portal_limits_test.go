package app_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// TestPortalDownloadCaps: a portal session may have 2 downloads running
// at once and a client address 4; past either the answer is 429 with a
// page that says why, and a finished download gives its place back.
func TestPortalDownloadCaps(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	slowReaderScenario(t, e) // downloads of megabytes: they stay running while nobody reads
	ctx := context.Background()
	v := newVisitor(t, e)
	v.signIn("soc@contoso.example")
	sessions := []string{v.cookie("bn_portal")}
	for len(sessions) < 3 {
		token, hash := notifier.NewPortalToken()
		if _, err := e.App.Pool.Exec(ctx, `INSERT INTO portal_sessions (id_hash, contact_id, organization_id, link_id, expires_at)
			SELECT $1, contact_id, organization_id, link_id, expires_at FROM portal_sessions WHERE id_hash = $2`,
			hash, sessionHash(sessions[0])); err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, token)
	}
	started := func() int {
		var n int
		if err := e.App.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'portal.download'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	var running []net.Conn
	t.Cleanup(func() {
		for _, c := range running {
			_ = c.Close()
		}
	})
	// run starts a download as session that nobody reads, and waits
	// until it has started.
	run := func(session string) net.Conn {
		t.Helper()
		before := started()
		c := neverReading(t, e.App.URL())
		fmt.Fprintf(c, "GET /portal/items.csv HTTP/1.1\r\nHost: notify.test\r\nCookie: bn_portal=%s\r\n\r\n", session)
		running = append(running, c)
		eventually(t, "the download to start", func() bool { return started() == before+1 })
		return c
	}
	download := func(session string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", e.App.URL()+"/portal/items.csv", nil)
		req.Header.Set("Cookie", "bn_portal="+session)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	first := run(sessions[0])
	run(sessions[0])
	st, page := download(sessions[0])
	if st != http.StatusTooManyRequests || !strings.Contains(page, "Too many downloads") ||
		!strings.Contains(page, "This session already has 2 downloads running") {
		t.Errorf("third download of a session = %d, want 429 saying why:\n%s", st, page)
	}
	// The address (all of this test's connections come from 127.0.0.1)
	// has 2 running; 2 more from another session make 4.
	run(sessions[1])
	run(sessions[1])
	st, page = download(sessions[2])
	if st != http.StatusTooManyRequests || !strings.Contains(page, "4 downloads are already running from your network address") {
		t.Errorf("fifth download of an address = %d, want 429 saying why:\n%s", st, page)
	}
	if n := started(); n != 4 {
		t.Errorf("%d downloads started (audited), want the 4 under the caps", n)
	}
	// A download that ends (its client went away) gives its place back.
	_ = first.Close()
	eventually(t, "a place to come back", func() bool {
		st, _ := download(sessions[2])
		return st == http.StatusOK
	})
}

// TestCustomerPagesHaveADeadline: a client that sends a customer page's
// request body slowly (here: never) is cut off after the page's deadline
// of seconds, not after the staff API's minutes.
func TestCustomerPagesHaveADeadline(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{NoWorkers: true})
	c, err := net.Dial("tcp", strings.TrimPrefix(e.App.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A well-formed token and form, whose 100 promised bytes never come.
	fmt.Fprintf(c, "POST /ack/%s HTTP/1.1\r\nHost: notify.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ncsrf=",
		strings.Repeat("A", 43))
	closed := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, c) // until the server closes the connection
		closed <- err
	}()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("connection ended with %v, want the server to close it", err)
		}
	case <-time.After(60 * time.Second): // the API allows 5 minutes
		t.Fatal("the server still waits for the body of a customer page")
	}
}
