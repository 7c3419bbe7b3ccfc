package main

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/migrations/testdb"
)

// TestDemoRefusesForeignDatabase: a database holding someone else's tables
// is refused before the demo adds anything (River's tables included).
func TestDemoRefusesForeignDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, out, errOut := testEnv(t)
	cfg, _ := e.loadConfig()
	name := "bn_foreign_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	admin, err := pgx.Connect(ctx, testdb.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	admin.Close(ctx)
	u, _ := url.Parse(testdb.ServerURL())
	u.Path = "/" + name
	cfg.DatabaseURL = u.String()
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), testdb.ServerURL())
		if err != nil {
			t.Errorf("drop %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	foreign, err := pgx.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer foreign.Close(ctx)
	if _, err := foreign.Exec(ctx, "CREATE TABLE organizations (id int); CREATE TABLE invoices (id int)"); err != nil {
		t.Fatal(err)
	}

	if code := run(ctx, e, []string{"demo", "--once"}); code != exitError {
		t.Errorf("demo on a foreign database exited %d", code)
	}
	if got := errOut.String(); !strings.Contains(got, "not breachnotify's (invoices, organizations)") || !strings.Contains(got, "changed nothing") {
		t.Errorf("stderr = %q", got)
	}
	var tables []string
	rows, _ := foreign.Query(ctx, "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")
	tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || strings.Join(tables, ",") != "invoices,organizations" {
		t.Errorf("tables after the refusal: %v %v (stdout %q)", tables, err, out)
	}
}
