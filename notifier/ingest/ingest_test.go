package ingest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/breachnotify/breachnotify/migrations/testdb"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/evidence"
	"github.com/breachnotify/breachnotify/notifier/ingest"
	"github.com/breachnotify/breachnotify/notifier/sampledata"
	"github.com/breachnotify/breachnotify/notifier/secrets"
	"github.com/breachnotify/breachnotify/notifier/store"
	"github.com/breachnotify/breachnotify/notifier/vault"
	"github.com/breachnotify/breachnotify/queue"
)

var actor = notifier.LocalActor("ingest test")

// bundle is what setup returns beside the importer.
type bundle struct {
	pool     *pgxpool.Pool
	store    *store.Store
	svc      *notifier.Service
	keyring  *vault.Keyring
	incident notifier.Incident
}

// setup gives each test its own database with the sample organizations
// and an incident, and an importer committing groups of groupSize.
func setup(t *testing.T, groupSize int) (*ingest.Importer, *bundle) {
	t.Helper()
	ctx := context.Background()
	pool := testdb.ServicePool(t, 0)
	jobs, err := queue.NewInserter(pool, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := notifier.NewAuditKeys(notifier.AuditKey{Secret: []byte("the ingest tests' audit key, 32b")})
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(pool, store.Config{Jobs: jobs, MessageIDDomain: "notify.example", AuditKeys: keys})
	svc := notifier.NewService(st, notifier.ServiceConfig{AuditKeys: keys})
	if _, err := svc.ImportOrganizations(ctx, actor, bytes.NewReader(sampledata.File(sampledata.Organizations)), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	// A contact at a free-mail provider: only this exact address exposes
	// Woodgrove.
	if _, err := svc.ImportOrganizations(ctx, actor, strings.NewReader("org_ref,org_name,contact_email,role\nwoodgrove,Woodgrove Bank,camille.private@gmail.example,executive\n"), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	inc, err := svc.CreateIncident(ctx, actor, notifier.NewIncident{Slug: "mailbox", Title: "Corporate mailbox read", Summary: "An attacker read mail."})
	if err != nil {
		t.Fatal(err)
	}
	ring, err := vault.NewKeyring(bytes.Repeat([]byte{7}, vault.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	free, err := evidence.NewFreeMail([]string{"gmail.example"})
	if err != nil {
		t.Fatal(err)
	}
	scanner, err := secrets.NewScanner(bytes.Repeat([]byte{9}, secrets.MinKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	im, err := ingest.New(ingest.Config{Store: st, Keyring: ring, FreeMail: free, Secrets: scanner, GroupSize: groupSize})
	if err != nil {
		t.Fatal(err)
	}
	return im, &bundle{pool: pool, store: st, svc: svc, keyring: ring, incident: inc}
}

// mail is a message of the test's mailbox.
func mail(from, to, subject string, extra ...string) string {
	return fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%x@mail.example>\r\nDate: Mon, 2 Nov 2026 09:00:00 +0000\r\n%s\r\nBody of %s.\r\n",
		from, to, subject, sha256.Sum256([]byte(subject)), strings.Join(extra, ""), subject)
}

// mailbox is what the stolen mailbox holds: messages exposing one and two
// organizations, a subdomain, a free-mail address that is a known
// contact and others that are not, nobody known, and a broken message.
var mailbox = []string{
	mail("alice@contoso.example", "bob@fabrikam.example", "Contract renewal"),
	mail("it@mail.eu.contoso.example", "someone@elsewhere.example", "VPN change"),
	mail("Camille.Private@gmail.example", "stranger@gmail.example", "Board dinner"),
	mail("nobody@elsewhere.example", "anyone@gmail.example", "Lunch"),
	mail("soc@litware.example", "soc@contoso.example", "Incident bridge", "Cc: attacker@gmail.example\r\n") +
		"The bridge password: Winter2026!Vendor\r\n",
	"this is not a mail message at all\r\n\r\n",
}

func messages(raws ...string) iter.Seq2[evidence.Raw, error] {
	return func(yield func(evidence.Raw, error) bool) {
		for i, s := range raws {
			b := []byte(s)
			if !yield(evidence.Raw{Source: fmt.Sprintf("test.mbox#%d", i+1), Bytes: b, Size: int64(len(b)), SHA256: sha256.Sum256(b)}, nil) {
				return
			}
		}
	}
}

// TestImportAttributesStoresAndItemizes imports the mailbox and checks
// what IR staff would: the counts, one exposure item per organization
// and message with that organization's people, the batch that makes
// initial notices due, the raw bytes readable back only through the
// incident's key, and a second import of the same mail adding nothing.
func TestImportAttributesStoresAndItemizes(t *testing.T) {
	t.Parallel()
	im, b := setup(t, 2)
	ctx := context.Background()
	imp, err := im.Import(ctx, actor, b.incident.ID, "test.mbox", messages(mailbox...))
	if err != nil {
		t.Fatal(err)
	}
	if imp.Status != notifier.EvidenceImportDone || imp.Messages != 6 || imp.Stored != 6 || imp.Known != 0 || imp.Unparseable != 1 || imp.Unattributed != 2 {
		t.Fatalf("import %+v", imp)
	}
	if imp.Batch == nil || imp.Batch.ItemsNew != 6 || imp.Batch.Organizations != 4 ||
		!slices.Equal(imp.Batch.AwaitingInitial, []string{"contoso", "fabrikam", "litware", "woodgrove"}) {
		t.Fatalf("batch %+v, want 6 new items over 4 organizations awaiting their initial notice", imp.Batch)
	}
	// Who is exposed by what, and by whom.
	rows, err := b.pool.Query(ctx, `SELECT o.ref, i.subject, i.summary FROM exposure_items i JOIN organizations o ON o.id = i.organization_id
		WHERE i.batch_id = $1 ORDER BY o.ref, i.subject`, imp.Batch.BatchID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var ref, subject, summary string
		if err := rows.Scan(&ref, &subject, &summary); err != nil {
			t.Fatal(err)
		}
		got = append(got, ref+": "+subject+" | "+strings.ReplaceAll(summary, "\n", " | "))
	}
	want := []string{
		"contoso: Contract renewal | From: alice@contoso.example | Your people in it: alice@contoso.example",
		"contoso: Incident bridge | From: soc@litware.example | Your people in it: soc@contoso.example",
		"contoso: VPN change | From: it@mail.eu.contoso.example | Your people in it: it@mail.eu.contoso.example",
		"fabrikam: Contract renewal | From: alice@contoso.example | Your people in it: bob@fabrikam.example",
		"litware: Incident bridge | From: soc@litware.example | Your people in it: soc@litware.example",
		"woodgrove: Board dinner | From: Camille.Private@gmail.example | Your people in it: camille.private@gmail.example",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("items:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The secret in the bridge message: its type on both organizations'
	// items, its finding masked, and the secret itself nowhere in clear.
	var types []string
	if err := b.pool.QueryRow(ctx, `SELECT array_agg(DISTINCT t ORDER BY t) FROM exposure_items i, unnest(i.secret_types) AS t
		WHERE i.batch_id = $1 AND i.subject = 'Incident bridge'`, imp.Batch.BatchID).Scan(&types); err != nil || !slices.Equal(types, []string{"password"}) {
		t.Fatalf("secret types of the bridge items: %q, %v", types, err)
	}
	var masked, part string
	var line int
	if err := b.pool.QueryRow(ctx, `SELECT masked, part, line FROM evidence_findings`).Scan(&masked, &part, &line); err != nil ||
		strings.Contains(masked, "Winter") || part != "text" || line != 2 {
		t.Fatalf("finding: %q in %s line %d, %v", masked, part, line, err)
	}
	var leaks int
	b.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM evidence_findings f WHERE f::text LIKE '%Winter2026%')
		+ (SELECT count(*) FROM evidence_messages m WHERE m::text LIKE '%Winter2026%')
		+ (SELECT count(*) FROM exposure_items i WHERE i::text LIKE '%Winter2026%')
		+ (SELECT count(*) FROM audit_log a WHERE a::text LIKE '%Winter2026%')`).Scan(&leaks)
	if leaks != 0 {
		t.Fatalf("the secret is in clear in %d rows", leaks)
	}

	// The raw message, read back through the key.
	w, found, err := b.store.IncidentKey(ctx, b.incident.ID)
	if err != nil || !found {
		t.Fatalf("incident key: %v %v", found, err)
	}
	key, err := b.keyring.Unwrap(ingest.Scope(b.incident.ID), w)
	if err != nil {
		t.Fatal(err)
	}
	sha := sha256.Sum256([]byte(mailbox[0]))
	r, err := b.store.EvidenceReader(ctx, b.incident.ID, sha[:])
	if err != nil {
		t.Fatal(err)
	}
	plain, err := key.Decrypt(r, string(sha[:]))
	if err != nil {
		t.Fatal(err)
	}
	if raw, err := io.ReadAll(plain); err != nil || string(raw) != mailbox[0] {
		t.Fatalf("read back %q, %v", raw, err)
	}
	var clear int
	b.pool.QueryRow(ctx, `SELECT count(*) FROM evidence_blobs WHERE position('Contract renewal'::bytea IN data) > 0`).Scan(&clear)
	if clear != 0 {
		t.Fatalf("%d evidence rows hold a subject in clear", clear)
	}

	again, err := im.Import(ctx, actor, b.incident.ID, "test.mbox again", messages(mailbox...))
	if err != nil {
		t.Fatal(err)
	}
	if again.Stored != 0 || again.Known != 6 || again.Batch == nil || again.Batch.ItemsNew != 0 {
		t.Fatalf("a second import of the same mail: %+v %+v", again, again.Batch)
	}
}

// TestImportResumesAfterAnInterruption stops an import after its first
// group and runs it again: the second run stores only the rest, and its
// batch itemizes the messages of both runs.
func TestImportResumesAfterAnInterruption(t *testing.T) {
	t.Parallel()
	im, b := setup(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	stopping := func(yield func(evidence.Raw, error) bool) {
		for raw, err := range messages(mailbox...) {
			if raw.Source == "test.mbox#3" {
				cancel() // the first group (two messages) is committed
				yield(evidence.Raw{}, ctx.Err())
				return
			}
			if !yield(raw, err) {
				return
			}
		}
	}
	first, err := im.Import(ctx, actor, b.incident.ID, "test.mbox", stopping)
	if !errors.Is(err, context.Canceled) || first.Status != notifier.EvidenceImportFailed {
		t.Fatalf("interrupted import: %+v, %v", first, err)
	}
	stored, err := b.store.EvidenceImport(context.Background(), first.ID)
	if err != nil || stored.Status != notifier.EvidenceImportFailed || stored.Stored != 2 || !strings.Contains(stored.Error, "interrupted") {
		t.Fatalf("the interrupted import as stored: %+v, %v", stored, err)
	}
	second, err := im.Import(context.Background(), actor, b.incident.ID, "test.mbox", messages(mailbox...))
	if err != nil {
		t.Fatal(err)
	}
	if second.Stored != 4 || second.Known != 2 || second.Batch.ItemsNew != 6 {
		t.Fatalf("resumed import: %+v %+v", second, second.Batch)
	}
}

// TestImportNeedsAKeyAndTheOperatorRole refuses to store evidence without a
// master key, and to let a viewer import.
func TestImportNeedsAKeyAndTheOperatorRole(t *testing.T) {
	t.Parallel()
	_, b := setup(t, 2)
	keyless, err := ingest.New(ingest.Config{Store: b.store})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keyless.Import(context.Background(), actor, b.incident.ID, "x", messages(mailbox[0])); !errors.Is(err, ingest.ErrNoKey) {
		t.Fatalf("without a key: %v", err)
	}
	im, _ := ingest.New(ingest.Config{Store: b.store, Keyring: b.keyring})
	viewer := notifier.Actor{KeyID: 99, Name: "auditor", Role: notifier.RoleViewer}
	if _, err := im.Import(context.Background(), viewer, b.incident.ID, "x", messages(mailbox[0])); notifier.ErrorCode(err) != notifier.CodeForbidden {
		t.Fatalf("a viewer: %v, want forbidden", err)
	}
}

// TestImportRealMail imports the 101 real messages of the shared fixtures'
// corpus.mbox (other projects' test mail, broken ones included): every one
// is stored, none crashes the import.
func TestImportRealMail(t *testing.T) {
	t.Parallel()
	dir := os.Getenv("BREACHNOTIFY_FIXTURES")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "fixtures")
	}
	path := filepath.Join(dir, "mime-real", "corpus.mbox")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no fixtures at %s (set BREACHNOTIFY_FIXTURES): %v", path, err)
	}
	im, b := setup(t, 25)
	reader, err := evidence.NewReader(evidence.Config{})
	if err != nil {
		t.Fatal(err)
	}
	imp, err := im.Import(context.Background(), actor, b.incident.ID, "corpus.mbox", reader.Read(context.Background(), path))
	if err != nil {
		t.Fatal(err)
	}
	if imp.Messages != 101 || imp.Stored+imp.Known != 101 {
		t.Fatalf("corpus import: %+v", imp)
	}
	t.Logf("corpus.mbox: %d messages, %d stored, %d duplicates, %d unparseable, %d unattributed", imp.Messages, imp.Stored, imp.Known, imp.Unparseable, imp.Unattributed)
}

// TestImportNamesUnreadableInputs finishes an import whose source could
// not read one input, and keeps what it could not read in the import's
// record, not only in the reply.
func TestImportNamesUnreadableInputs(t *testing.T) {
	t.Parallel()
	im, b := setup(t, 10)
	ctx := context.Background()
	withBroken := func(yield func(evidence.Raw, error) bool) {
		for raw, err := range messages(mailbox[0]) {
			if !yield(raw, err) {
				return
			}
		}
		yield(evidence.Raw{Source: "old.zip"}, &evidence.SourceError{Source: "old.zip", Err: errors.New("zip: not a valid zip file")})
	}
	imp, err := im.Import(ctx, actor, b.incident.ID, "mixed", withBroken)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := b.store.EvidenceImport(ctx, imp.ID)
	if err != nil || stored.Status != notifier.EvidenceImportDone || stored.Stored != 1 ||
		!strings.Contains(stored.Error, "1 inputs could not be read: old.zip: zip: not a valid zip file") {
		t.Fatalf("import as stored: %+v, %v", stored, err)
	}
}

// TestImportStoresHostileHeaders imports messages whose headers hold what
// PostgreSQL text refuses: a NUL from an encoded word, raw bytes that are
// not UTF-8, a NUL in a display name and an attachment name. They are
// stored with U+FFFD in place, and the import goes on.
func TestImportStoresHostileHeaders(t *testing.T) {
	t.Parallel()
	im, b := setup(t, 10)
	ctx := context.Background()
	nul := "From: =?utf-8?q?Ali=00ce?= <alice@contoso.example>\r\nTo: bob@fabrikam.example\r\nSubject: =?utf-8?q?in=00voice?=\r\n\r\nbody\r\n"
	raw8 := "From: alice@contoso.example\r\nTo: bob@fabrikam.example\r\nSubject: caf\xe9 \xff\xfe\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n" +
		"--b\r\nContent-Type: application/octet-stream; name=\"a\x00b\xff.pdf\"\r\nContent-Disposition: attachment; filename=\"a\x00b\xff.pdf\"\r\n\r\nxx\r\n--b--\r\n"
	imp, err := im.Import(ctx, actor, b.incident.ID, "hostile", messages(nul, raw8))
	if err != nil {
		t.Fatal(err)
	}
	if imp.Stored != 2 || imp.Batch == nil || imp.Batch.ItemsNew != 4 {
		t.Fatalf("import %+v %+v", imp, imp.Batch)
	}
	rows, err := b.pool.Query(ctx, `SELECT subject || ' ' || participants::text || ' ' || attachments::text FROM evidence_messages ORDER BY subject`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		if strings.ContainsRune(s, 0) || !utf8.ValidString(s) {
			t.Errorf("stored %q", s)
		}
	}
}

// TestImportScansEveryTextOfAMessage finds secrets where a reader of the
// stolen message would: in a header, in a configuration file sent as
// application/octet-stream, and in a message forwarded as an attachment;
// each finding names its part, and the items carry every type.
func TestImportScansEveryTextOfAMessage(t *testing.T) {
	t.Parallel()
	im, b := setup(t, 10)
	ctx := context.Background()
	raw := "From: alice@contoso.example\r\nTo: bob@fabrikam.example\r\nSubject: deploy\r\nX-Note: the password: Autumn2026!Hdr\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain\r\n\r\nsee the attachments\r\n" +
		"--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"prod.env\"\r\n\r\n" +
		"DATABASE_URL=postgres://app:Sup3rS3cret@db.contoso.example:5432/app\r\n" +
		"--b1\r\nContent-Type: message/rfc822\r\n\r\n" +
		"From: vendor@litware.example\r\nTo: alice@contoso.example\r\nSubject: access\r\n\r\nYour new password: Winter2026!Fwd\r\n" +
		"--b1--\r\n"
	imp, err := im.Import(ctx, actor, b.incident.ID, "scan", messages(raw))
	if err != nil || imp.Stored != 1 || imp.Batch == nil {
		t.Fatalf("import %+v, %v", imp, err)
	}
	rows, err := b.pool.Query(ctx, `SELECT part || ' ' || type FROM evidence_findings ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"headers password", "attachment 2 connection_string", "message 3 text password"}
	if !slices.Equal(got, want) {
		t.Fatalf("findings %q, want %q", got, want)
	}
	var types []string
	if err := b.pool.QueryRow(ctx, `SELECT secret_types FROM exposure_items WHERE batch_id = $1 LIMIT 1`, imp.Batch.BatchID).Scan(&types); err != nil ||
		!slices.Equal(types, []string{"connection_string", "password"}) {
		t.Fatalf("item secret types %q, %v", types, err)
	}
}
