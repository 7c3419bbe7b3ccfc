package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/sampledata"
)

// The README's deadline commands: a clock at creation, changed by flags
// (the rest kept), refused with the field named, and the board.
func TestCLIDeadlineClock(t *testing.T) {
	t.Parallel()
	srv := apptest.Start(t, apptest.Options{NoWorkers: true})
	admin := cli{t, srv.App.URL(), srv.Key, nil}
	out := admin.ok("incident", "create", "--slug", "mail-2026", "--title", "Unauthorized access to corporate email",
		"--aware-at", "2026-12-01T09:30:00Z", "--obligations", "gdpr-art33,gdpr-art33-processor,us-co")
	matches(t, "create", out, `deadline clock\s+aware 2026-12-01 09:30:00Z; under gdpr-art33, gdpr-art33-processor, us-co`)

	var inc notifier.Incident
	admin.json(&inc, "incident", "clock", "mail-2026", "--materiality-at", "2026-12-03T16:00:00Z",
		"--obligations", "gdpr-art33,gdpr-art33-processor,us-co,sec-8k-1.05")
	admin.json(&inc, "incident", "clock", "mail-2026", "--target", "gdpr-art33-processor=12")
	if c := inc.Clock; c.AwareAt == nil || c.MaterialityDeterminedAt == nil || len(c.Obligations) != 4 || c.DeadlineTargets["gdpr-art33-processor"] != 12 {
		t.Errorf("clock after two changes: %+v", c)
	}
	if r := admin.run("incident", "clock", "mail-2026", "--obligations", "gdpr-art99"); r.code != 1 || !strings.Contains(r.errOut, "clock.obligations") {
		t.Errorf("an unknown obligation: %d %q", r.code, r.errOut)
	}
	if r := admin.run("incident", "clock", "mail-2026", "--aware-at", "yesterday"); r.code != 2 || !strings.Contains(r.errOut, "RFC 3339") {
		t.Errorf("a bad time: %d %q", r.code, r.errOut)
	}

	ctx := context.Background()
	if _, err := srv.Client.ImportOrganizations(ctx, bytes.NewReader(sampledata.File(sampledata.Organizations)), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client.ImportExposures(ctx, "mail-2026", bytes.NewReader(sampledata.File(sampledata.ExposuresBatch1)), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	out = admin.ok("incident", "deadlines", "mail-2026")
	contains(t, "deadlines", out, "not legal advice", "gdpr-art33", "2026-12-04 09:30:00Z", "sec-8k-1.05", "2026-12-09 22:30:00Z", "ORG", "contoso")
}
