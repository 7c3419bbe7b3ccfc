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
