package apptest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/migrations"
	"github.com/breachnotify/breachnotify/migrations/testdb"
	"github.com/breachnotify/breachnotify/notifier/smtp/smtptest"
)

// PgBouncer is a PgBouncer process of a test's own, in transaction
// pooling mode, in front of one database of the test server.
type PgBouncer struct {
	addr  string
	admin string
	db    string
}

// StartPgBouncer starts PgBouncer (Debian's pgbouncer package) in
// transaction mode on a free loopback port, in front of the database that
// dbURL names, with at most serverConns server connections per login. It
// lets logins in without a password and passes each one's own (testdb's
// logins have their names as passwords) to the server; the first login
// may use the console (Pools, Reconnect). It stops when the test ends. The test
// skips when PgBouncer is not installed, and fails instead under CI
// (CI=true), which installs it (.ci/run).
func StartPgBouncer(t testing.TB, dbURL string, serverConns int, logins ...string) *PgBouncer {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		bin, err = exec.LookPath("/usr/sbin/pgbouncer")
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("pgbouncer is not installed; .ci/run installs Debian's pgbouncer package")
		}
		t.Skip("pgbouncer is not installed (apt-get install pgbouncer); skipping the run behind it")
	}
	db := DatabaseOf(t, dbURL)
	server, err := url.Parse(testdb.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	host, port := server.Hostname(), server.Port()
	if port == "" {
		port = "5432"
	}
	dir := t.TempDir()
	users := ""
	for _, l := range logins {
		users += fmt.Sprintf("%q %q\n", l, l)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.txt"), []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	b := &PgBouncer{addr: smtptest.FreeAddr(t), admin: logins[0], db: db}
	_, listenPort, _ := net.SplitHostPort(b.addr)
	ini := fmt.Sprintf(`[databases]
%s = host=%s port=%s dbname=%s pool_size=%d

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %s
unix_socket_dir =
pidfile =
auth_type = trust
auth_file = %s
pool_mode = transaction
max_client_conn = 200
admin_users = %s
`, db, host, port, db, serverConns, listenPort, filepath.Join(dir, "users.txt"), b.admin)
	conf := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(conf, []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{conf}
	if os.Getuid() == 0 {
		// PgBouncer refuses to run as root; it reads its files first.
		args = []string{"-u", "postgres", conf}
	}
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pgbouncer: %v", err)
	}
	log := &procOutput{}
	listening := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		var once sync.Once
		for sc.Scan() {
			_, _ = log.Write(append(sc.Bytes(), '\n'))
			if strings.Contains(sc.Text(), "listening on "+b.addr) {
				once.Do(func() { close(listening) })
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("pgbouncer's log:\n%s", log.String())
		}
	})
	select {
	case <-listening:
	case <-done:
		t.Fatalf("pgbouncer exited before listening:\n%s", log.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("pgbouncer did not listen within 30 s:\n%s", log.String())
	}
	return b
}

// URL is dbURL reaching its database through the pooler.
func (b *PgBouncer) URL(t testing.TB, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = b.addr
	return u.String()
}

// Reconnect has PgBouncer replace its server connections as they are
// released, as an operator does after changing a login's settings (such
// as its default role), which PostgreSQL applies only at login.
func (b *PgBouncer) Reconnect(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	conn := b.console(t)
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "RECONNECT "+b.db); err != nil {
		t.Fatalf("pgbouncer console RECONNECT: %v", err)
	}
}

// console connects to PgBouncer's console, which speaks the simple
// protocol only, as the first login.
func (b *PgBouncer) console(t testing.TB) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), fmt.Sprintf("postgres://%s:%s@%s/pgbouncer?sslmode=disable&default_query_exec_mode=simple_protocol", b.admin, b.admin, b.addr))
	if err != nil {
		t.Fatalf("pgbouncer console: %v", err)
	}
	return conn
}

// Pools reads PgBouncer's console: how many client connections the first
// login holds to the database, and on how many server connections.
func (b *PgBouncer) Pools(t testing.TB) (clients, servers int64) {
	t.Helper()
	ctx := context.Background()
	conn := b.console(t)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SHOW POOLS")
	if err != nil {
		t.Fatalf("pgbouncer console: %v", err)
	}
	defer rows.Close()
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		row := map[string]any{}
		for i, f := range rows.FieldDescriptions() {
			row[f.Name] = vals[i]
		}
		if row["database"] != b.db || row["user"] != b.admin {
			continue
		}
		clients += asInt(row["cl_active"]) + asInt(row["cl_waiting"])
		for _, col := range []string{"sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login"} {
			servers += asInt(row[col])
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("pgbouncer console: %v", err)
	}
	return clients, servers
}

// asInt reads a number of PgBouncer's console, which the simple protocol
// delivers as an integer or as text.
func asInt(v any) int64 {
	var n int64
	switch v := v.(type) {
	case int64:
		n = v
	case int32:
		n = int64(v)
	case string:
		_, _ = fmt.Sscan(v, &n)
	}
	return n
}

// StartAsServiceRole makes login start every session in dbURL's database
// as migrations.ServiceRole (its default role there), as behind a pooler
// it must: docs/operations.md, PgBouncer.
func StartAsServiceRole(t testing.TB, dbURL, login string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testdb.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	sql := fmt.Sprintf("ALTER ROLE %s IN DATABASE %s SET role = %s",
		pgx.Identifier{login}.Sanitize(), pgx.Identifier{DatabaseOf(t, dbURL)}.Sanitize(), pgx.Identifier{migrations.ServiceRole}.Sanitize())
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// DatabaseOf is the database a URL names.
func DatabaseOf(t testing.TB, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}
