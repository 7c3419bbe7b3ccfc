package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/apiclient"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// TestEvidenceImportKilledResumes imports a generated mailbox (the bench
// ingest corpus: multipart mail with attachments and secrets, over
// several organizations, three of them notified already) into a
// `breachnotify serve` process, SIGKILLs that process once it has
// committed its first group, starts it again and uploads the same mailbox
// again. The result is the same as an uninterrupted import of the mailbox
// into a twin incident: every message stored once, the same exposure
// items (one per organization and message), one exposure batch, and one
// follow-up per notified organization.
func TestEvidenceImportKilledResumes(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("imports 6,000 generated messages and builds the binary")
	}
	const (
		messages = 3000 // six groups of the default 500
		orgs     = 8
		stamp    = "kill"
	)
	keyFile := writeEvidenceKey(t)
	// The in-process service loads, launches and reads; the child
	// process does the killed import.
	e := apptest.Start(t, apptest.Options{Configure: func(c *config.Config) { c.EvidenceKeyFile = keyFile }})
	ctx := context.Background()
	var orgCSV bytes.Buffer
	orgCSV.WriteString("org_ref,org_name,domain,contact_email\n")
	for i := range orgs {
		fmt.Fprintf(&orgCSV, "ingest-%s-%d,Org %d,o%d-%s.ingest.example,soc@o%d-%s.ingest.example\n", stamp, i, i, i, stamp, i, stamp)
	}
	if _, err := e.Client.ImportOrganizations(ctx, &orgCSV, notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	notified := []string{"ingest-kill-0", "ingest-kill-1", "ingest-kill-2"}
	var awaiting []string
	for i := 3; i < orgs; i++ {
		awaiting = append(awaiting, fmt.Sprintf("ingest-%s-%d", stamp, i))
	}
	for _, slug := range []string{"killed", "twin"} {
		if _, err := e.Client.CreateIncident(ctx, notifier.NewIncident{Slug: slug, Title: "Mailbox " + slug}); err != nil {
			t.Fatal(err)
		}
		items := "org_ref,item_ref,kind,occurred_at,subject,summary,secret_types\n"
		for _, ref := range notified {
			items += ref + ",DOC-1,file,2026-11-01T09:00:00Z,Shared drive,A shared drive was read,\n"
		}
		if _, err := e.Client.ImportExposures(ctx, slug, bytes.NewBufferString(items), notifier.FormatCSV); err != nil {
			t.Fatal(err)
		}
		e.LaunchInitial(t, slug)
	}

	bin := apptest.BuildBinary(t)
	importer := apptest.StartServe(t, "importer", bin, []string{"--api"},
		"BREACHNOTIFY_DATABASE_URL="+e.App.Config.DatabaseURL,
		"BREACHNOTIFY_HTTP_ADDR=127.0.0.1:0",
		"BREACHNOTIFY_LOG_FORMAT=json",
		"BREACHNOTIFY_EVIDENCE_KEY_FILE="+keyFile)
	upload := func(url string) (notifier.EvidenceImport, error) {
		return apiclient.New(url, e.Key).ImportEvidence(ctx, "killed", "bench.mbox", benchCorpus(t, messages, orgs, stamp), -1)
	}
	uploaded := make(chan error, 1)
	go func() {
		_, err := upload(importer.URL)
		uploaded <- err
	}()
	// Kill once a group is committed, polling the progress the import
	// records; a finished import means the kill came too late.
	var stored int64
	var status string
	poll := time.NewTicker(5 * time.Millisecond)
	deadline := time.After(2 * time.Minute)
	for stored == 0 {
		select {
		case <-poll.C:
		case <-deadline:
			t.Fatalf("no group committed after 2 minutes:\n%s", importer.Output())
		case err := <-uploaded:
			t.Fatalf("the upload ended before the kill: %v", err)
		}
		_ = e.App.Pool.QueryRow(ctx, `SELECT stored, status FROM evidence_imports x JOIN incidents i ON i.id = x.incident_id
			WHERE i.slug = 'killed'`).Scan(&stored, &status)
	}
	poll.Stop()
	importer.Kill()
	if err := <-uploaded; err == nil {
		t.Fatal("the upload to the killed process succeeded")
	}
	var killed notifier.EvidenceImport
	if err := e.App.Pool.QueryRow(ctx, `SELECT x.id, x.status, x.stored, x.batch_id IS NULL FROM evidence_imports x
		JOIN incidents i ON i.id = x.incident_id WHERE i.slug = 'killed'`).Scan(&killed.ID, &killed.Status, &killed.Stored, new(bool)); err != nil {
		t.Fatal(err)
	}
	if killed.Status != notifier.EvidenceImportRunning || killed.Stored <= 0 || killed.Stored >= messages {
		t.Fatalf("the killed import: %+v; want it cut mid-run (running, 0 < stored < %d)", killed, messages)
	}

	importer.Start()
	resumed, err := upload(importer.URL)
	if err != nil {
		t.Fatal(err)
	}
	twin, err := e.Client.ImportEvidence(ctx, "twin", "bench.mbox", benchCorpus(t, messages, orgs, stamp), -1)
	if err != nil {
		t.Fatal(err)
	}
	if resumed.Messages != messages || resumed.Known != killed.Stored || killed.Stored+resumed.Stored != twin.Stored ||
		twin.Stored != messages || resumed.Unattributed+unattributedOf(t, e, killed.ID) != twin.Unattributed {
		t.Fatalf("killed after %d stored, then resumed: %+v; uninterrupted twin: %+v", killed.Stored, resumed, twin)
	}
	if resumed.Batch.ItemsNew != twin.Batch.ItemsNew || resumed.Batch.ItemsDuplicate != 0 ||
		!slices.Equal(resumed.Batch.FollowUps, notified) || !slices.Equal(twin.Batch.FollowUps, notified) ||
		!slices.Equal(resumed.Batch.AwaitingInitial, awaiting) {
		t.Fatalf("resumed batch %+v, twin batch %+v", resumed.Batch, twin.Batch)
	}
	// The same rows, incident for incident.
	for _, q := range []string{
		`SELECT count(*) FROM evidence_messages WHERE incident_id = $1`,
		`SELECT count(*) FROM evidence_blobs WHERE incident_id = $1`,
		`SELECT count(*) FROM evidence_findings WHERE incident_id = $1`,
		`SELECT count(*) FROM evidence_exposures WHERE incident_id = $1 AND item_id IS NOT NULL`,
		`SELECT count(*) FROM evidence_exposures WHERE incident_id = $1 AND item_id IS NULL`,
		`SELECT count(*) FROM exposure_items WHERE incident_id = $1 AND kind = 'email'`,
		`SELECT count(DISTINCT batch_id) FROM exposure_items WHERE incident_id = $1 AND kind = 'email'`,
		`SELECT count(*) FROM river_job WHERE kind = 'follow_up' AND (args->>'incident_id')::bigint = $1`,
		`SELECT md5(string_agg(o.ref || ' ' || i.item_ref || ' ' || array_to_string(i.secret_types, ','), ';' ORDER BY o.ref, i.item_ref))
		 FROM exposure_items i JOIN organizations o ON o.id = i.organization_id WHERE i.incident_id = $1 AND i.kind = 'email'`,
	} {
		a, b := queryText(t, e, q, resumed.IncidentID), queryText(t, e, q, twin.IncidentID)
		if a != b {
			t.Errorf("%s\nkilled and resumed: %s, uninterrupted: %s", q, a, b)
		}
	}
	if n := queryText(t, e, `SELECT count(*) FROM river_job WHERE kind = 'follow_up' AND (args->>'incident_id')::bigint = $1`, resumed.IncidentID); n != "3" {
		t.Errorf("%s follow-up jobs, want one per notified organization (3)", n)
	}
	t.Logf("killed after %d of %d messages stored; resumed: %d stored, %d known, %d items", killed.Stored, messages,
		resumed.Stored, resumed.Known, resumed.Batch.ItemsNew)
}

// benchCorpus streams the bench ingest corpus (the same bytes every
// time); a stream left unread ends with the test.
func benchCorpus(t *testing.T, n, orgs int, stamp string) io.Reader {
	r, w := io.Pipe()
	go func() { w.CloseWithError(writeBenchMbox(w, n, orgs, stamp)) }()
	t.Cleanup(func() { r.Close() })
	return r
}

// unattributedOf is what an import counted unattributed.
func unattributedOf(t *testing.T, e *apptest.Env, importID int64) int64 {
	var n int64
	if err := e.App.Pool.QueryRow(context.Background(), `SELECT unattributed FROM evidence_imports WHERE id = $1`, importID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// queryText runs a query of one value about an incident, as text.
func queryText(t *testing.T, e *apptest.Env, q string, incidentID int64) string {
	var s *string
	if err := e.App.Pool.QueryRow(context.Background(), `SELECT (`+q+`)::text`, incidentID).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if s == nil {
		return "NULL"
	}
	return *s
}
