package app_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/templates"
)

// stolen is a message of the stolen mailbox.
func stolen(from, to, subject string) string {
	return fmt.Sprintf("From: %s\nTo: %s\nSubject: %s\nDate: Tue, 3 Nov 2026 10:00:00 +0000\nMessage-ID: <%s@mail.example>\n\nAbout %s.\n",
		from, to, subject, strings.ReplaceAll(strings.ToLower(subject), " ", "-"), subject)
}

// withEvidenceKey configures a master key file for evidence.
func withEvidenceKey(t *testing.T) func(*config.Config) {
	path := filepath.Join(t.TempDir(), "evidence.keys")
	if err := os.WriteFile(path, []byte("# test key\nq2yzgEn0Sg8MFLoN7hVykQyQ4B9Ss1dL4f0kM8dr6Yw=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return func(c *config.Config) { c.EvidenceKeyFile = path }
}

// TestEvidenceUploadMakesFollowUps uploads stolen mail over the API after
// the initial wave: an organization already told gets a follow-up, as for
// a CSV batch; one never told waits for the next initial wave; the same
// mail sent again as a tar.gz adds nothing.
func TestEvidenceUploadMakesFollowUps(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{Configure: withEvidenceKey(t)})
	ctx := context.Background()
	slug := e.LoadSample(t, "evidence")
	e.LaunchInitial(t, slug)

	messages := []string{
		stolen("cfo@contoso.example", "bank@elsewhere.example", "Wire transfer approval"),
		stolen("partner@proseware.example", "buyer@elsewhere.example", "Price list"),
		stolen("someone@elsewhere.example", "other@elsewhere.example", "Lunch"),
	}
	var mbox bytes.Buffer
	for _, m := range messages {
		mbox.WriteString("From MAILER-DAEMON Tue Nov  3 10:00:00 2026\n" + m + "\n")
	}
	imp, err := e.Client.ImportEvidence(ctx, slug, "export.mbox", bytes.NewReader(mbox.Bytes()), int64(mbox.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if imp.Status != notifier.EvidenceImportDone || imp.Messages != 3 || imp.Stored != 3 || imp.Unattributed != 1 || imp.Batch == nil {
		t.Fatalf("import %+v", imp)
	}
	if imp.Batch.ItemsNew != 2 || !slices.Equal(imp.Batch.FollowUps, []string{"contoso"}) || !slices.Equal(imp.Batch.AwaitingInitial, []string{"proseware"}) {
		t.Fatalf("batch %+v: want 2 items, a follow-up for contoso, proseware awaiting its initial notice", imp.Batch)
	}
	got, err := e.Client.EvidenceImport(ctx, imp.ID)
	if err != nil || got.Stored != 3 || got.Status != notifier.EvidenceImportDone {
		t.Fatalf("read back: %+v, %v", got, err)
	}

	// The same messages as .eml files in a tar.gz.
	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	for i, m := range messages {
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("mail/%d.eml", i), Mode: 0o600, Size: int64(len(m))})
		tw.Write([]byte(m))
	}
	tw.Close()
	gz.Close()
	again, err := e.Client.ImportEvidence(ctx, slug, "export.tar.gz", bytes.NewReader(tgz.Bytes()), int64(tgz.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if again.Messages != 3 || again.Stored != 0 || again.Known != 3 || again.Batch.ItemsNew != 0 {
		t.Fatalf("the same mail again: %+v %+v", again, again.Batch)
	}
	list, err := e.Client.EvidenceImports(ctx, slug)
	if err != nil || len(list) != 2 || list[0].ID != again.ID {
		t.Fatalf("imports %+v, %v", list, err)
	}
}

// TestEvidenceNeedsAKeyOutsideTheDatabase refuses an upload when no
// master key is configured, naming the setting.
func TestEvidenceNeedsAKeyOutsideTheDatabase(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{NoWorkers: true})
	ctx := context.Background()
	if _, err := e.Client.CreateIncident(ctx, notifier.NewIncident{Slug: "nokey", Title: "t"}); err != nil {
		t.Fatal(err)
	}
	_, err := e.Client.ImportEvidence(ctx, "nokey", "x.eml", strings.NewReader(stolen("a@contoso.example", "b@x.example", "s")), -1)
	if err == nil || !strings.Contains(err.Error(), "BREACHNOTIFY_EVIDENCE_KEY_FILE") {
		t.Fatalf("upload without a key: %v", err)
	}
}

// TestUrgentOrganizationsFirst plans a wave of the urgent organizations
// only (a live secret among their new items: from the CSV batch, or found
// in stolen mail), launches it, and then plans the rest.
func TestUrgentOrganizationsFirst(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{Configure: withEvidenceKey(t)})
	ctx := context.Background()
	slug := e.LoadSample(t, "urgent")
	mail := stolen("buyer@proseware.example", "x@elsewhere.example", "Supplier portal") + "Our portal password: Winter2026!Vendor\n"
	if _, err := e.Client.ImportEvidence(ctx, slug, "one.eml", strings.NewReader(mail), int64(len(mail))); err != nil {
		t.Fatal(err)
	}
	// A plan of everyone counts the urgent organizations among them.
	all, err := e.Client.PlanWave(ctx, slug, templates.KindInitial)
	if err != nil || all.Organizations != 8 || all.Urgent != 6 {
		t.Fatalf("plan of everyone: %d organizations, %d urgent, %v", all.Organizations, all.Urgent, err)
	}
	urgent, err := e.Client.PlanWaveWith(ctx, slug, templates.KindInitial, notifier.WaveOptions{UrgentOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var notUrgent []string
	for _, s := range urgent.Skipped {
		if s.Reason == notifier.SkipNotUrgent {
			notUrgent = append(notUrgent, s.OrgRef)
		}
	}
	// contoso (client_secret), fabrikam and litware (password), northwind
	// (sas_token, api_key), woodgrove (private_key), proseware (a password
	// in its stolen mail); adatum and tailspin have no secret.
	if !urgent.UrgentOnly || urgent.Organizations != 6 || urgent.Urgent != 6 || !slices.Equal(notUrgent, []string{"adatum", "tailspin"}) {
		t.Fatalf("urgent plan: %d organizations, urgent_only %v, not urgent %q", urgent.Organizations, urgent.UrgentOnly, notUrgent)
	}
	w, err := e.Client.LaunchWave(ctx, urgent.ID)
	if err != nil || !w.UrgentOnly || w.Notices.Total != 6 {
		t.Fatalf("urgent launch: %+v, %v", w, err)
	}
	rest, err := e.Client.PlanWave(ctx, slug, templates.KindInitial)
	if err != nil || rest.UrgentOnly || rest.Organizations != 2 || rest.Urgent != 0 {
		t.Fatalf("the rest: %+v, %v", rest, err)
	}
}
