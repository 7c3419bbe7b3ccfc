package main

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier"
)

// tty stands in for a terminal a person types at.
type tty struct{ io.Reader }

func (tty) IsTerminal() bool { return true }

// runWithStdin runs a verb as c.run does, with stdin.
func (c cli) runWithStdin(stdin io.Reader, args ...string) result {
	c.t.Helper()
	cfg := config.Default()
	cfg.URL, cfg.APIKey = c.url, c.key
	var out, errOut bytes.Buffer
	e := &env{stdout: &out, stderr: &errOut, stdin: stdin, loadConfig: func() (*config.Config, error) { return cfg, nil }}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := run(ctx, e, args)
	return result{code, out.String(), errOut.String()}
}

// TestPurgeVerbConfirms purges only once the incident's slug is typed at
// a terminal, or with --yes: without a terminal (CI) and without --yes it
// refuses, and a slug mistyped changes nothing.
func TestPurgeVerbConfirms(t *testing.T) {
	t.Parallel()
	e, c := startWithEvidenceKey(t)
	ctx := context.Background()
	for _, slug := range []string{"typed", "scripted"} {
		e.LoadSample(t, slug)
		mail := "From: cfo@contoso.example\nTo: x@elsewhere.example\nSubject: " + slug + "\n\nThe password: Winter2026!Vendor\n"
		if _, err := e.Client.ImportEvidence(ctx, slug, "m.eml", strings.NewReader(mail), int64(len(mail))); err != nil {
			t.Fatal(err)
		}
	}
	state := func(slug string) string {
		st, err := e.Client.EvidencePurge(ctx, slug)
		if err != nil {
			t.Fatal(err)
		}
		return st.State
	}

	if r := c.runWithStdin(nil, "incident", "purge", "typed"); r.code == 0 || !strings.Contains(r.errOut, "--yes") {
		t.Fatalf("without a terminal: %+v, want refused naming --yes", r)
	}
	if r := c.runWithStdin(strings.NewReader("typed\n"), "incident", "purge", "typed"); r.code == 0 {
		t.Fatalf("stdin a pipe: %+v, want refused", r)
	}
	if r := c.runWithStdin(tty{strings.NewReader("typo\n")}, "incident", "purge", "typed"); r.code == 0 || !strings.Contains(r.errOut, "nothing was purged") {
		t.Fatalf("a mistyped slug: %+v", r)
	}
	if s := state("typed"); s != notifier.EvidenceKept {
		t.Fatalf("refused purges left the evidence %s", s)
	}
	r := c.runWithStdin(tty{strings.NewReader("typed\n")}, "incident", "purge", "typed", "--reason", "case closed")
	if r.code != 0 || !strings.Contains(r.errOut, "Type the incident's slug (typed)") {
		t.Fatalf("typed: %+v", r)
	}
	matches(t, "purge table", r.out, `state +purged`, `messages +0\n`, `reason +case closed`)
	if r := c.runWithStdin(nil, "incident", "purge", "scripted", "--yes"); r.code != 0 || state("scripted") != notifier.EvidencePurged {
		t.Fatalf("--yes: %+v", r)
	}
	matches(t, "status", c.ok("incident", "purge", "typed", "--status"), `state +purged`)
	matches(t, "incident show", c.ok("incident", "show", "typed"), `evidence +kept until purged; an admin may purge it`)
}

// TestFindingVerbs lists an incident's findings and dismisses one with a
// reason, through the verbs; a reason is required.
func TestFindingVerbs(t *testing.T) {
	t.Parallel()
	e, c := startWithEvidenceKey(t)
	slug := e.LoadSample(t, "review")
	mail := "From: ops@adatum.example\nTo: x@elsewhere.example\nSubject: Portal\n\nOur portal password: Winter2026!Vendor\n"
	if _, err := e.Client.ImportEvidence(context.Background(), slug, "m.eml", strings.NewReader(mail), int64(len(mail))); err != nil {
		t.Fatal(err)
	}
	var list notifier.ListResult[notifier.Finding]
	c.json(&list, "evidence", "findings", slug)
	if len(list.Items) == 0 {
		t.Fatal("no findings")
	}
	id := list.Items[0].ID
	matches(t, "findings table", c.ok("evidence", "findings", slug), `FINDING +ITEM +TYPE`, regexp.QuoteMeta(id)+` +MSG-[0-9A-F]{20} +password`)
	if r := c.run("evidence", "dismiss", slug, id); r.code != 2 || !strings.Contains(r.errOut, "--reason") {
		t.Fatalf("without a reason: %+v", r)
	}
	if r := c.run("evidence", "dismiss", slug, "nope", "--reason", "x"); r.code != 2 {
		t.Fatalf("a malformed id: %+v", r)
	}
	matches(t, "dismissed", c.ok("evidence", "dismiss", slug, id, "--reason", "a demo password"), `dismissed +\S+ \S+ by apptest admin: a demo password`)
	c.json(&list, "evidence", "findings", slug, "--dismissed=false")
	for _, f := range list.Items {
		if f.ID == id {
			t.Errorf("--dismissed=false lists the dismissed finding")
		}
	}
	c.ok("evidence", "undismiss", slug, id, "--reason", "real after all")
}
