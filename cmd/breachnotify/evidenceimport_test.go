package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/apiclient"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/vault"
	"github.com/breachnotify/breachnotify/notifier/webhook"
)

// TestEvidenceImportVerb imports a folder holding a Maildir, an mbox and
// a zip of .eml files in one run, as IR staff would hand over what they
// recovered, and checks the import's table and that a second run adds
// nothing.
func TestEvidenceImportVerb(t *testing.T) {
	t.Parallel()
	e, c := startWithEvidenceKey(t)
	slug := e.LoadSample(t, "recovered")

	msg := func(from, subject string) []byte {
		return fmt.Appendf(nil, "From: %s\nTo: archive@elsewhere.example\nSubject: %s\nMessage-ID: <%s@x.example>\n\nText.\n", from, subject, subject)
	}
	root := t.TempDir()
	maildir := filepath.Join(root, "Maildir")
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(maildir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(maildir, "cur"), "1.mail:2,S", msg("a@contoso.example", "maildir-1"))
	writeFile(t, filepath.Join(maildir, "new"), "2.mail", msg("b@fabrikam.example", "maildir-2"))
	writeFile(t, filepath.Join(maildir, "tmp"), "3.mail", msg("c@contoso.example", "being-delivered"))
	var mbox bytes.Buffer
	for _, s := range []string{"mbox-1", "mbox-2"} {
		mbox.WriteString("From x@y Mon Nov  2 09:00:00 2026\n")
		mbox.Write(msg("d@litware.example", s))
		mbox.WriteString("\n")
	}
	writeFile(t, root, "export.mbox", mbox.Bytes())
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	for _, s := range []string{"zip-1", "zip-2"} {
		f, _ := zw.Create("mail/" + s + ".eml")
		f.Write(msg("e@northwind.example", s))
	}
	zw.Close()
	writeFile(t, root, "takeout.zip", zbuf.Bytes())

	var imp notifier.EvidenceImport
	c.json(&imp, "evidence", "import", slug, root)
	if imp.Messages != 6 || imp.Stored != 6 || imp.Batch == nil || imp.Batch.ItemsNew != 6 {
		t.Fatalf("import %+v (the Maildir's tmp is skipped: 6 messages)", imp)
	}
	out := c.ok("evidence", "import", slug, root)
	matches(t, "second import", out, `IMPORT\s+MESSAGES\s+STORED\s+KNOWN`, `\d+\s+6\s+0\s+6\s+0\s+0\s+\d+\s+0`)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := e.Client.EvidenceImports(ctx, slug)
	if err != nil || len(list) != 2 {
		t.Fatalf("imports %+v, %v", list, err)
	}
	if r := c.run("evidence", "import", slug); r.code != 2 {
		t.Errorf("evidence import without a path exited %d, want 2", r.code)
	}
}

// TestEvidenceRewrapKeys rotates the evidence master key: with a new key
// put first in the key file, rewrap-keys wraps every incident's key with
// it, so the old key can leave the file.
func TestEvidenceRewrapKeys(t *testing.T) {
	t.Parallel()
	const oldKey, newKey = "q2yzgEn0Sg8MFLoN7hVykQyQ4B9Ss1dL4f0kM8dr6Yw=", "3f8a2b6c4d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a"
	keyFile := filepath.Join(t.TempDir(), "evidence.keys")
	writeFile(t, filepath.Dir(keyFile), "evidence.keys", []byte(oldKey+"\n"))
	e := apptest.Start(t, apptest.Options{NoWorkers: true, Configure: func(c *config.Config) { c.EvidenceKeyFile = keyFile }})
	slug := e.LoadSample(t, "rotate")
	mail := "From: a@contoso.example\nTo: b@elsewhere.example\nSubject: s\n\nbody\n"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := e.Client.ImportEvidence(ctx, slug, "one.eml", strings.NewReader(mail), int64(len(mail))); err != nil {
		t.Fatal(err)
	}
	// A webhook secret sealed under the old master key is rewrapped too.
	hookURL := "https://hooks.example.com/in"
	if _, err := e.App.Webhooks.CreateEndpoint(ctx, notifier.LocalActor("test"), webhook.EndpointInput{URL: &hookURL}); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Dir(keyFile), "evidence.keys", []byte(newKey+"\n"+oldKey+"\n"))
	c := cli{t: t, url: e.App.URL(), key: e.Key, configure: func(cfg *config.Config) {
		cfg.DatabaseURL, cfg.EvidenceKeyFile = e.App.Config.DatabaseURL, keyFile
	}}
	contains(t, "rewrap-keys", c.ok("evidence", "rewrap-keys"), "rewrapped 1 incident keys and 1 webhook secrets")
	ring, err := vault.ParseKeyFile([]byte(newKey))
	if err != nil {
		t.Fatal(err)
	}
	var master string
	if err := e.App.Pool.QueryRow(ctx, `SELECT master_id FROM incident_keys`).Scan(&master); err != nil || master != ring.CurrentID() {
		t.Fatalf("incident key wrapped by %q, %v; want the new key %s", master, err, ring.CurrentID())
	}
	if err := e.App.Pool.QueryRow(ctx, `SELECT master_id FROM webhook_secrets`).Scan(&master); err != nil || master != ring.CurrentID() {
		t.Fatalf("webhook secret wrapped by %q, %v; want the new key %s", master, err, ring.CurrentID())
	}
	contains(t, "second rewrap", c.ok("evidence", "rewrap-keys"), "rewrapped 0 incident keys and 0 webhook secrets")
}

// TestUploadProgressReadsTheServer shows on the live line what the server
// has read of the upload: the newest running import of that name, not an
// older one nor another name's.
func TestUploadProgressReadsTheServer(t *testing.T) {
	t.Parallel()
	start := time.Now()
	imports := []notifier.EvidenceImport{
		{ID: 3, Name: "other.mbox", Status: notifier.EvidenceImportRunning, Messages: 7, StartedAt: start},
		{ID: 2, Name: "mail.mbox", Status: notifier.EvidenceImportRunning, Messages: 42, Stored: 40, StartedAt: start},
		{ID: 1, Name: "mail.mbox", Status: notifier.EvidenceImportFailed, Messages: 99, StartedAt: start.Add(-time.Hour)},
	}
	requests := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/incidents/mail-2026/evidence-imports" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(imports)
		select {
		case requests <- struct{}{}:
		default: // the test has seen enough
		}
	}))
	defer srv.Close()
	var p serverProgress
	if p.text() != "" {
		t.Fatalf("before any poll: %q", p.text())
	}
	stop := p.poll(context.Background(), apiclient.New(srv.URL, "key"), "mail-2026", "mail.mbox", start, time.Millisecond)
	<-requests
	<-requests // the first reply has been read: polls run one after another
	stop()
	if got, want := p.text(), "42 messages read (40 new), "; got != want {
		t.Fatalf("progress %q, want %q", got, want)
	}
}

// testEvidenceKey is the master key file of the evidence tests.
const testEvidenceKey = "q2yzgEn0Sg8MFLoN7hVykQyQ4B9Ss1dL4f0kM8dr6Yw=\n"

// startWithEvidenceKey starts the service (API only) with an evidence key
// file, and a CLI signed in as its admin.
func startWithEvidenceKey(t *testing.T) (*apptest.Env, cli) {
	t.Helper()
	keyFile := writeEvidenceKey(t)
	e := apptest.Start(t, apptest.Options{NoWorkers: true, Configure: func(c *config.Config) { c.EvidenceKeyFile = keyFile }})
	return e, cli{t: t, url: e.App.URL(), key: e.Key}
}

// writeEvidenceKey writes testEvidenceKey to a file of the test's own.
func writeEvidenceKey(t *testing.T) string {
	t.Helper()
	keyFile := filepath.Join(t.TempDir(), "evidence.keys")
	if err := os.WriteFile(keyFile, []byte(testEvidenceKey), 0o600); err != nil {
		t.Fatal(err)
	}
	return keyFile
}
