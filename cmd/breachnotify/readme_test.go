package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// TestREADMECampaign runs the README's "A campaign, step by step" block as
// a reader pastes it: with sh -e (every line must succeed), in a folder
// laid out like a clone (./breachnotify built, notifier/sampledata/), with
// only the environment "Running it" leaves: the database and the server's
// address (here the test's). It checks what the reader would: the wave
// completed, the proof file was written, the audit chain verified.
func TestREADMECampaign(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	script := shBlockAfter(t, string(readme), "## A campaign, step by step\n")

	clone := t.TempDir()
	// go test puts the toolchain it runs under first in PATH.
	build := exec.Command("go", "build", "-o", filepath.Join(clone, "breachnotify"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	samples := filepath.Join(clone, "notifier", "sampledata")
	if err := os.MkdirAll(samples, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"organizations.csv", "exposures-batch1.csv", "exposures-batch2.csv"} {
		b, err := os.ReadFile(filepath.Join("../../notifier/sampledata", name))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, samples, name, b)
	}

	srv := apptest.Start(t, apptest.Options{})
	sh := exec.Command("sh", "-e", "-c", script)
	sh.Dir = clone
	sh.Env = []string{
		"HOME=" + clone, "PATH=" + os.Getenv("PATH"),
		"BREACHNOTIFY_DATABASE_URL=" + srv.App.Config.DatabaseURL,
		"BREACHNOTIFY_URL=" + srv.App.URL(),
		"BREACHNOTIFY_ALLOW_INSECURE_PUBLIC_URL=true",
	}
	out, err := sh.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("the README's campaign failed: %v", err)
	}
	contains(t, "the campaign's output", string(out), "a second key to approve: breachnotify wave approve 1", "wave 1 completed")
	matches(t, "the campaign's output", string(out), `(?m)^status\s+completed$`, `(?m)^server\s+ok\s`, `(?m)^approved by key\s+\d+$`)
	if proof, err := os.ReadFile(filepath.Join(clone, "proof.csv")); err != nil || !strings.Contains(string(proof), "contoso") {
		t.Errorf("proof.csv: %v", err)
	}
}

// shBlockAfter is the first ```sh block after the heading.
func shBlockAfter(t *testing.T, doc, heading string) string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, heading)
	if !ok {
		t.Fatalf("README has no %q", heading)
	}
	_, rest, ok = strings.Cut(rest, "```sh\n")
	block, _, closed := strings.Cut(rest, "```")
	if !ok || !closed {
		t.Fatalf("no sh block after %q", heading)
	}
	return block
}
