package migrations

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// Status is where a database's schema stands: each application migration
// and whether it is applied, and River's own check.
type Status struct {
	// Migrations are the application's migrations in version order.
	Migrations []MigrationState `json:"migrations"`
	// Pending counts the application migrations not yet applied.
	Pending int `json:"pending"`
	// RiverOK says River's migrations are all applied; RiverMessages says
	// what River found missing otherwise.
	RiverOK       bool     `json:"river_ok"`
	RiverMessages []string `json:"river_messages"`
}

// MigrationState is one application migration and whether it is applied.
type MigrationState struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
	Applied bool   `json:"applied"`
}

// ReadStatus reads the schema's state without changing anything. A
// database without the migrations table has every migration pending.
func ReadStatus(ctx context.Context, pool *pgxpool.Pool) (Status, error) {
	var st Status
	rm, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return st, err
	}
	vr, err := rm.Validate(ctx, nil)
	switch {
	case err != nil && isUndefinedTable(err):
		st.RiverMessages = []string{"no River tables yet"}
	case err != nil:
		return st, fmt.Errorf("check river schema: %w", err)
	default:
		st.RiverOK, st.RiverMessages = vr.OK, vr.Messages
	}
	if st.RiverMessages == nil {
		st.RiverMessages = []string{}
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return st, err
	}
	defer conn.Release()
	applied, err := appliedVersions(ctx, conn.Conn())
	if err != nil && !isUndefinedTable(err) {
		return st, err
	}
	ms, err := All()
	if err != nil {
		return st, err
	}
	for _, m := range ms {
		st.Migrations = append(st.Migrations, MigrationState{Version: m.Version, Name: m.Name, Applied: applied[m.Version]})
		if !applied[m.Version] {
			st.Pending++
		}
	}
	return st, nil
}

// ErrForeignDatabase is returned by CheckOwnDatabase for a database that
// holds tables but not breachnotify's bookkeeping table: someone else's.
var ErrForeignDatabase = errors.New("the database holds tables that are not breachnotify's")

// CheckOwnDatabase refuses a database whose schema holds tables without
// breachnotify's schema_migrations: migrating it would add River's and our
// tables among someone else's (and fail half-way on a name they share).
// It reads the catalogue only. An empty database, or one breachnotify
// migrated before, passes.
func CheckOwnDatabase(ctx context.Context, pool *pgxpool.Pool) error {
	const q = `SELECT table_name::text FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
		ORDER BY (table_name = 'schema_migrations') DESC, table_name LIMIT 6`
	rows, err := pool.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("list the database's tables: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("list the database's tables: %w", err)
	}
	if len(names) == 0 || names[0] == "schema_migrations" {
		return nil
	}
	if len(names) > 5 {
		names = append(names[:5], "…")
	}
	return fmt.Errorf("%w (%s)", ErrForeignDatabase, strings.Join(names, ", "))
}
