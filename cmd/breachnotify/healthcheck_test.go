package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

func healthcheckEnv(addr string) (*env, *bytes.Buffer, *bytes.Buffer) {
	cfg := config.Default()
	cfg.HTTPAddr = addr
	var out, errOut bytes.Buffer
	return &env{stdout: &out, stderr: &errOut, loadConfig: func() (*config.Config, error) { return cfg, nil }}, &out, &errOut
}

// TestHealthcheck probes a real running service, then a server whose
// database is down (503), then nothing at all.
func TestHealthcheck(t *testing.T) {
	t.Parallel()
	srv := apptest.Start(t, apptest.Options{NoWorkers: true})
	addr := strings.TrimPrefix(srv.App.URL(), "http://")
	for _, args := range [][]string{{"healthcheck"}, {"healthcheck", "--live"}} {
		e, out, errOut := healthcheckEnv(addr)
		if code := run(context.Background(), e, args); code != 0 || !strings.Contains(out.String(), ": ok") {
			t.Errorf("%v on a running service: exit %d, %q %q", args, code, out, errOut)
		}
	}

	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer down.Close()
	e, _, errOut := healthcheckEnv(strings.TrimPrefix(down.URL, "http://"))
	if code := run(context.Background(), e, []string{"healthcheck"}); code != 1 || !strings.Contains(errOut.String(), "503") {
		t.Errorf("not ready: exit %d, %q", code, errOut)
	}
	e, _, _ = healthcheckEnv(strings.TrimPrefix(down.URL, "http://"))
	if code := run(context.Background(), e, []string{"healthcheck", "--live"}); code != 0 {
		t.Errorf("--live on a running process whose database is down: exit %d", code)
	}
	down.Close()
	e, _, _ = healthcheckEnv(strings.TrimPrefix(down.URL, "http://"))
	if code := run(context.Background(), e, []string{"healthcheck", "--timeout", "2s"}); code != 1 {
		t.Errorf("nothing listening: exit %d", code)
	}
}

func TestLocalAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0:8080":   "127.0.0.1:8080",
		":8080":          "127.0.0.1:8080",
		"[::]:8080":      "[::1]:8080",
		"10.1.2.3:8080":  "10.1.2.3:8080",
		"127.0.0.1:9000": "127.0.0.1:9000",
	} {
		if got := localAddr(in); got != want {
			t.Errorf("localAddr(%q) = %q, want %q", in, got, want)
		}
	}
}
