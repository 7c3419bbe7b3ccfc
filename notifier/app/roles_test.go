package app_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/migrations"
	"github.com/breachnotify/breachnotify/migrations/testdb"
	"github.com/breachnotify/breachnotify/notifier/app"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// TestServiceRoleCannotRewriteTheAuditTrail: the running service's pool
// is the service's role, which may read and add audit entries and
// checkpoints but not change, remove, truncate or alter them, nor switch
// their triggers off, whatever user the connection string names.
func TestServiceRoleCannotRewriteTheAuditTrail(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{NoWorkers: true})
	ctx := context.Background()
	pool := e.App.Pool
	var current, session string
	if err := pool.QueryRow(ctx, `SELECT current_user, session_user`).Scan(&current, &session); err != nil {
		t.Fatal(err)
	}
	if current != migrations.ServiceRole || session != testdb.OwnerRole {
		t.Fatalf("the pool works as %s (logged in as %s), want %s", current, session, migrations.ServiceRole)
	}
	// Hold several connections at once, so the pool opens new ones: each
	// must have switched, not only the first.
	var conns []*pgxpool.Conn
	for range 4 {
		c, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if err := c.QueryRow(ctx, `SELECT current_user`).Scan(&current); err != nil || current != migrations.ServiceRole {
			t.Errorf("a pooled connection works as %s (%v)", current, err)
		}
	}
	for _, c := range conns {
		c.Release()
	}

	for _, table := range []string{"audit_log", "audit_checkpoints"} {
		for _, stmt := range []string{
			"ALTER TABLE " + table + " DISABLE TRIGGER USER",
			"ALTER TABLE " + table + " ADD COLUMN note text",
			"DROP TABLE " + table,
			"UPDATE " + table + " SET at = at",
			"DELETE FROM " + table,
			"TRUNCATE " + table,
			"CREATE TRIGGER sneaky BEFORE INSERT ON " + table + " FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
		} {
			_, err := pool.Exec(ctx, stmt)
			var pgErr *pgconn.PgError
			// 42501 is also the triggers' code; the message tells the
			// privilege check from a trigger (which says "append-only").
			if !errors.As(err, &pgErr) || pgErr.Code != "42501" ||
				!(strings.Contains(pgErr.Message, "permission denied") || strings.Contains(pgErr.Message, "must be owner")) {
				t.Errorf("%s as the service: %v, want insufficient privilege", stmt, err)
			}
		}
	}
	// Nor may it make this session skip triggers.
	if _, err := pool.Exec(ctx, `SET session_replication_role = replica`); err == nil {
		t.Error("the service may set session_replication_role")
	}

	// Reading and appending are what it is for.
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO audit_log (at, actor_name, action, prev_hash, hash, scheme) VALUES (now(), 'test', 'test', '\x00', '\x01', 'hmac-sha256')`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO audit_checkpoints (entry_id, entries, hash, at, mac, taken_by) VALUES (1, 1, '\x01', now(), '\x02', 'test')`); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM audit_log) + (SELECT count(*) FROM audit_checkpoints)`).Scan(&n); err != nil {
			return err
		}
		return errors.New("roll back")
	})
	if err == nil || err.Error() != "roll back" {
		t.Errorf("insert and select as the service: %v", err)
	}
}

// TestServeAsItsOwnLogin runs a wave with the service logged in as a role
// that is only a member of the service's role, as production should: it
// does not switch role at all, and everything works.
func TestServeAsItsOwnLogin(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{Configure: func(cfg *config.Config) {
		cfg.DatabaseURL = testdb.LoginURL(t, cfg.DatabaseURL, testdb.ServiceLogin)
	}})
	var current, session string
	if err := e.App.Pool.QueryRow(context.Background(), `SELECT current_user, session_user`).Scan(&current, &session); err != nil {
		t.Fatal(err)
	}
	if current != migrations.ServiceRole || session != testdb.ServiceLogin {
		t.Fatalf("works as %s, logged in as %s", current, session)
	}
	w := e.LaunchInitial(t, e.LoadSample(t, "own-login"))
	if w.Deliveries["sent"] == 0 || w.Status != "completed" {
		t.Errorf("wave = %+v", w)
	}
	if v := verifyVia(t, e, ""); !v.OK || v.Checkpoint == "" {
		t.Errorf("verify = %+v", v)
	}
}

// TestServeRefusesAUserThatCannotTakeTheRole: a connection string whose
// user may not become the service's role stops the start, saying what to do.
func TestServeRefusesAUserThatCannotTakeTheRole(t *testing.T) {
	t.Parallel()
	cfg := apptest.TestConfig(testdb.LoginURL(t, testdb.URL(t), testdb.StrangerLogin))
	_, err := app.New(context.Background(), cfg, app.Options{Logger: slog.New(slog.DiscardHandler), NoWorkers: true})
	if err == nil || !strings.Contains(err.Error(), "may not act as the role "+migrations.ServiceRole) ||
		!strings.Contains(err.Error(), "breachnotify migrate") || !strings.Contains(err.Error(), "GRANT "+migrations.ServiceRole+" TO "+testdb.StrangerLogin) {
		t.Fatalf("app.New as %s: %v", testdb.StrangerLogin, err)
	}
}
