package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier/evidence"
)

// mimeRealDir finds the shared fixtures' real messages, as the evidence
// package's tests do.
func mimeRealDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("BREACHNOTIFY_FIXTURES")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "fixtures")
	}
	dir = filepath.Join(dir, "mime-real")
	if _, err := os.Stat(filepath.Join(dir, "corpus.mbox")); err != nil {
		t.Skipf("fixtures not found at %s (set BREACHNOTIFY_FIXTURES to the shared/fixtures folder): %v", dir, err)
	}
	return dir
}

// runOffline runs a verb that needs neither a database nor a server.
func runOffline(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	e := &env{stdout: &out, stderr: &errOut, loadConfig: nil}
	code = run(context.Background(), e, args)
	return code, out.String(), errOut.String()
}

func TestEvidenceScan(t *testing.T) {
	t.Parallel()
	dir := mimeRealDir(t)
	mbox := filepath.Join(dir, "corpus.mbox")
	// The mbox and one of its messages again as a file: a duplicate.
	code, out, errOut := runOffline("evidence", "scan", mbox, filepath.Join(dir, "001-arf.eml"), "--top", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	t.Log(out)
	for _, want := range []string{
		"messages         102 (1.1 MB)",
		"duplicates       1 ",
		"unparseable      1 ",
		"corpus.mbox#78: Failed to ReadParts: malformed MIME header initial line",
		"no participant   35 ",
		"     20  example.com\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}

	code, out, errOut = runOffline("evidence", "scan", "--json", mbox)
	var sum scanSummary
	if code != 0 || json.Unmarshal([]byte(out), &sum) != nil {
		t.Fatalf("--json: exit %d, %q %s", code, out, errOut)
	}
	if sum.Messages != 101 || sum.Unparseable != 1 || sum.Duplicates != 0 || sum.Domains != 70 || len(sum.TopDomains) != 20 {
		t.Errorf("--json summary: %+v", sum)
	}
}

func TestEvidenceScanUsage(t *testing.T) {
	t.Parallel()
	if code, _, _ := runOffline("evidence", "scan"); code != 2 {
		t.Errorf("scan without a path exited %d, want 2", code)
	}
	if code, _, _ := runOffline("evidence", "frob"); code != 2 {
		t.Errorf("unknown verb exited %d, want 2", code)
	}
	if code, _, errOut := runOffline("evidence", "scan", filepath.Join(t.TempDir(), "missing.mbox")); code != 1 || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing input exited %d (%q), want 1 naming the file", code, errOut)
	}
	if code, out, _ := runOffline("help", "evidence"); code != 0 || !strings.Contains(out, "breachnotify evidence scan PATH...") {
		t.Errorf("help does not list evidence scan")
	}
}

func TestEvidenceProgressText(t *testing.T) {
	t.Parallel()
	got := progressText(evidence.Progress{Messages: 100, BytesRead: 50e6, BytesTotal: 100e6}, 10*time.Second)
	if want := "100 messages, 50.0 MB of 100.0 MB, 10 messages/s, 5.0 MB/s, ETA 10s"; got != want {
		t.Errorf("progress %q, want %q", got, want)
	}
	got = progressText(evidence.Progress{Messages: 7, BytesRead: 1e6, BytesTotal: -1}, time.Second)
	if want := "7 messages, 1.0 MB, 7 messages/s, 1.0 MB/s"; got != want {
		t.Errorf("progress of unknown total %q, want %q", got, want)
	}
}

// TestTerminalText checks that breach data printed by the evidence verbs
// cannot drive the terminal: escapes, links, bidi overrides and bytes that
// are not UTF-8 are shown escaped; ordinary text, accents and U+FFFD stay.
func TestTerminalText(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{"Mail/Inbox.mbox#12", "Mail/Inbox.mbox#12"},
		{"Rechnung für März ☃", "Rechnung für März ☃"},
		{"a\x1b[2Jb", `a\x1b[2Jb`},
		{"\x1b]8;;https://evil.example\x07click\x1b]8;;\x07", `\x1b]8;;https://evil.example\aclick\x1b]8;;\a`},
		{"invoice\u202Efdp.exe", `invoice\u202efdp.exe`},
		{"caf\xe9", `caf\xe9`},
		{"kept \uFFFD", "kept \uFFFD"},
		{"tab\there\nline", `tab\there\nline`},
	}
	for _, c := range cases {
		if got := terminalText(c.in); got != c.want {
			t.Errorf("terminalText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
