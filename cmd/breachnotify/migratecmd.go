package main

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/breachnotify/breachnotify/migrations"
)

// migrateDownRefusal says why there is no down: several migrations drop
// or rewrite data (and River's own are not ours to reverse), so a down
// could not restore what was there; a backup can.
const migrateDownRefusal = `migrate down is refused: migrations only go forward (several drop or rewrite
data, so undoing them could not restore it). To go back, restore the database
from the backup taken before the upgrade and run the previous release.
` + "`breachnotify migrate status`" + ` shows where the schema stands.`

// migrateCommand is `migrate` (apply, as before), `migrate up` (the same),
// `migrate status` and a refused `migrate down`.
func migrateCommand(ctx context.Context, e *env) *cobra.Command {
	up := func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageError{fmt.Sprintf("unknown verb %q: migrate takes up, status or down (refused)", args[0])}
		}
		cfg, err := e.loadConfig()
		if err != nil {
			return err
		}
		return migrate(ctx, e, cfg)
	}
	m := &cobra.Command{
		Use:   "migrate [up|status]",
		Short: "create the database if needed, apply migrations, grant the service's role",
		Long: `Create the database if needed, apply River's and the application's migrations
(as BREACHNOTIFY_MIGRATE_DATABASE_URL, else BREACHNOTIFY_DATABASE_URL) and grant
the role the service works as. Safe to run again: it applies only what is missing.

  breachnotify migrate          apply the migrations (same as migrate up)
  breachnotify migrate status   list the migrations and which are applied (-o json|yaml)
  breachnotify migrate down     refused: migrations only go forward (restore a backup instead)`,
		Args: cobra.ArbitraryArgs,
		RunE: up,
	}
	m.AddCommand(
		&cobra.Command{Use: "up", Short: "apply the migrations (same as migrate)", Args: cobra.NoArgs, RunE: up},
		&cobra.Command{Use: "status", Short: "list the migrations and which are applied", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error { return migrateStatus(ctx, e) }},
		&cobra.Command{Use: "down", Short: "refused: migrations only go forward", DisableFlagParsing: true,
			RunE: func(cmd *cobra.Command, args []string) error {
				if wantsHelp(args) {
					fmt.Fprintf(cmd.OutOrStdout(), "usage: breachnotify migrate down   (refused)\n\n%s\n", migrateDownRefusal)
					return nil
				}
				return usageError{migrateDownRefusal}
			}},
	)
	return m
}

// migrateStatus prints the schema's state without changing it.
func migrateStatus(ctx context.Context, e *env) error {
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	if err := cfg.CheckMigrateURL(); err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, cfg.MigrateURL())
	if err != nil {
		return err
	}
	defer pool.Close()
	st, err := migrations.ReadStatus(ctx, pool)
	if err != nil {
		return err
	}
	if done, err := printStructured(e, st); done {
		return err
	}
	river := "all applied"
	if !st.RiverOK {
		river = fmt.Sprint(st.RiverMessages)
	}
	fmt.Fprintf(e.stdout, "application migrations: %d applied, %d pending; River: %s\n\n",
		len(st.Migrations)-st.Pending, st.Pending, river)
	t := newTable(e.stdout, "VERSION", "NAME", "APPLIED")
	for _, m := range st.Migrations {
		t.row(m.Version, m.Name, m.Applied)
	}
	return t.flush()
}
