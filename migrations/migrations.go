// Package migrations owns the database schema: the application's numbered SQL
// files (embedded in the binary), River's own migrations, and the role the
// service works as. Migrate applies what is missing under an advisory lock,
// so concurrent runs are safe, and grants the role; Check tells a starting
// server whether the schema is current; AssumeServiceRole makes a pooled
// connection work as the role.
package migrations

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed sql/*.sql
var sqlFiles embed.FS

// ErrOutdated is returned by Check when migrations are missing.
var ErrOutdated = errors.New("database schema is out of date: run `breachnotify migrate`")

// lockKey is the advisory lock that serialises concurrent Migrate calls.
const lockKey = 0x6272_6e6f_7469_6679 // "brnotify"

// Migration is one embedded SQL file, named NNNN_description.sql.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// All returns the application's migrations in version order.
func All() ([]Migration, error) {
	entries, err := fs.ReadDir(sqlFiles, "sql")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and an underscore", name)
		}
		body, err := sqlFiles.ReadFile(path.Join("sql", name))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: strings.TrimSuffix(name, ".sql"), SQL: string(body)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share a version", ms[i-1].Name, ms[i].Name)
		}
	}
	return ms, nil
}

// Fingerprint identifies the full schema (application files, River's
// migration versions and the service role's privileges); test helpers use
// it to reuse a migrated template.
func Fingerprint() (string, error) {
	ms, err := All()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, m := range ms {
		fmt.Fprintf(h, "%d\x00%s\x00", m.Version, m.SQL)
	}
	rm, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	if err != nil {
		return "", err
	}
	for _, m := range rm.AllVersions() {
		fmt.Fprintf(h, "river%d\x00%s\x00", m.Version, m.SQLUp)
	}
	// The role's privileges are part of the schema a test gets.
	for _, stmt := range grantStatements("schema") {
		fmt.Fprintf(h, "grant\x00%s\x00", stmt)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Result says what Migrate did.
type Result struct {
	// Applied lists the application migrations applied by this run.
	Applied []string
	// RiverApplied lists River's migration versions applied by this run.
	RiverApplied []int
}

// Migrate applies River's and the application's missing migrations. Each
// application migration runs in its own transaction together with its
// bookkeeping row, so a failure leaves the schema at the previous version.
// Then it creates the service's role, ServiceRole, if missing, and grants
// it its privileges afresh. Running it again changes nothing. Run it as
// the schema owner.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (Result, error) {
	var res Result
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return res, fmt.Errorf("migrate: connect: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(lockKey)); err != nil {
		return res, fmt.Errorf("migrate: lock: %w", err)
	}
	defer func() {
		// A fresh context: the lock must be released even if ctx is done.
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(lockKey))
	}()

	rm, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return res, fmt.Errorf("migrate river: %w", err)
	}
	rr, err := rm.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return res, fmt.Errorf("migrate river: %w", err)
	}
	for _, v := range rr.Versions {
		res.RiverApplied = append(res.RiverApplied, v.Version)
	}

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return res, fmt.Errorf("migrate: bookkeeping table: %w", err)
	}
	applied, err := appliedVersions(ctx, conn.Conn())
	if err != nil {
		return res, err
	}
	ms, err := All()
	if err != nil {
		return res, err
	}
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn.Conn(), func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name)
			return err
		})
		if err != nil {
			return res, fmt.Errorf("migrate %s: %w", m.Name, err)
		}
		res.Applied = append(res.Applied, m.Name)
	}
	if err := ensureServiceRole(ctx, conn.Conn()); err != nil {
		return res, err
	}
	return res, nil
}

// Check returns ErrOutdated (wrapped with what is missing) unless every River
// and application migration has been applied.
func Check(ctx context.Context, pool *pgxpool.Pool) error {
	rm, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return err
	}
	vr, err := rm.Validate(ctx, nil)
	if err != nil {
		if isUndefinedTable(err) {
			return fmt.Errorf("%w (no River tables yet)", ErrOutdated)
		}
		return fmt.Errorf("check river schema: %w", err)
	}
	if !vr.OK {
		return fmt.Errorf("%w (River: %s)", ErrOutdated, strings.Join(vr.Messages, "; "))
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	applied, err := appliedVersions(ctx, conn.Conn())
	if err != nil {
		if isUndefinedTable(err) {
			return fmt.Errorf("%w (no application tables yet)", ErrOutdated)
		}
		return err
	}
	ms, err := All()
	if err != nil {
		return err
	}
	var missing []string
	for _, m := range ms {
		if !applied[m.Version] {
			missing = append(missing, m.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w (missing: %s)", ErrOutdated, strings.Join(missing, ", "))
	}
	return nil
}

func appliedVersions(ctx context.Context, conn *pgx.Conn) (map[int]bool, error) {
	rows, err := conn.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, err
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, err
	}
	applied := make(map[int]bool, len(versions))
	for _, v := range versions {
		applied[int(v)] = true
	}
	return applied, nil
}

// EnsureDatabase creates the database named in databaseURL when it does not
// exist, connecting to the server's "postgres" database to do so. It reports
// whether it created one.
func EnsureDatabase(ctx context.Context, databaseURL string) (bool, error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return false, fmt.Errorf("database URL: %w", err)
	}
	name := cfg.Database
	if name == "" {
		return false, errors.New("database URL names no database")
	}
	// Try the target first: the common case needs no maintenance connection.
	if conn, err := pgx.ConnectConfig(ctx, cfg); err == nil {
		_ = conn.Close(ctx)
		return false, nil
	} else if !isInvalidCatalog(err) {
		return false, fmt.Errorf("connect to database %q: %w", name, err)
	}
	admin := cfg.Copy()
	admin.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return false, fmt.Errorf("connect to server to create database %q: %w", name, err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database: a concurrent migrate won
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create database %q: %w", name, err)
	}
	return true, nil
}

func isInvalidCatalog(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "3D000"
}

func isUndefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}
