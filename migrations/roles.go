package migrations

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ServiceRole is the database role every process of the service works as
// (serve, and the app inside demo, bench and apikey). It owns nothing, so
// it cannot ALTER, DROP or disable a trigger on anything; on the audit
// tables it may only read and insert. `migrate`, which connects as the
// schema owner, creates it and grants it what it needs on every run.
const ServiceRole = "breachnotify_service"

// appendOnlyTables are the tables the service may read and add to, and
// nothing else: the audit chain and its checkpoints.
var appendOnlyTables = []string{"audit_log", "audit_checkpoints"}

// readOnlyTables are migrate's own bookkeeping: the service reads them to
// check that the schema is current.
var readOnlyTables = []string{"schema_migrations", "river_migration"}

// ensureServiceRole creates ServiceRole when it is missing, makes the
// migrating user a member (so an owner's connection can SET ROLE to it),
// and grants it its privileges afresh.
func ensureServiceRole(ctx context.Context, conn *pgx.Conn) error {
	if err := createServiceRole(ctx, conn); err != nil {
		return err
	}
	if err := joinServiceRole(ctx, conn); err != nil {
		return err
	}
	return grantServiceRole(ctx, conn)
}

// createServiceRole creates the role unless it exists. Roles belong to the
// whole server, not to one database, and no lock spans databases: several
// databases migrating at once (tests do) race to create it, and the losers
// get a duplicate error, which means it is there.
func createServiceRole(ctx context.Context, conn *pgx.Conn) error {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, ServiceRole).Scan(&exists); err != nil {
		return fmt.Errorf("migrate: look up role %s: %w", ServiceRole, err)
	}
	if exists {
		return nil
	}
	_, err := conn.Exec(ctx, "CREATE ROLE "+pgx.Identifier{ServiceRole}.Sanitize()+" NOLOGIN")
	switch code := pgCode(err); {
	case err == nil, code == "42710", code == "23505": // duplicate_object, unique_violation
		return nil
	case code == "42501": // insufficient_privilege
		return fmt.Errorf("migrate: create role %s: %w; the user migrate connects as (%s) may not create roles: as a superuser, run CREATE ROLE %s NOLOGIN; GRANT %s TO %s",
			ServiceRole, err, conn.Config().User, ServiceRole, ServiceRole, conn.Config().User)
	default:
		return fmt.Errorf("migrate: create role %s: %w", ServiceRole, err)
	}
}

// joinServiceRole grants ServiceRole to the migrating user, once.
func joinServiceRole(ctx context.Context, conn *pgx.Conn) error {
	member := func() (bool, error) {
		var ok bool
		err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_auth_members
			WHERE roleid = (SELECT oid FROM pg_roles WHERE rolname = $1)
			  AND member = (SELECT oid FROM pg_roles WHERE rolname = current_user))`, ServiceRole).Scan(&ok)
		return ok, err
	}
	ok, err := member()
	if err != nil {
		return fmt.Errorf("migrate: membership of %s: %w", ServiceRole, err)
	}
	if ok {
		return nil
	}
	_, err = conn.Exec(ctx, "GRANT "+pgx.Identifier{ServiceRole}.Sanitize()+" TO CURRENT_USER")
	if err != nil {
		// Granted meanwhile by a migrate of another database?
		if now, merr := member(); merr == nil && now {
			return nil
		}
		return fmt.Errorf("migrate: grant role %s to %s: %w; as a superuser, run GRANT %s TO %s",
			ServiceRole, conn.Config().User, err, ServiceRole, conn.Config().User)
	}
	return nil
}

// grantServiceRole sets the role's privileges on the current schema from
// scratch, in one transaction (a running service never sees them missing):
// read and write every table and use its sequences, except read-and-insert
// on the audit tables and read on the bookkeeping. Doing it on every run
// covers the tables each new migration (River's too) adds.
func grantServiceRole(ctx context.Context, conn *pgx.Conn) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		var schema string
		if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			return fmt.Errorf("migrate: current schema: %w", err)
		}
		for _, stmt := range grantStatements(schema) {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("migrate: privileges of role %s: %w", ServiceRole, err)
			}
		}
		return nil
	})
}

// grantStatements set the role's privileges on schema from scratch.
func grantStatements(schema string) []string {
	s, r := pgx.Identifier{schema}.Sanitize(), pgx.Identifier{ServiceRole}.Sanitize()
	return []string{
		"REVOKE ALL ON ALL TABLES IN SCHEMA " + s + " FROM " + r,
		"REVOKE ALL ON ALL SEQUENCES IN SCHEMA " + s + " FROM " + r,
		"GRANT USAGE ON SCHEMA " + s + " TO " + r,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA " + s + " TO " + r,
		// nextval needs USAGE; nothing in the service sets a sequence.
		"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA " + s + " TO " + r,
		"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA " + s + " TO " + r,
		"REVOKE UPDATE, DELETE ON " + tables(schema, appendOnlyTables) + " FROM " + r,
		"REVOKE INSERT, UPDATE, DELETE ON " + tables(schema, readOnlyTables) + " FROM " + r,
	}
}

// tables is a comma-separated list of schema-qualified, quoted table names.
func tables(schema string, names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += pgx.Identifier{schema, n}.Sanitize()
	}
	return out
}

// AssumeServiceRole makes a new connection work as ServiceRole, unless it
// already does (a login role whose default is that role). Give it to
// pgxpool.Config.AfterConnect: every pooled connection of the service then
// has only the role's privileges. A user that cannot become the role gets
// an error saying what to run.
func AssumeServiceRole(ctx context.Context, conn *pgx.Conn) error {
	var role string
	err := conn.QueryRow(ctx, `SELECT CASE WHEN current_user = $1 THEN current_user::text ELSE set_config('role', $1, false) END`, ServiceRole).Scan(&role)
	user := conn.Config().User
	switch code := pgCode(err); {
	case err == nil:
		return nil
	case code == "22023": // invalid_parameter_value: no such role
		return fmt.Errorf("database: the role %s does not exist: run `breachnotify migrate` (it creates the role): %w", ServiceRole, err)
	case code == "42501":
		return fmt.Errorf("database: user %s may not act as the role %s: as the schema owner, run GRANT %s TO %s (`breachnotify migrate` grants it to the user it runs as): %w",
			user, ServiceRole, ServiceRole, user, err)
	default:
		return fmt.Errorf("database: act as the role %s: %w", ServiceRole, err)
	}
}

// RequireServiceRole checks that a new connection already works as
// ServiceRole, without switching: give it to pgxpool.Config.AfterConnect
// behind a pooler in transaction mode (PgBouncer), which runs each
// transaction on any of its server connections, so a role set by one
// session would hold on one server connection and be missing on the
// others. The login role's default role must do it instead, on every
// server connection the pooler opens.
func RequireServiceRole(ctx context.Context, conn *pgx.Conn) error {
	var role, user, db string
	if err := conn.QueryRow(ctx, `SELECT current_user::text, session_user::text, current_database()::text`).Scan(&role, &user, &db); err != nil {
		return fmt.Errorf("database: check the role: %w", err)
	}
	if role == ServiceRole {
		return nil
	}
	return fmt.Errorf("database: the connection works as %s, not as the role %s, and behind a pooler (BREACHNOTIFY_DATABASE_POLL_ONLY) it cannot switch per session: "+
		"as a superuser, run ALTER ROLE %s IN DATABASE %s SET role = %s (and GRANT %s TO %s if it is not a member yet)",
		role, ServiceRole, pgx.Identifier{user}.Sanitize(), pgx.Identifier{db}.Sanitize(), ServiceRole, ServiceRole, pgx.Identifier{user}.Sanitize())
}

// Login describes the user a connection logged in as, for `doctor`: whether
// it can work as ServiceRole, and whether it could also undo that.
type Login struct {
	// User is the session user (what the connection string names).
	User string
	// Superuser can do anything, SET ROLE or not.
	Superuser bool
	// OwnsSchema is true when the user owns the audit table, or may act as
	// its owner: it could alter the table and disable its triggers.
	OwnsSchema bool
	// RoleExists and CanAssume say whether ServiceRole exists and the user
	// may become it.
	RoleExists bool
	CanAssume  bool
}

// InspectLogin describes the connection's session user.
func InspectLogin(ctx context.Context, conn *pgx.Conn) (Login, error) {
	var l Login
	err := conn.QueryRow(ctx, `SELECT session_user::text, r.rolsuper,
		coalesce((SELECT pg_has_role(session_user, c.relowner, 'MEMBER') FROM pg_class c WHERE c.oid = to_regclass('audit_log')), false),
		EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1),
		EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1 AND pg_has_role(session_user, oid, 'MEMBER'))
		FROM pg_roles r WHERE r.rolname = session_user`, ServiceRole).Scan(&l.User, &l.Superuser, &l.OwnsSchema, &l.RoleExists, &l.CanAssume)
	if err != nil {
		return l, fmt.Errorf("inspect the database user: %w", err)
	}
	return l, nil
}

func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}
