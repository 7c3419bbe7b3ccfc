// Package testdb gives each test a fresh, fully migrated PostgreSQL database,
// cloned by pgtestdb from a template that is migrated once per schema version.
// It talks to the server in BREACHNOTIFY_TEST_DATABASE_URL (default: the local
// PostgreSQL as user postgres).
package testdb

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver pgtestdb uses
	"github.com/peterldowns/pgtestdb"

	"github.com/breachnotify/breachnotify/migrations"
)

// DefaultServerURL is the PostgreSQL server tests use unless
// BREACHNOTIFY_TEST_DATABASE_URL says otherwise.
const DefaultServerURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// OwnerRole owns every test database and its schema, as the role `migrate`
// runs as does in production: URL connects as it, and the app's
// pool then works as migrations.ServiceRole. Tests that tamper with the
// audit trail the way only an owner could connect as it directly.
const OwnerRole = "breachnotify_test_owner"

// Config creates a fresh migrated database and returns how to reach it, for
// tests that start whole processes against it.
func Config(t testing.TB) *pgtestdb.Config {
	t.Helper()
	return pgtestdb.Custom(t, serverConfig(t), migrator{})
}

// URL creates a fresh migrated database and returns its connection URL.
func URL(t testing.TB) string {
	t.Helper()
	return Config(t).URL()
}

// ServicePool creates a fresh migrated database and opens a pool on it
// that works as migrations.ServiceRole, as the service's pools do, closed
// when the test ends. maxConns bounds it when above zero.
func ServicePool(t testing.TB, maxConns int32) *pgxpool.Pool {
	t.Helper()
	pc, err := pgxpool.ParseConfig(URL(t))
	if err != nil {
		t.Fatal(err)
	}
	if maxConns > 0 {
		pc.MaxConns = maxConns
	}
	pc.AfterConnect = migrations.AssumeServiceRole
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// ServerURL is the URL of the server's maintenance database tests use.
func ServerURL() string {
	if raw := os.Getenv("BREACHNOTIFY_TEST_DATABASE_URL"); raw != "" {
		return raw
	}
	return DefaultServerURL
}

func serverConfig(t testing.TB) pgtestdb.Config {
	u, err := url.Parse(ServerURL())
	if err != nil {
		t.Fatalf("BREACHNOTIFY_TEST_DATABASE_URL: %v", err)
	}
	pw, _ := u.User.Password()
	db := u.Path
	if len(db) > 0 && db[0] == '/' {
		db = db[1:]
	}
	if db == "" {
		db = "postgres"
	}
	return pgtestdb.Config{
		// The databases belong to a role of their own, which migrate runs
		// as, the way production runs it as the schema owner. It may create
		// roles, so Migrate creates the service's role as in production.
		TestRole:                  &pgtestdb.Role{Username: OwnerRole, Password: OwnerRole, Capabilities: "NOSUPERUSER NOCREATEDB CREATEROLE"},
		DriverName:                "pgx",
		Host:                      u.Hostname(),
		Port:                      u.Port(),
		User:                      u.User.Username(),
		Password:                  pw,
		Database:                  db,
		Options:                   u.RawQuery,
		ForceTerminateConnections: true,
	}
}

// migrator adapts migrations.Migrate to pgtestdb's interface.
type migrator struct{}

func (migrator) Hash() (string, error) { return migrations.Fingerprint() }

func (migrator) Migrate(ctx context.Context, _ *sql.DB, conf pgtestdb.Config) error {
	pool, err := pgxpool.New(ctx, conf.URL())
	if err != nil {
		return err
	}
	defer pool.Close()
	_, err = migrations.Migrate(ctx, pool)
	return err
}

// The login roles LoginURL makes: ServiceLogin is a member of
// migrations.ServiceRole and nothing else, as docs/operations.md tells
// production to make for serve; StrangerLogin is not even that.
const (
	ServiceLogin  = "breachnotify_test_app"
	StrangerLogin = "breachnotify_test_stranger"
)

// LoginURL returns dbURL logging in as login (ServiceLogin or
// StrangerLogin) instead, creating that role on the server when missing.
// Roles belong to the whole server, so tests running at once may race to
// create one; the losers find it made.
func LoginURL(t testing.TB, dbURL, login string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	defer conn.Close(ctx)
	role := pgx.Identifier{login}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE ROLE "+role+" LOGIN PASSWORD "+quoteLiteral(login)); err != nil && !duplicate(err) {
		t.Fatalf("testdb: create role %s: %v", login, err)
	}
	if login == ServiceLogin {
		var member bool
		err := conn.QueryRow(ctx, `SELECT pg_has_role($1, $2, 'MEMBER')`, login, migrations.ServiceRole).Scan(&member)
		if err == nil && !member {
			if _, err = conn.Exec(ctx, "GRANT "+pgx.Identifier{migrations.ServiceRole}.Sanitize()+" TO "+role); duplicate(err) {
				err = nil
			}
		}
		if err != nil {
			t.Fatalf("testdb: make %s a member of %s: %v", login, migrations.ServiceRole, err)
		}
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	u.User = url.UserPassword(login, login)
	return u.String()
}

// quoteLiteral quotes a constant of this package as an SQL string literal.
func quoteLiteral(s string) string { return "'" + s + "'" }

// duplicate is a role, or a membership, made meanwhile by another test.
func duplicate(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "42710" || pgErr.Code == "23505")
}
