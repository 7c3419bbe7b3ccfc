package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/config"
)

// TestLogRelayCheck: the line serve logs at start for a relay that
// refuses the login names what it offers, what was tried, its answer and
// the fix, and never the password.
func TestLogRelayCheck(t *testing.T) {
	t.Parallel()
	host, port := plainRelay(t, "alice", "s3cret")
	cfg := config.Default()
	cfg.SMTPTimeout = 5 * time.Second
	check := func(password string) map[string]any {
		t.Helper()
		cfg.SMTP = &config.SMTP{Host: host, Port: port, TLS: "none", Username: "alice", Password: password, Auth: config.SMTPAuthPlain, InsecureAuth: true}
		var buf bytes.Buffer
		logRelayCheck(t.Context(), slog.New(slog.NewJSONHandler(&buf, nil)), cfg)
		if strings.Contains(buf.String(), password) {
			t.Errorf("the log shows the password: %s", buf.String())
		}
		var line map[string]any
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatalf("%q: %v", buf.String(), err)
		}
		return line
	}
	line := check("wrong-password")
	if line["level"] != "ERROR" || !strings.HasPrefix(line["msg"].(string), "relay authentication failed") ||
		line["offered"] != "PLAIN" || line["tried"] != "PLAIN" || !strings.HasPrefix(line["reply"].(string), "535") ||
		!strings.Contains(line["fix"].(string), "check the user name and password") {
		t.Errorf("wrong password logged as %v", line)
	}
	line = check("s3cret")
	if line["level"] != "INFO" || line["msg"] != "relay ready" || line["auth"] != "PLAIN" {
		t.Errorf("good password logged as %v", line)
	}
}
