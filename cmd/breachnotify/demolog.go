package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/migrations"
	"github.com/breachnotify/breachnotify/notifier/app"
)

// demoLogger sends the service's own log (at the configured level) to a
// file and only its warnings and errors to the terminal: the demo polls
// its own API every 200 ms, and an INFO line per request buried the
// walkthrough. The caller closes the file and names it to the reader.
func demoLogger(cfg *config.Config, terminal io.Writer, path string) (*slog.Logger, *os.File, error) {
	var f *os.File
	var err error
	if path == "" {
		f, err = os.CreateTemp("", "breachnotify-demo-*.log")
	} else {
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("demo log file: %w", err)
	}
	full := app.NewLogger(cfg, f).Handler()
	warnings := slog.NewTextHandler(terminal, &slog.HandlerOptions{Level: slog.LevelWarn})
	return slog.New(slog.NewMultiHandler(full, warnings)), f, nil
}

// refuseForeignDatabase stops the demo before it changes anything in a
// database that holds someone else's tables (it used to add River's
// tables, then fail on the first name both use). A database that does
// not exist yet is fine: migrate creates it.
func refuseForeignDatabase(ctx context.Context, cfg *config.Config) error {
	if err := cfg.CheckMigrateURL(); err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, cfg.MigrateURL())
	if err != nil {
		return err
	}
	defer pool.Close()
	err = migrations.CheckOwnDatabase(ctx, pool)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "3D000": // invalid_catalog_name: no such database yet
		return nil
	case errors.Is(err, migrations.ErrForeignDatabase):
		name := pool.Config().ConnConfig.Database
		return fmt.Errorf("database %q: %w; the demo changed nothing in it. Point BREACHNOTIFY_DATABASE_URL at a new database (the demo creates it), e.g. postgres://postgres@127.0.0.1:5432/breachnotify_demo?sslmode=disable", name, err)
	}
	return err
}
