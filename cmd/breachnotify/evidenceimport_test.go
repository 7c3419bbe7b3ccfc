package main

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// TestEvidenceImportVerb imports a folder holding a Maildir, an mbox and
// a zip of .eml files in one run, as IR staff would hand over what they
// recovered, and checks the import's table and that a second run adds
// nothing.
func TestEvidenceImportVerb(t *testing.T) {
	t.Parallel()
	keyFile := filepath.Join(t.TempDir(), "evidence.keys")
	if err := os.WriteFile(keyFile, []byte("q2yzgEn0Sg8MFLoN7hVykQyQ4B9Ss1dL4f0kM8dr6Yw=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := apptest.Start(t, apptest.Options{NoWorkers: true, Configure: func(c *config.Config) { c.EvidenceKeyFile = keyFile }})
	c := cli{t: t, url: e.App.URL(), key: e.Key}
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
