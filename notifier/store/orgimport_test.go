package store_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/breachnotify/breachnotify/migrations"
	"github.com/breachnotify/breachnotify/migrations/testdb"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/store"
)

// importSetup is a lighter setup for the import tests: an empty migrated
// database, its store and a service over it, no waves.
func importSetup(t *testing.T) (*store.Store, *bundle) {
	t.Helper()
	ctx := context.Background()
	pc, err := pgxpool.ParseConfig(testdb.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	pc.MaxConns = 4
	pc.AfterConnect = migrations.AssumeServiceRole
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	keys, err := notifier.NewAuditKeys(notifier.AuditKey{Secret: auditSecret})
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(pool, store.Config{MessageIDDomain: "notify.example", AuditKeys: keys})
	return st, &bundle{pool: pool, svc: notifier.NewService(st, notifier.ServiceConfig{AuditKeys: keys})}
}

// contactFile generates an organizations CSV of n contacts, ten to an
// organization, as it is read: a million rows are never held in memory.
// The first row of each organization gives its jurisdiction and contract.
// change, when set, may rewrite a row (by its line number) as it is made.
type contactFile struct {
	n, next int
	change  func(line int, row string) string
	pending []byte
}

const contactFileHeader = "org_ref,org_name,domain,contact_email,contact_name,role,jurisdiction,notify_within\n"

func (f *contactFile) Read(p []byte) (int, error) {
	if f.next == 0 && f.pending == nil {
		f.pending = []byte(contactFileHeader)
	}
	for len(f.pending) == 0 {
		if f.next >= f.n {
			return 0, io.EOF
		}
		i := f.next
		f.next++
		org := i / 10
		terms := ","
		if i%10 == 0 {
			terms = "DE,72"
		}
		row := fmt.Sprintf("org-%06d,Organization %d,org-%06d.example,c%d@org-%06d.example,Contact %d,security,%s\n",
			org, org, org, i%10, org, i, terms)
		if f.change != nil {
			row = f.change(i+2, row) // line 1 is the header
		}
		f.pending = []byte(row)
	}
	n := copy(p, f.pending)
	f.pending = f.pending[n:]
	return n, nil
}

// TestOrganizationImportFarConflict checks that two rows for one contact
// that differ are refused, naming both lines, even when thousands of rows
// lie between them, and that nothing of the file is written.
func TestOrganizationImportFarConflict(t *testing.T) {
	t.Parallel()
	_, b := importSetup(t)
	ctx := context.Background()
	// Line 9000 repeats line 3's contact (c1@org-000000.example) with
	// another name.
	file := &contactFile{n: 12_000, change: func(line int, row string) string {
		if line == 9000 {
			return "org-000000,Organization 0,org-000000.example,c1@org-000000.example,Someone Else,security,,\n"
		}
		return row
	}}
	_, err := b.svc.ImportOrganizations(ctx, actor, file, notifier.FormatCSV)
	rows, _ := notifier.ErrorDetails(err).([]notifier.RowError)
	if len(rows) != 1 || rows[0].Line != 9000 || rows[0].Field != "contact_email" ||
		!strings.Contains(rows[0].Message, "keep one of lines 3 and 9000") {
		t.Fatalf("import: %v, problems %+v; want line 9000 refused naming line 3", err, rows)
	}
	var orgs, contacts, audits int
	if err := b.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM organizations), (SELECT count(*) FROM contacts),
		(SELECT count(*) FROM audit_log WHERE action = 'organizations.import')`).Scan(&orgs, &contacts, &audits); err != nil {
		t.Fatal(err)
	}
	if orgs != 0 || contacts != 0 || audits != 0 {
		t.Errorf("after a refused import: %d organizations, %d contacts, %d audit entries; want none", orgs, contacts, audits)
	}
	// An organization's term given differently far apart is refused too.
	file = &contactFile{n: 12_000, change: func(line int, row string) string {
		if line == 9002 { // the first row of org-000900
			return strings.Replace(row, "DE,72", "DE,48", 1)
		}
		if line == 9005 {
			return strings.Replace(row, ",,\n", ",,72\n", 1)
		}
		return row
	}}
	_, err = b.svc.ImportOrganizations(ctx, actor, file, notifier.FormatCSV)
	rows, _ = notifier.ErrorDetails(err).([]notifier.RowError)
	if len(rows) != 1 || rows[0].Line != 9005 || rows[0].Field != "notify_within" || !strings.Contains(rows[0].Message, "on line 9002") {
		t.Fatalf("import: %v, problems %+v; want line 9005 refused naming line 9002", err, rows)
	}
}

// TestOrganizationImportMemory imports a generated file of a million
// contacts (100,000 organizations), read from a generator as the import
// goes, and reports the time and the heap's high-water mark meanwhile,
// sampled from runtime/metrics. It takes minutes, so it runs only when
// asked:
//
//	BREACHNOTIFY_TEST_BIG_IMPORT=1 go test -count=1 -run TestOrganizationImportMemory -v ./notifier/store/
//
// BREACHNOTIFY_TEST_BIG_IMPORT may also give the row count (say 50000).
// The figures are reported, not asserted: docs/performance.md keeps them.
func TestOrganizationImportMemory(t *testing.T) {
	n := os.Getenv("BREACHNOTIFY_TEST_BIG_IMPORT")
	if n == "" {
		t.Skip("set BREACHNOTIFY_TEST_BIG_IMPORT=1 (or a row count) to run the million-contact import")
	}
	rows := 1_000_000
	if v, err := strconv.Atoi(n); err == nil && v > 1 {
		rows = v
	}
	_, b := importSetup(t)
	runtime.GC()
	done := make(chan struct{})
	peak := make(chan uint64, 1)
	go func() {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var high uint64
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			high = max(high, sample[0].Value.Uint64())
			select {
			case <-done:
				peak <- high
				return
			case <-tick.C:
			}
		}
	}()
	start := time.Now()
	res, err := b.svc.ImportOrganizations(context.Background(), actor, bufio.NewReaderSize(&contactFile{n: rows}, 64<<10), notifier.FormatCSV)
	elapsed := time.Since(start)
	close(done)
	high := <-peak
	if err != nil {
		t.Fatal(err)
	}
	if res.Contacts.Created != rows || res.Organizations.Created != (rows+9)/10 {
		t.Fatalf("result %+v, want %d contacts and %d organizations created", res, rows, (rows+9)/10)
	}
	t.Logf("%d contacts, %d organizations: imported in %s (%.0f rows/s); heap high-water (live and unswept objects) %.1f MiB",
		rows, res.Organizations.Created, elapsed.Round(time.Millisecond), float64(rows)/elapsed.Seconds(), float64(high)/(1<<20))
}
