package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/migrations"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app"
)

// shutdownGrace is how long in-flight sends get to finish on SIGINT/SIGTERM.
const shutdownGrace = 30 * time.Second

func cmdServe(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	a, err := app.New(ctx, cfg, app.Options{Logger: app.NewLogger(cfg, e.stderr)})
	if err != nil {
		return err
	}
	if err := a.Start(ctx); err != nil {
		_ = a.Stop(context.Background())
		return err
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

func cmdMigrate(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	return migrate(ctx, e, cfg)
}

func migrate(ctx context.Context, e *env, cfg *config.Config) error {
	created, err := migrations.EnsureDatabase(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintln(e.stdout, "created the database")
	}
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
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
		return nil
	}
	fmt.Fprintf(e.stdout, "applied %d River and %d application migrations %v\n", len(res.RiverApplied), len(res.Applied), res.Applied)
	return nil
}

func cmdAPIKey(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return usageError{"usage: breachnotify apikey create --name NAME --role admin|operator|viewer"}
	}
	fs := flag.NewFlagSet("apikey create", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	name := fs.String("name", "", "who or what the key is for")
	role := fs.String("role", "", "admin, operator or viewer")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err.Error()}
	}
	if *name == "" || *role == "" {
		return usageError{"--name and --role are required"}
	}
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	a, err := app.New(ctx, cfg, app.Options{Logger: app.NewLogger(cfg, e.stderr), NoWorkers: true})
	if err != nil {
		return err
	}
	defer a.Stop(context.Background())
	key, k, err := a.Service.CreateAPIKey(ctx, *name, notifier.Role(*role))
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, key)
	fmt.Fprintf(e.stderr, "created API key %d (%s, %s); it is shown once: store it now\n", k.ID, k.Name, k.Role)
	return nil
}
