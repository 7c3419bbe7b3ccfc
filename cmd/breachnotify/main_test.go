package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/migrations/testdb"
)

func testEnv(t *testing.T) (*env, *bytes.Buffer, *bytes.Buffer) {
	cfg := config.Default()
	cfg.DatabaseURL = testdb.URL(t)
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.LogLevel = "warn"
	var out, errOut bytes.Buffer
	return &env{stdout: &out, stderr: &errOut, loadConfig: func() (*config.Config, error) { return cfg, nil }}, &out, &errOut
}

func TestDemoOnce(t *testing.T) {
	t.Parallel()
	e, out, errOut := testEnv(t)
	if code := run(context.Background(), e, []string{"demo", "--once"}); code != 0 {
		t.Fatalf("demo exited %d: %s", code, errOut)
	}
	for _, want := range []string{"wave 1: completed; 7 organizations notified", "sent=12", "failed=0", "/api/v1/mailbox"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestMigrateTwiceAndAPIKey(t *testing.T) {
	t.Parallel()
	e, out, errOut := testEnv(t)
	if code := run(context.Background(), e, []string{"migrate"}); code != 0 || !strings.Contains(out.String(), "up to date") {
		t.Fatalf("migrate on a migrated database: %d %q %q", code, out, errOut)
	}
	out.Reset()
	if code := run(context.Background(), e, []string{"apikey", "create", "--name", "ci", "--role", "viewer"}); code != 0 {
		t.Fatalf("apikey create: %d %s", code, errOut)
	}
	if key := strings.TrimSpace(out.String()); !strings.HasPrefix(key, "bn_") || strings.Contains(key, "\n") {
		t.Errorf("stdout = %q, want just the key", key)
	}
	if code := run(context.Background(), e, []string{"apikey", "create", "--name", "ci", "--role", "root"}); code == 0 {
		t.Error("accepted an unknown role")
	}
	if code := run(context.Background(), e, []string{"frobnicate"}); code != 2 {
		t.Errorf("unknown command exited %d, want 2", code)
	}
}
