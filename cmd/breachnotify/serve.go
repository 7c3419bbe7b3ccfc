package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os/user"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/migrations"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app"
)

// shutdownGrace is how long in-flight sends get to finish on SIGINT/SIGTERM.
const shutdownGrace = 30 * time.Second

// cmdServe runs the HTTP API (with the customer pages) and the job
// workers. --api or --workers runs only one side, so API and worker
// processes can be scaled apart; every process serves /healthz, /readyz
// and /metrics.
func cmdServe(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	api := fs.Bool("api", false, "serve the HTTP API and customer pages (with --workers: both; neither: both)")
	workers := fs.Bool("workers", false, "work the delivery, follow-up and reminder jobs (with --api: both; neither: both)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{"serve takes no arguments, only --api and --workers"}
	}
	if !*api && !*workers {
		*api, *workers = true, true
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	a, err := app.New(ctx, cfg, app.Options{Logger: app.NewLogger(cfg, e.stderr), NoWorkers: !*workers, NoAPI: !*api})
	if err != nil {
		return err
	}
	if err := a.Start(ctx); err != nil {
		_ = a.Stop(context.Background())
		return err
	}
	if *workers {
		go logRelayCheck(ctx, a.Logger, cfg)
	}
	return serveUntilDone(ctx, a)
}

// serveUntilDone waits for a signal (ctx) or a server failure, then stops
// gracefully.
func serveUntilDone(ctx context.Context, a *app.App) error {
	var served error
	select {
	case <-ctx.Done():
		a.Logger.Info("shutting down", "grace", shutdownGrace.String())
	case served = <-a.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := a.Stop(sctx); err != nil {
		return err
	}
	return served
}

// migrate creates the database if needed and applies the migrations, as
// the schema owner (BREACHNOTIFY_MIGRATE_DATABASE_URL, else
// BREACHNOTIFY_DATABASE_URL); it also creates and grants the role the
// service works as.
func migrate(ctx context.Context, e *env, cfg *config.Config) error {
	if err := cfg.CheckMigrateURL(); err != nil {
		return err
	}
	created, err := migrations.EnsureDatabase(ctx, cfg.MigrateURL())
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintln(e.stdout, "created the database")
	}
	pool, err := pgxpool.New(ctx, cfg.MigrateURL())
	if err != nil {
		return err
	}
	defer pool.Close()
	res, err := migrations.Migrate(ctx, pool)
	if err != nil {
		return err
	}
	if len(res.Applied)+len(res.RiverApplied) == 0 {
		fmt.Fprintln(e.stdout, "schema is up to date")
	} else {
		fmt.Fprintf(e.stdout, "applied %d River and %d application migrations %v\n", len(res.RiverApplied), len(res.Applied), res.Applied)
	}
	// With a relay configured, what a development run captured (live
	// acknowledgement and sign-in links) must not survive into production.
	if !app.Capturing(cfg) {
		if _, err := app.PurgeCaptureMailbox(ctx, cfg, pool, notifier.LocalActor(osUser()), app.NewLogger(cfg, e.stderr)); err != nil {
			return err
		}
	}
	return nil
}

// cmdAPIKey manages API keys locally, with database access: it is how the
// first admin key is made. The audit trail records the operating system
// user as the actor.
func cmdAPIKey(ctx context.Context, e *env, args []string) error {
	const use = "usage: breachnotify apikey create --name NAME --role admin|operator|viewer | list | revoke ID"
	if len(args) == 0 {
		return usageError{use}
	}
	fs := flag.NewFlagSet("apikey "+args[0], flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	name := fs.String("name", "", "who or what the key is for (create)")
	role := fs.String("role", "", "admin, operator or viewer (create)")
	asJSON := fs.Bool("json", false, "print JSON (list)")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err.Error()}
	}
	switch {
	case args[0] == "create" && (*name == "" || *role == ""):
		return usageError{"--name and --role are required"}
	case args[0] == "revoke" && fs.NArg() != 1:
		return usageError{"usage: breachnotify apikey revoke ID"}
	case args[0] != "create" && args[0] != "list" && args[0] != "revoke":
		return usageError{use}
	}
	a, err := localApp(ctx, e)
	if err != nil {
		return err
	}
	defer a.Stop(context.Background())
	by := notifier.LocalActor(osUser())
	switch args[0] {
	case "create":
		key, k, err := a.Service.CreateAPIKey(ctx, by, *name, notifier.Role(*role))
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, key)
		fmt.Fprintf(e.stderr, "created API key %d (%s, %s); it is shown once: store it now\n", k.ID, k.Name, k.Role)
	case "list":
		keys, err := a.Service.APIKeys(ctx, by)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(e.stdout).Encode(keys)
		}
		t := newTable(e.stdout, "ID", "NAME", "ROLE", "PREFIX", "CREATED", "LAST USED", "REVOKED")
		for _, k := range keys {
			t.row(k.ID, k.Name, k.Role, k.Prefix, k.CreatedAt, k.LastUsedAt, k.RevokedAt)
		}
		return t.flush()
	case "revoke":
		id, ok := notifier.ParseInt(fs.Arg(0))
		if !ok {
			return usageError{"ID must be a key id (see apikey list)"}
		}
		k, err := a.Service.RevokeAPIKey(ctx, by, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "revoked API key %d (%s)\n", k.ID, k.Name)
	}
	return nil
}

// localApp opens the service without its workers, for a command run
// where the service runs, with its database and key files (apikey,
// evidence rewrap-keys). The caller stops it.
func localApp(ctx context.Context, e *env) (*app.App, error) {
	cfg, err := e.loadConfig()
	if err != nil {
		return nil, err
	}
	return app.New(ctx, cfg, app.Options{Logger: app.NewLogger(cfg, e.stderr), NoWorkers: true})
}

// osUser names who runs a local command, for the audit trail.
func osUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}
