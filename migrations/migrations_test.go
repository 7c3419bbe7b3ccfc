package migrations_test

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/breachnotify/breachnotify/migrations"
	"github.com/breachnotify/breachnotify/migrations/testdb"
)

// TestMigrateCreatesAndIsIdempotent runs the real path on an empty database:
// EnsureDatabase creates it, Migrate fills it, a second run changes nothing.
func TestMigrateCreatesAndIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin, err := pgx.ParseConfig(testdb.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	name := "bn_migrate_test_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	// Cleanup runs after the deferred Close, so it needs a connection of its own.
	t.Cleanup(func() {
		c, err := pgx.ConnectConfig(context.Background(), admin)
		if err != nil {
			t.Errorf("drop %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	u, _ := url.Parse(testdb.ServerURL())
	u.Path = "/" + name
	dbURL := u.String()
	created, err := migrations.EnsureDatabase(ctx, dbURL)
	if err != nil || !created {
		t.Fatalf("EnsureDatabase = %v, %v; want created", created, err)
	}
	if created, err := migrations.EnsureDatabase(ctx, dbURL); err != nil || created {
		t.Fatalf("second EnsureDatabase = %v, %v; want nothing to do", created, err)
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := migrations.Check(ctx, pool); !errors.Is(err, migrations.ErrOutdated) {
		t.Fatalf("Check on an empty database = %v, want ErrOutdated", err)
	}
	res, err := migrations.Migrate(ctx, pool)
	if err != nil || len(res.Applied) == 0 || len(res.RiverApplied) == 0 {
		t.Fatalf("Migrate = %+v, %v", res, err)
	}
	if err := migrations.Check(ctx, pool); err != nil {
		t.Fatalf("Check after Migrate = %v", err)
	}
	again, err := migrations.Migrate(ctx, pool)
	if err != nil || len(again.Applied) != 0 || len(again.RiverApplied) != 0 {
		t.Fatalf("second Migrate = %+v, %v; want nothing applied", again, err)
	}
	// Migrations 0004 and 0009 dropped the foreign keys that pointed at
	// notices, contacts and deliveries, for throughput; that is safe only
	// because those rows can never be deleted.
	for _, table := range []string{"notices", "contacts", "deliveries"} {
		for _, stmt := range []string{"DELETE FROM " + table, "TRUNCATE " + table + " CASCADE"} {
			if _, err := pool.Exec(ctx, stmt); err == nil {
				t.Errorf("%s was allowed", stmt)
			}
		}
	}
}

// TestMigrationFilesAreNumbered: versions start at 1 and rise. Gaps are
// allowed: work on parallel branches is given its numbers in advance, and
// the one given a lower number may land later (All refuses duplicates).
func TestMigrationFilesAreNumbered(t *testing.T) {
	t.Parallel()
	ms, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].Version != 1 {
		t.Fatalf("migrations %v do not start at version 1", ms)
	}
	for i := 1; i < len(ms); i++ {
		if ms[i].Version <= ms[i-1].Version {
			t.Errorf("migration %s has version %d, not above %d", ms[i].Name, ms[i].Version, ms[i-1].Version)
		}
	}
}

// TestMigrateGrantsTheServiceRole: migrate makes the role the service works
// as, owning nothing, able to read and write the tables but only to read
// and add to the audit trail and to read migrate's bookkeeping; and it
// puts the privileges back on every run.
func TestMigrateGrantsTheServiceRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testdb.URL(t)) // as the owner, who ran Migrate
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	var login, super, member bool
	var owned int
	if err := pool.QueryRow(ctx, `SELECT r.rolcanlogin, r.rolsuper,
		pg_has_role(current_user, r.oid, 'MEMBER'),
		(SELECT count(*) FROM pg_class WHERE relowner = r.oid)
		FROM pg_roles r WHERE r.rolname = $1`, migrations.ServiceRole).Scan(&login, &super, &member, &owned); err != nil {
		t.Fatalf("role %s: %v", migrations.ServiceRole, err)
	}
	if login || super || !member || owned != 0 {
		t.Errorf("role: login %v, superuser %v, migrating user a member %v, owns %d objects; want false, false, true, 0", login, super, member, owned)
	}

	privileges := func() map[string]string {
		rows, err := pool.Query(ctx, `SELECT tablename, concat_ws(',',
			CASE WHEN has_table_privilege($1, c.oid, 'SELECT') THEN 'SELECT' END,
			CASE WHEN has_table_privilege($1, c.oid, 'INSERT') THEN 'INSERT' END,
			CASE WHEN has_table_privilege($1, c.oid, 'UPDATE') THEN 'UPDATE' END,
			CASE WHEN has_table_privilege($1, c.oid, 'DELETE') THEN 'DELETE' END,
			CASE WHEN has_table_privilege($1, c.oid, 'TRUNCATE') THEN 'TRUNCATE' END,
			CASE WHEN has_table_privilege($1, c.oid, 'REFERENCES') THEN 'REFERENCES' END,
			CASE WHEN has_table_privilege($1, c.oid, 'TRIGGER') THEN 'TRIGGER' END)
			FROM pg_tables t JOIN pg_class c ON c.oid = (quote_ident(t.schemaname) || '.' || quote_ident(t.tablename))::regclass
			WHERE t.schemaname = current_schema()`, migrations.ServiceRole)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for rows.Next() {
			var table, privs string
			if err := rows.Scan(&table, &privs); err != nil {
				t.Fatal(err)
			}
			got[table] = privs
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return got
	}
	check := func(when string) {
		t.Helper()
		got := privileges()
		for _, table := range []string{"audit_log", "audit_checkpoints", "deliveries", "river_job", "river_leader", "settings", "schema_migrations", "river_migration"} {
			if _, ok := got[table]; !ok {
				t.Errorf("%s: no table %s", when, table)
			}
		}
		for table, privs := range got {
			want := "SELECT,INSERT,UPDATE,DELETE"
			switch table {
			case "audit_log", "audit_checkpoints":
				want = "SELECT,INSERT"
			case "schema_migrations", "river_migration":
				want = "SELECT"
			}
			if privs != want {
				t.Errorf("%s: %s on %s: %s, want %s", when, migrations.ServiceRole, table, privs, want)
			}
		}
	}
	check("after migrate")

	// Privileges granted by hand, or left by an older version, are taken
	// back by the next migrate.
	if _, err := pool.Exec(ctx, `GRANT UPDATE, DELETE, TRUNCATE ON audit_log TO `+migrations.ServiceRole); err != nil {
		t.Fatal(err)
	}
	if _, err := migrations.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	check("after a second migrate")
}
