package app_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// TestSlowReadersLeaveTheServiceResponsive is the attack of issue 11
// (finding 4): signed-in portal customers open many connections that ask
// for the CSV download and never read the answer, and a viewer does the
// same with the proof report. Both answers are megabytes, more than the
// sockets' buffers hold, so their handlers block writing. Meanwhile
// readiness, the API, /verify and the portal's pages must answer, and a
// wave of 300 deliveries must be launched and complete.
//
// Before the fix each blocked handler held a database connection, and
// 14 of them took the whole pool: everything else waited for ever.
func TestSlowReadersLeaveTheServiceResponsive(t *testing.T) {
	t.Parallel()
	// The attackers' connections come "through a proxy" so that each has
	// an address of its own: the per-address cap on downloads must not
	// be what saves the service here.
	e := apptest.Start(t, apptest.Options{Configure: func(c *config.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}})
	ctx := context.Background()
	slug := slowReaderScenario(t, e)
	wave := planBulkWave(t, e)

	// A side door to the database for the test's own checks: the
	// service's pools are what is under attack.
	db, err := pgx.Connect(ctx, e.App.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)

	// Ten portal sessions of contoso: one signed in as a person does, the
	// others its copies (sign-in is rate limited per address and per
	// email, and is not what is tested here).
	v := newVisitor(t, e)
	v.signIn("soc@contoso.example")
	sessions := []string{v.cookie("bn_portal")}
	for len(sessions) < 10 {
		token, hash := notifier.NewPortalToken()
		if _, err := db.Exec(ctx, `INSERT INTO portal_sessions (id_hash, contact_id, organization_id, link_id, expires_at)
			SELECT $1, contact_id, organization_id, link_id, expires_at FROM portal_sessions WHERE id_hash = $2`,
			hash, sessionHash(sessions[0])); err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, token)
	}
	viewer := newKey(t, e, "slow viewer", notifier.RoleViewer)

	var attackers []net.Conn
	t.Cleanup(func() {
		for _, c := range attackers {
			_ = c.Close()
		}
	})
	open := func(request string) {
		t.Helper()
		c := neverReading(t, e.App.URL())
		if _, err := io.WriteString(c, request); err != nil {
			t.Fatal(err)
		}
		attackers = append(attackers, c)
	}
	for i := range 20 {
		open(fmt.Sprintf("GET /portal/items.csv HTTP/1.1\r\nHost: notify.test\r\nCookie: bn_portal=%s\r\nX-Forwarded-For: 198.51.100.%d\r\n\r\n",
			sessions[i%len(sessions)], i+1))
	}
	for range 10 {
		open(fmt.Sprintf("GET /api/v1/incidents/%s/report?format=csv HTTP/1.1\r\nHost: notify.test\r\nAuthorization: Bearer %s\r\n\r\n", slug, viewer))
	}
	// Every one of them has started: its download or export is audited
	// before the first row is read.
	// Those that cannot start are waiting for a database connection.
	eventually(t, "the 30 downloads and reports to start", func() bool {
		var n int
		_ = db.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action IN ('portal.download', 'report.export')`).Scan(&n)
		return n == 30
	})

	// Each check gets a deadline rather than a duration to meet: the
	// failure this test catches is waiting for ever.
	client := &http.Client{Timeout: 30 * time.Second}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := client.Get(e.App.URL() + path)
		if err != nil {
			t.Fatalf("GET %s while slow readers hold their connections: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := get("/readyz"); st != 200 {
		t.Errorf("/readyz = %d %s, want 200", st, body)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := e.Client.Incident(cctx, slug); err != nil {
		t.Errorf("API while slow readers hold their connections: %v", err)
	}
	var reference string
	if err := db.QueryRow(ctx, `SELECT reference_code FROM deliveries WHERE status = 'sent' LIMIT 1`).Scan(&reference); err != nil {
		t.Fatal(err)
	}
	if st, body := get("/verify?code=" + reference); st != 200 || !strings.Contains(body, "Genuine: we sent this notice") {
		t.Errorf("/verify = %d, want 200 and the notice:\n%s", st, body)
	}
	if st, body, _ := v.do("GET", "/portal/items", nil); st != 200 || !strings.Contains(body, "MSG-SLOW-0001") {
		t.Errorf("portal item list = %d, want 200 with the items", st)
	}
	wctx, wcancel := context.WithTimeout(ctx, 90*time.Second)
	defer wcancel()
	if _, err := e.Client.LaunchWave(wctx, wave); err != nil {
		t.Fatalf("launch while slow readers hold their connections: %v", err)
	}
	w, err := e.Client.WaitWave(wctx, wave, 50*time.Millisecond, nil)
	if err != nil || w.Status != notifier.WaveCompleted {
		t.Fatalf("wave %d while slow readers hold their connections: %+v, %v", wave, w, err)
	}
	var sent int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM deliveries d JOIN notices n ON n.id = d.notice_id WHERE n.wave_id = $1 AND d.status = 'sent'`,
		wave).Scan(&sent); err != nil || sent != 300 {
		t.Errorf("wave %d sent %d deliveries (%v), want 300", wave, sent, err)
	}
}

// neverReading dials addr with a small receive buffer and never reads,
// so what the server writes stays in the sockets' buffers and then
// blocks the server's writes.
func neverReading(t *testing.T, base string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// slowReaderScenario makes contoso's download and the incident's report
// megabytes each (more than a socket's buffers, about 4 MB here, hold):
// 1,500 items of about 4 KB for contoso, and delivery histories of 400
// long events each, added directly (a wave of thousands of deliveries
// would make the same report, slowly).
func slowReaderScenario(t *testing.T, e *apptest.Env) string {
	t.Helper()
	slug := e.LoadSample(t, "slow")
	var b strings.Builder
	b.WriteString("org_ref,item_ref,kind,occurred_at,subject,summary,secret_types\n")
	summary := strings.Repeat("The message quoted a long thread about the account. ", 75)[:3900]
	for i := range 1500 {
		fmt.Fprintf(&b, "contoso,MSG-SLOW-%04d,email,2024-01-01T00:00:00Z,Thread %d,%s,password\n", i+1, i+1, summary)
	}
	importItems(t, e, slug, b.String())
	e.LaunchInitial(t, slug)
	if _, err := e.App.Pool.Exec(context.Background(), `INSERT INTO delivery_events (delivery_id, type, detail)
		SELECT d.id, 'attempt', repeat('450 4.2.1 mailbox busy, try again later ', 25)
		FROM deliveries d JOIN notices n ON n.id = d.notice_id JOIN incidents i ON i.id = n.incident_id, generate_series(1, 400)
		WHERE i.slug = $1`, slug); err != nil {
		t.Fatal(err)
	}
	return slug
}
