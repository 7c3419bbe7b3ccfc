// Package testdb gives each test a fresh, fully migrated PostgreSQL database,
// cloned by pgtestdb from a template that is migrated once per schema version.
// It talks to the server in BREACHNOTIFY_TEST_DATABASE_URL (default: the local
// PostgreSQL as user postgres).
package testdb

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver pgtestdb uses
	"github.com/peterldowns/pgtestdb"

	"github.com/breachnotify/breachnotify/migrations"
)

// DefaultServerURL is the PostgreSQL server tests use unless
// BREACHNOTIFY_TEST_DATABASE_URL says otherwise.
const DefaultServerURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// New returns a pool on a new database with every migration applied. The
// database is dropped when the test passes and kept for inspection when it fails.
func New(t testing.TB, maxConns int32) *pgxpool.Pool {
	t.Helper()
	conf := Config(t)
	pc, err := pgxpool.ParseConfig(conf.URL())
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	if maxConns > 0 {
		pc.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

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
