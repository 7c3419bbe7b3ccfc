package main

import (
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
)

// TestEvidenceUnattributedAndReattributeVerbs imports mail from a domain
// no organization has, reads the unattributed table (a free-mail domain
// marked so), adds the organization and re-attributes from the command
// line, as IR staff would.
func TestEvidenceUnattributedAndReattributeVerbs(t *testing.T) {
	t.Parallel()
	e, c := startWithEvidenceKey(t)
	slug := e.LoadSample(t, "late")
	dir := t.TempDir()
	writeFile(t, dir, "1.eml", []byte("From: ops@newcomer.example\nTo: a@elsewhere.example, b@outlook.com\nSubject: s1\n\nx\n"))
	writeFile(t, dir, "2.eml", []byte("From: ops@newcomer.example\nTo: c@elsewhere.example\nSubject: s2\n\nx\n"))
	writeFile(t, dir, "3.eml", []byte("From: x@elsewhere.example\nTo: y@elsewhere.example\nSubject: s3\n\nx\n"))
	c.ok("evidence", "import", slug, dir)

	out := c.ok("evidence", "unattributed", slug)
	matches(t, "unattributed", out, `3 unattributed messages`, `DOMAIN\s+MESSAGES\s+FREE-MAIL\s+ATTRIBUTABLE`,
		`elsewhere\.example\s+3\s+no\s+no`, `newcomer\.example\s+2\s+no\s+no`, `outlook\.com\s+1\s+yes\s+no`)
	var rep notifier.UnattributedReport
	c.json(&rep, "evidence", "unattributed", slug, "--limit", "2")
	if rep.Messages != 3 || len(rep.Domains) != 2 || rep.Domains[1].Domain != "newcomer.example" || rep.NextCursor == "" {
		t.Fatalf("--json --limit 2: %+v", rep)
	}

	orgs := writeFile(t, dir, "orgs.csv", []byte("org_ref,org_name,domain,contact_email\nnewcomer,Newcomer AG,newcomer.example,soc@newcomer.example\n"))
	c.ok("org", "import", orgs)
	matches(t, "attributable", c.ok("evidence", "unattributed", slug), `newcomer\.example\s+2\s+no\s+yes`)
	out = c.ok("evidence", "reattribute", slug)
	matches(t, "reattribute", out, `RUN\s+MESSAGES\s+ATTRIBUTED\s+UNATTRIBUTED\s+BATCH\s+NEW ITEMS`, `\d+\s+3\s+2\s+1\s+\d+\s+2`,
		`awaiting their initial notice \(1\): newcomer`)
	var again notifier.EvidenceImport
	c.json(&again, "evidence", "reattribute", slug)
	if again.Kind != notifier.EvidenceRunReattribution || again.Attributed != 0 || again.Batch == nil || again.Batch.ItemsNew != 0 {
		t.Fatalf("second run: %+v", again)
	}
	for _, args := range [][]string{{"evidence", "unattributed"}, {"evidence", "reattribute"}, {"evidence", "unattributed", slug, "--limit", "0"}} {
		if r := c.run(args...); r.code != 2 {
			t.Errorf("%q exited %d, want 2", args, r.code)
		}
	}
}
