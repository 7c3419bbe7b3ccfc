package main

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/migrations/testdb"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// TestDoctorBehindPgBouncer: with BREACHNOTIFY_DATABASE_POLL_ONLY the
// database checks work through PgBouncer in transaction mode, and db-role
// fails, saying what to run, until the login starts as the service's
// role (and the pooler reconnects), since serve could not switch to it
// there.
func TestDoctorBehindPgBouncer(t *testing.T) {
	t.Parallel()
	b := setupDoctor(t)
	bouncer := apptest.StartPgBouncer(t, b.cfg.DatabaseURL, 2, testdb.ServiceLogin)
	b.cfg.DatabaseURL = bouncer.URL(t, b.cfg.DatabaseURL)
	b.cfg.DatabasePollOnly = true
	if r := b.check(t, "database"); r.status != statusOK {
		t.Errorf("database through PgBouncer = %+v", r)
	}
	if r := b.check(t, "db-role"); r.status != statusFail || !strings.Contains(r.detail, "ALTER ROLE "+pgx.Identifier{testdb.ServiceLogin}.Sanitize()+" IN DATABASE") {
		t.Errorf("db-role through PgBouncer, login not starting as the role = %+v, want FAIL saying to ALTER ROLE", r)
	}
	// PostgreSQL applies a login's settings at login: the pooler's server
	// connections of before must go.
	apptest.StartAsServiceRole(t, b.cfg.DatabaseURL, testdb.ServiceLogin)
	bouncer.Reconnect(t)
	if r := b.check(t, "db-role"); r.status != statusOK {
		t.Errorf("db-role through PgBouncer, login starting as the role = %+v", r)
	}
}
