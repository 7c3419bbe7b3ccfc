package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/apiclient"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/ingest"
	"github.com/breachnotify/breachnotify/notifier/store"
	"github.com/breachnotify/breachnotify/notifier/vault"
	"github.com/breachnotify/breachnotify/templates"
)

// backup is what a copy of the database taken before a purge holds of an
// incident's evidence: the wrapped data key and the ciphertext.
type backup struct {
	key     vault.WrappedKey
	objects map[string][]byte // object name → its segments joined
}

// takeBackup copies the incident's wrapped key and ciphertext, as a
// pg_dump would.
func takeBackup(t *testing.T, e *apptest.Env, incidentID int64) backup {
	t.Helper()
	ctx := context.Background()
	conn := e.Owner(t)
	b := backup{objects: map[string][]byte{}}
	if err := conn.QueryRow(ctx, `SELECT master_id, sealed FROM incident_keys WHERE incident_id = $1`, incidentID).
		Scan(&b.key.MasterID, &b.key.Sealed); err != nil {
		t.Fatalf("the incident has no key to back up: %v", err)
	}
	rows, _ := conn.Query(ctx, `SELECT object, data FROM evidence_blobs WHERE incident_id = $1 ORDER BY object, seq`, incidentID)
	var object, data []byte
	if _, err := pgx.ForEachRow(rows, []any{&object, &data}, func() error {
		b.objects[string(object)] = append(b.objects[string(object)], data...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(b.objects) == 0 {
		t.Fatal("no ciphertext to back up")
	}
	return b
}

// open decrypts every object of the backup with ring, or fails.
func (b backup) open(ring *vault.Keyring, incidentID int64) error {
	dk, err := ring.Unwrap(ingest.Scope(incidentID), b.key)
	if err != nil {
		return err
	}
	for name, sealed := range b.objects {
		r, err := dk.Decrypt(bytes.NewReader(sealed), name)
		if err != nil {
			return err
		}
		plain, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if sum := sha256.Sum256(plain); string(sum[:]) != name {
			return errors.New("decrypted to other bytes than the message")
		}
	}
	return nil
}

// evidenceRing is the keyring of the evidence key file cfg names.
func evidenceRing(t *testing.T, cfg *config.Config) *vault.Keyring {
	t.Helper()
	b, err := os.ReadFile(cfg.EvidenceKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := vault.ParseKeyFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return ring
}

// evidenceRows counts what is left of an incident's evidence, table by
// table, and its data key.
func evidenceRows(t *testing.T, e *apptest.Env, incidentID int64) map[string]int {
	t.Helper()
	got := map[string]int{}
	conn := e.Owner(t)
	for _, table := range []string{"incident_keys", "evidence_blobs", "evidence_messages", "evidence_findings", "evidence_exposures"} {
		var n int
		if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM `+table+` WHERE incident_id = $1`, incidentID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		got[table] = n
	}
	return got
}

// survivors sums up what a purge must leave: the incident's exposure
// items (with their subjects and secret types), notices and the
// deliveries' recorded hashes.
func survivors(t *testing.T, e *apptest.Env, incidentID int64) string {
	t.Helper()
	var s string
	if err := e.Owner(t).QueryRow(context.Background(), `SELECT
		(SELECT count(*) || ' items ' || md5(coalesce(string_agg(item_ref || subject || array_to_string(secret_types, ','), '|' ORDER BY id), ''))
		   FROM exposure_items WHERE incident_id = $1) || ', ' ||
		(SELECT count(*) || ' notices' FROM notices WHERE incident_id = $1) || ', ' ||
		(SELECT count(*) || ' hashes ' || md5(coalesce(string_agg(encode(d.message_sha256, 'hex'), '|' ORDER BY d.id), ''))
		   FROM deliveries d JOIN notices n ON n.id = d.notice_id WHERE n.incident_id = $1)`, incidentID).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func apiCode(err error) string {
	var ae *apiclient.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// reportOf downloads the incident's proof-of-notification report.
func reportOf(t *testing.T, c *apiclient.Client, slug string) string {
	t.Helper()
	var b strings.Builder
	if err := c.Report(context.Background(), slug, "csv", &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func auditActions(t *testing.T, c *apiclient.Client, prefix string) []string {
	t.Helper()
	chain, err := c.AuditChain(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range chain {
		if strings.HasPrefix(a.Action, prefix) {
			out = append(out, a.Action+" by "+a.ActorName)
		}
	}
	return out
}

// TestPurgeIsCryptoShredding purges an incident's evidence under the
// four-eyes policy and checks what a regulator would: the request alone
// destroys nothing; its requester cannot approve it, nor can an
// operator; once a second admin approves, the data key and every
// evidence row are gone, a backup taken before cannot be opened with
// what the installation holds once the master key is rotated, and the
// proof of notification, notices and exposure items are unchanged.
// Importing again into the incident is refused.
func TestPurgeIsCryptoShredding(t *testing.T) {
	t.Parallel()
	var cfg *config.Config
	withKey := withEvidenceKey(t)
	e := apptest.Start(t, apptest.Options{Configure: func(c *config.Config) { withKey(c); cfg = c }})
	ctx := context.Background()
	slug := e.LoadSample(t, "shred")
	mail := stolen("cfo@contoso.example", "bank@elsewhere.example", "Wire transfer") + "The portal password: Winter2026!Vendor\n"
	if _, err := e.Client.ImportEvidence(ctx, slug, "one.eml", strings.NewReader(mail), int64(len(mail))); err != nil {
		t.Fatal(err)
	}
	e.LaunchInitial(t, slug)
	inc, _ := e.Client.Incident(ctx, slug)
	ring := evidenceRing(t, cfg)
	before := takeBackup(t, e, inc.ID)
	if err := before.open(ring, inc.ID); err != nil {
		t.Fatalf("the backup does not open before the purge (the test proves nothing): %v", err)
	}
	report := reportOf(t, e.Client, slug)
	kept := survivors(t, e, inc.ID)

	yes := true
	if _, err := e.Client.PatchPolicy(ctx, slug, notifier.PolicyPatch{PurgeNeedsApproval: &yes}); err != nil {
		t.Fatal(err)
	}
	second := apiclient.New(e.App.URL(), newKey(t, e, "second admin", notifier.RoleAdmin))
	operator := apiclient.New(e.App.URL(), newKey(t, e, "operator", notifier.RoleOperator))

	findings, err := operator.Findings(ctx, slug, apiclient.FindingQuery{}, apiclient.Page{})
	if err != nil || len(findings.Items) == 0 {
		t.Fatalf("findings before the purge: %+v, %v", findings, err)
	}
	if _, err := operator.PurgeEvidence(ctx, slug, ""); apiCode(err) != "forbidden" {
		t.Fatalf("an operator's purge: %v, want forbidden", err)
	}
	st, err := e.Client.PurgeEvidence(ctx, slug, "case closed")
	if err != nil || st.State != notifier.EvidencePurgeRequested || st.Last == nil || st.Last.RequestedBy != "apptest admin" {
		t.Fatalf("the request: %+v, %v", st, err)
	}
	if rows := evidenceRows(t, e, inc.ID); rows["incident_keys"] != 1 || rows["evidence_blobs"] == 0 {
		t.Fatalf("a mere request destroyed evidence: %v", rows)
	}
	if _, err := e.Client.PurgeEvidence(ctx, slug, ""); apiCode(err) != "conflict" {
		t.Fatalf("a second request: %v, want conflict", err)
	}
	if _, err := e.Client.ApprovePurge(ctx, slug, ""); apiCode(err) != "forbidden" {
		t.Fatalf("the requester's approval: %v, want forbidden", err)
	}
	if st, err := second.CancelPurge(ctx, slug, "not yet"); err != nil || st.State != notifier.EvidenceKept || st.Last.Status != notifier.PurgeCancelled {
		t.Fatalf("cancel: %+v, %v", st, err)
	}
	if _, err := second.ApprovePurge(ctx, slug, ""); apiCode(err) != "conflict" {
		t.Fatalf("approving a cancelled request: %v, want conflict", err)
	}
	if _, err := e.Client.PurgeEvidence(ctx, slug, "case closed, really"); err != nil {
		t.Fatal(err)
	}
	shown, err := operator.EvidencePurge(ctx, slug)
	if err != nil || shown.State != notifier.EvidencePurgeRequested || shown.Last.Reason != "case closed, really" {
		t.Fatalf("the request as others see it: %+v, %v", shown, err)
	}
	st, err = second.ApprovePurge(ctx, slug, "approved")
	if err != nil || st.State != notifier.EvidencePurged || st.ShreddedAt == nil || st.Last.DecidedBy != "second admin" {
		t.Fatalf("the approved purge: %+v, %v", st, err)
	}

	// Nothing of the evidence is left, its key least of all.
	for table, n := range evidenceRows(t, e, inc.ID) {
		if n != 0 {
			t.Errorf("%d rows left in %s after the purge", n, table)
		}
	}
	if _, _, err := e.App.Store.IncidentKey(ctx, inc.ID); !errors.Is(err, store.ErrEvidenceShredded) {
		t.Errorf("the store still has a key: %v", err)
	}
	// The backup's ciphertext opens under no data key the installation can
	// make now; and once the master key that wrapped the backup's data key
	// is rotated away (docs: what a purge destroys in backups), the
	// backup's own wrapped key opens no more either.
	fresh, _, _ := ring.NewDataKey(ingest.Scope(inc.ID))
	for name, sealed := range before.objects {
		r, err := fresh.Decrypt(bytes.NewReader(sealed), name)
		if err == nil {
			_, err = io.ReadAll(r)
		}
		if !errors.Is(err, vault.ErrUnreadable) {
			t.Errorf("the backup's ciphertext under a new data key: %v, want unreadable", err)
		}
	}
	rotated, _ := vault.NewKeyring(bytes.Repeat([]byte{7}, vault.KeySize))
	if err := before.open(rotated, inc.ID); err == nil {
		t.Error("the backup opened without the old master key")
	}

	// What survives: the proof of notification, byte for byte, and the
	// exposure items the notices cite.
	if after := reportOf(t, e.Client, slug); after != report {
		t.Errorf("the report changed with the purge:\nbefore %s\nafter %s", report, after)
	}
	if after := survivors(t, e, inc.ID); after != kept {
		t.Errorf("after the purge %s, before %s", after, kept)
	}
	if v, err := e.Client.AuditVerify(ctx, ""); err != nil || !v.OK {
		t.Errorf("audit chain after the purge: %+v, %v", v, err)
	}
	got := auditActions(t, e.Client, "evidence.purge")
	want := []string{"evidence.purge.request by apptest admin", "evidence.purge.cancel by second admin",
		"evidence.purge.request by apptest admin", "evidence.purge.approve by second admin"}
	if len(got) < len(want)+1 || !slices.Equal(got[:len(want)], want) {
		t.Errorf("audit trail of the purge:\n%q\nwant\n%q and the deletion", got, want)
	}
	// The rows are deleted by the approver's request, or (if it ran at
	// that moment) partly by the maintenance job.
	for _, a := range got[min(len(want), len(got)):] {
		if a != "evidence.purge.delete by second admin" && a != "evidence.purge.delete by breachnotify (evidence retention)" {
			t.Errorf("audit trail of the purge: %q after the approval", a)
		}
	}

	if left, err := operator.Findings(ctx, slug, apiclient.FindingQuery{}, apiclient.Page{}); err != nil || len(left.Items) != 0 {
		t.Errorf("findings after the purge: %+v, %v", left, err)
	}
	if _, err := operator.DismissFinding(ctx, slug, findings.Items[0].ID, "too late"); apiCode(err) != "conflict" {
		t.Errorf("dismissing a purged finding: %v, want conflict", err)
	}
	// Purged for good: no new evidence, and purging again changes nothing.
	if _, err := e.Client.ImportEvidence(ctx, slug, "again.eml", strings.NewReader(mail), int64(len(mail))); apiCode(err) != "conflict" ||
		!strings.Contains(err.Error(), "purged") {
		t.Errorf("importing after the purge: %v, want a conflict saying it was purged", err)
	}
	if st, err := second.PurgeEvidence(ctx, slug, ""); err != nil || st.State != notifier.EvidencePurged {
		t.Errorf("purging again: %+v, %v", st, err)
	}
}

// TestPurgeInterruptedAfterTheKey stops a purge right after its first
// step, the key's destruction: the evidence is unreadable at once, its
// rows are still there (state purging), and both running the purge again
// and the maintenance job finish it.
func TestPurgeInterruptedAfterTheKey(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{Configure: withEvidenceKey(t), NoWorkers: true})
	ctx := context.Background()
	for _, slug := range []string{"rerun", "upkeep"} {
		e.LoadSample(t, slug)
		mail := stolen("cfo@contoso.example", "x@elsewhere.example", "Quarter "+slug)
		if _, err := e.Client.ImportEvidence(ctx, slug, "one.eml", strings.NewReader(mail), int64(len(mail))); err != nil {
			t.Fatal(err)
		}
		inc, _ := e.Client.Incident(ctx, slug)
		// The first step alone, as a process killed after its commit leaves it.
		if _, err := e.App.Store.StartEvidencePurge(ctx, notifier.PurgeParams{IncidentID: inc.ID, By: notifier.LocalActor("test")}); err != nil {
			t.Fatal(err)
		}
		rows := evidenceRows(t, e, inc.ID)
		if rows["incident_keys"] != 0 || rows["evidence_blobs"] == 0 || rows["evidence_messages"] == 0 {
			t.Fatalf("%s after the key's destruction: %v", slug, rows)
		}
		if st, _ := e.Client.EvidencePurge(ctx, slug); st.State != notifier.EvidencePurging {
			t.Fatalf("%s: state %q, want purging", slug, st.State)
		}
	}
	if st, err := e.Client.PurgeEvidence(ctx, "rerun", ""); err != nil || st.State != notifier.EvidencePurged {
		t.Fatalf("running the purge again: %+v, %v", st, err)
	}
	if err := e.App.Service.RunEvidenceRetention(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.Client.EvidencePurge(ctx, "upkeep"); st.State != notifier.EvidencePurged || st.Messages != 0 || st.Blobs != 0 {
		t.Fatalf("after the maintenance job: %+v", st)
	}
}

// TestPurgeOvertakesARunningImport purges an incident while an import
// into it runs: the import can neither store another group nor close
// (which would make exposure items of what the purge deletes).
func TestPurgeOvertakesARunningImport(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{Configure: withEvidenceKey(t), NoWorkers: true})
	ctx := context.Background()
	slug := e.LoadSample(t, "overtaken")
	mail := stolen("cfo@contoso.example", "x@elsewhere.example", "Overtaken")
	if _, err := e.Client.ImportEvidence(ctx, slug, "one.eml", strings.NewReader(mail), int64(len(mail))); err != nil {
		t.Fatal(err)
	}
	inc, _ := e.Client.Incident(ctx, slug)
	by := notifier.LocalActor("test")
	imp, err := e.App.Store.BeginEvidenceImport(ctx, by, inc.ID, "running.mbox")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.PurgeEvidence(ctx, slug, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.App.Store.StoreEvidence(ctx, imp.ID, inc.ID, notifier.EvidenceGroup{}); !errors.Is(err, store.ErrEvidenceShredded) {
		t.Errorf("a group after the purge: %v, want refused", err)
	}
	if _, err := e.App.Store.FinishEvidenceImport(ctx, by, imp.ID, ""); !errors.Is(err, store.ErrEvidenceShredded) {
		t.Errorf("closing the import after the purge: %v, want refused", err)
	}
}

// TestEvidenceRetention purges, from the maintenance job, the evidence
// of an incident whose retention passed since its last import ended, and
// only that one; several processes running the job at once purge it
// once, audited as the retention.
func TestEvidenceRetention(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{Configure: withEvidenceKey(t), NoWorkers: true})
	ctx := context.Background()
	day := notifier.Duration(24 * 60 * 60 * 1e9)
	for _, slug := range []string{"expired", "recent", "forever"} {
		e.LoadSample(t, slug)
		mail := stolen("cfo@contoso.example", "x@elsewhere.example", "Board "+slug)
		if _, err := e.Client.ImportEvidence(ctx, slug, "one.eml", strings.NewReader(mail), int64(len(mail))); err != nil {
			t.Fatal(err)
		}
		if slug != "forever" {
			if _, err := e.Client.PatchPolicy(ctx, slug, notifier.PolicyPatch{EvidenceRetention: &day}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The imports of two incidents ended 25 hours ago; "recent" had one
	// more import since.
	conn := e.Owner(t)
	if _, err := conn.Exec(ctx, `UPDATE evidence_imports x SET started_at = now() - interval '25 hours', finished_at = now() - interval '25 hours'
		FROM incidents i WHERE i.id = x.incident_id AND i.slug IN ('expired', 'forever')`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() { errs[i] = e.App.Service.RunEvidenceRetention(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for slug, want := range map[string]string{"expired": notifier.EvidencePurged, "recent": notifier.EvidenceKept, "forever": notifier.EvidenceKept} {
		if st, err := e.Client.EvidencePurge(ctx, slug); err != nil || st.State != want {
			t.Errorf("%s: %+v, %v; want %s", slug, st, err, want)
		}
	}
	// One purge: the key is destroyed once. The deletion may be shared by
	// the runs, each auditing the rows it deleted.
	got := auditActions(t, e.Client, "evidence.purge")
	if len(got) < 2 || got[0] != "evidence.purge by breachnotify (evidence retention)" {
		t.Errorf("audit of the retention: %q, want one purge first", got)
	}
	for _, a := range got[1:] {
		if a != "evidence.purge.delete by breachnotify (evidence retention)" {
			t.Errorf("audit of the retention: %q, want one purge, then deletions by the retention", got)
		}
	}
	// The bounds of the policy field.
	for _, bad := range []notifier.Duration{notifier.Duration(60 * 60 * 1e9), -day, day * 3651} {
		if _, err := e.Client.PatchPolicy(ctx, "forever", notifier.PolicyPatch{EvidenceRetention: &bad}); apiCode(err) != "invalid" {
			t.Errorf("evidence_retention %v: %v, want invalid", bad, err)
		}
	}
}

// findingOf returns the finding of the message sent as raw.
func findingOf(t *testing.T, list []notifier.Finding, raw string) notifier.Finding {
	t.Helper()
	sum := sha256.Sum256([]byte(raw))
	for _, f := range list {
		if f.Message == hex.EncodeToString(sum[:]) {
			return f
		}
	}
	t.Fatalf("no finding in message %x among %+v", sum, list)
	return notifier.Finding{}
}

// itemTypes reads the secret types of the exposure item of raw for org.
func itemTypes(t *testing.T, e *apptest.Env, org, raw string) []string {
	t.Helper()
	sum := sha256.Sum256([]byte(raw))
	var types []string
	if err := e.Owner(t).QueryRow(context.Background(), `SELECT i.secret_types FROM exposure_items i JOIN organizations o ON o.id = i.organization_id
		WHERE o.ref = $1 AND i.item_ref = 'MSG-' || upper(encode(substring($2::bytea FROM 1 FOR 10), 'hex'))`, org, sum[:]).Scan(&types); err != nil {
		t.Fatal(err)
	}
	return types
}

// urgentOrgs plans an urgent-only initial wave, cancels it, and returns
// the organizations it would have told.
func urgentOrgs(t *testing.T, e *apptest.Env, slug string) int {
	t.Helper()
	ctx := context.Background()
	plan, err := e.Client.PlanWaveWith(ctx, slug, templates.KindInitial, notifier.WaveOptions{UrgentOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.CancelWave(ctx, plan.ID); err != nil {
		t.Fatal(err)
	}
	return plan.Organizations
}

// TestDismissFindings has IR staff list an incident's findings and
// dismiss the false positive: the message's organization that is not
// told yet stops being urgent and its item stops naming the secret type;
// an item a notice already holds keeps what the notice said. Restored,
// the finding counts again. Every change is audited with its reason.
func TestDismissFindings(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{Configure: withEvidenceKey(t)})
	ctx := context.Background()
	slug := e.LoadSample(t, "dismiss")
	told := stolen("ops@adatum.example", "x@elsewhere.example", "Portal") + "Our portal password: Winter2026!Vendor\n"
	if _, err := e.Client.ImportEvidence(ctx, slug, "told.eml", strings.NewReader(told), int64(len(told))); err != nil {
		t.Fatal(err)
	}
	e.LaunchInitial(t, slug) // adatum's notice holds the item of told
	untold := stolen("buyer@proseware.example", "x@elsewhere.example", "Supplier portal") + "Our portal password: Summer2026!Buyer\n"
	if _, err := e.Client.ImportEvidence(ctx, slug, "untold.eml", strings.NewReader(untold), int64(len(untold))); err != nil {
		t.Fatal(err)
	}
	if n := urgentOrgs(t, e, slug); n != 1 {
		t.Fatalf("%d urgent organizations before the dismissal, want 1 (proseware)", n)
	}

	operator := apiclient.New(e.App.URL(), newKey(t, e, "ir analyst", notifier.RoleOperator))
	var list []notifier.Finding
	p := apiclient.Page{Limit: 1}
	for {
		page, err := operator.Findings(ctx, slug, apiclient.FindingQuery{}, p)
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, page.Items...)
		if page.NextCursor == "" {
			break
		}
		p.Cursor = page.NextCursor
	}
	if len(list) < 2 {
		t.Fatalf("findings %+v, want one per message at least", list)
	}
	for _, f := range list {
		if strings.Contains(f.Masked, "Winter2026!Vendor") || strings.Contains(f.Masked, "Summer2026!Buyer") {
			t.Errorf("finding %s shows the secret: %q", f.ID, f.Masked)
		}
	}
	fTold, fUntold := findingOf(t, list, told), findingOf(t, list, untold)

	got, err := operator.DismissFinding(ctx, slug, fUntold.ID, "a test password in a vendor's demo")
	if err != nil || got.Dismissed == nil || got.Dismissed.By != "ir analyst" || got.Dismissed.Reason != "a test password in a vendor's demo" {
		t.Fatalf("dismiss: %+v, %v", got, err)
	}
	if types := itemTypes(t, e, "proseware", untold); len(types) != 0 {
		t.Errorf("proseware's item still names %v", types)
	}
	if n := urgentOrgs(t, e, slug); n != 0 {
		t.Errorf("%d urgent organizations after the dismissal, want 0", n)
	}
	if _, err := operator.DismissFinding(ctx, slug, fTold.ID, "same password, same demo"); err != nil {
		t.Fatal(err)
	}
	if types := itemTypes(t, e, "adatum", told); !slices.Equal(types, []string{"password"}) {
		t.Errorf("adatum's item, in a notice already, now names %v; want what the notice said, [password]", types)
	}
	dismissed := true
	only, err := operator.Findings(ctx, slug, apiclient.FindingQuery{Dismissed: &dismissed}, apiclient.Page{})
	if err != nil || len(only.Items) != 2 {
		t.Fatalf("dismissed findings: %+v, %v", only, err)
	}

	for name, c := range map[string]struct {
		finding, reason, code string
	}{
		"twice":             {fUntold.ID, "again", "conflict"},
		"no reason":         {fUntold.ID, " ", "invalid"},
		"a line break":      {fUntold.ID, "one\nline\x1b[31m", "invalid"},
		"too long":          {fUntold.ID, strings.Repeat("x", notifier.MaxReasonLength+1), "invalid"},
		"a malformed id":    {"not-a-finding", "why", "bad_request"},
		"an unknown id":     {strings.Repeat("0", 64) + "-0", "why", "not_found"},
		"an out of range n": {fUntold.ID[:64] + "-99999999999", "why", "bad_request"},
	} {
		if _, err := operator.DismissFinding(ctx, slug, c.finding, c.reason); apiCode(err) != c.code {
			t.Errorf("dismissing with %s: %v, want %s", name, err, c.code)
		}
	}

	if got, err := operator.UndismissFinding(ctx, slug, fUntold.ID, "it was a real password"); err != nil || got.Dismissed != nil {
		t.Fatalf("undismiss: %+v, %v", got, err)
	}
	if types := itemTypes(t, e, "proseware", untold); !slices.Equal(types, []string{"password"}) {
		t.Errorf("proseware's item names %v after the undismissal, want [password]", types)
	}
	if n := urgentOrgs(t, e, slug); n != 1 {
		t.Errorf("%d urgent organizations after the undismissal, want 1", n)
	}
	want := []string{"evidence.finding.dismiss by ir analyst", "evidence.finding.dismiss by ir analyst", "evidence.finding.undismiss by ir analyst"}
	if got := auditActions(t, e.Client, "evidence.finding"); !slices.Equal(got, want) {
		t.Errorf("audit: %q, want %q", got, want)
	}
}
