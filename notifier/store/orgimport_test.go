package store_test

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
)

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
	_, b := emptySetup(t)
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
	_, b := emptySetup(t)
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

// TestOrganizationChecksAgree checks that the import, which makes the
// checks across rows in the database, refuses exactly what
// notifier.ParseOrganizations refuses in memory, with the same problems in
// the same order, and takes what it takes: the order in which the checks
// run decides which earlier line a refusal names.
func TestOrganizationChecksAgree(t *testing.T) {
	t.Parallel()
	const h = "org_ref,org_name,domains,contact_email,contact_name,jurisdiction,notify_within\n"
	many := strings.Builder{}
	many.WriteString(h)
	for i := range 1500 {
		fmt.Fprintf(&many, "a,A,,x@a.example,Name %d,,\n", i)
		if i%3 == 0 {
			many.WriteString("a,A,,not an address,,,\n")
		}
	}
	cases := map[string]string{
		"repeats":             h + "a,A,a.example,x@a.example,Ann,DE,72\nb,B,,y@b.example,,,\na,A,a.example,x@a.example,Ann,DE,72\n",
		"contact differs":     h + "a,A,,x@a.example,Ann,,\nb,B,,y@b.example,,,\na,A,,X@A.EXAMPLE,Ann,,\na,A,,x@a.example,Bob,,\n",
		"unicode domain":      h + "a,A,,soc@bücher.example,Ann,,\na,A,,soc@xn--bcher-kva.example,Bob,,\n",
		"unicode local part":  h + "a,A,,Äbc@a.example,Ann,,\na,A,,äbc@a.example,Ann,,\n",
		"domains differ":      h + "a,A,a.example,x@a.example,,,\na,A,\"a.example b.example\",x@a.example,,,\n",
		"terms differ":        h + "a,A,,x@a.example,,us-co,72h\na,A,,y@a.example,,US-CO,48\na,A,,z@a.example,,DE,24\nb,B,,x@b.example,,DE,\n",
		"name differs":        h + "a,A,,x@a.example,,,\na,B,,y@a.example,,,\na,A,,y@a.example,,,\na,B,,z@a.example,,,\n",
		"conflict not first":  h + "a,A,,x@a.example,,DE,\na,B,,y@a.example,,FR,\na,B,,z@a.example,,,\n",
		"refused row's terms": h + "a,A,,x@a.example,,,\na,B,,y@a.example,,DE,\na,A,,z@a.example,,FR,\n",
		"term and contract":   h + "a,A,,x@a.example,,DE,\na,A,,y@a.example,,FR,72\na,A,,z@a.example,,,48\n",
		"repeat adds terms":   h + "a,A,,x@a.example,,,\na,A,,x@a.example,,DE,24\n",
		"field errors too":    h + "a,A,,x@a.example,,,\nb,B,,bad,,,\na,A,,x@a.example,Bob,,\n,B,,y@b.example,,,\n",
		"over the cap":        many.String(),
		"domain order":        h + "a,A,\"z.example,m.example\",x@a.example,,,\na,A,\"b.example;z.example\",y@a.example,,,\nb,B,,y@b.example,,,\n",
	}
	for name, file := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st, b := emptySetup(t)
			ctx := context.Background()
			want, wantErr := notifier.ParseOrganizations(strings.NewReader(file), notifier.FormatCSV, notifier.ImportLimits{})
			res, err := b.svc.ImportOrganizations(ctx, actor, strings.NewReader(file), notifier.FormatCSV)
			if (err == nil) != (wantErr == nil) {
				t.Fatalf("import: %v; parse: %v", err, wantErr)
			}
			if wantErr != nil {
				got, _ := notifier.ErrorDetails(err).([]notifier.RowError)
				wantRows, _ := notifier.ErrorDetails(wantErr).([]notifier.RowError)
				if fmt.Sprint(got) != fmt.Sprint(wantRows) || err.Error() != wantErr.Error() {
					t.Fatalf("import refused with %v\n%v\nparse with %v\n%v", err, got, wantErr, wantRows)
				}
				return
			}
			orgs := map[string]notifier.ContactRow{}
			for _, r := range want {
				if _, ok := orgs[r.OrgRef]; !ok {
					orgs[r.OrgRef] = r
				}
			}
			if res.Contacts.Created != len(want) || res.Organizations.Created != len(orgs) {
				t.Fatalf("result %+v; parse took %d rows of %d organizations", res, len(want), len(orgs))
			}
			// The organization as the import before streaming made it: the
			// first row's name and locale, the terms any taken row gives,
			// the domains in the order the taken rows first give them.
			for ref := range orgs {
				var domains []string
				jurisdiction, within := "", 0
				for _, r := range want {
					if r.OrgRef != ref {
						continue
					}
					for _, d := range r.Domains {
						if !slices.Contains(domains, d) {
							domains = append(domains, d)
						}
					}
					jurisdiction, within = cmp.Or(r.Jurisdiction, jurisdiction), cmp.Or(r.NotifyWithinHours, within)
				}
				o, err := st.Organization(ctx, ref)
				if err != nil {
					t.Fatal(err)
				}
				if o.Name != orgs[ref].OrgName || o.Locale != orgs[ref].Locale || !slices.Equal(o.Domains, domains) ||
					o.Jurisdiction != jurisdiction || o.NotifyWithinHours == nil != (within == 0) || within != 0 && *o.NotifyWithinHours != within {
					t.Errorf("organization %+v; parse made %q %q %q %q %d", o, orgs[ref].OrgName, orgs[ref].Locale, domains, jurisdiction, within)
				}
			}
		})
	}
}

// TestOrganizationPreviewChecksAcrossRows checks that the console's dry
// run of an organizations file streams it through the same checks as the
// import, across rows far apart too, and writes nothing.
func TestOrganizationPreviewChecksAcrossRows(t *testing.T) {
	t.Parallel()
	_, b := emptySetup(t)
	ctx := context.Background()
	bad := &contactFile{n: 12_000, change: func(line int, row string) string {
		if line == 9000 {
			return strings.Replace(row, "Organization 899", "Organisation 899", 1)
		}
		return row
	}}
	p, err := b.svc.PreviewOrganizationImport(ctx, actor, bad, notifier.FormatCSV)
	if err != nil || p.OK() || len(p.Problems) != 1 || p.Problems[0].Line != 9000 || p.Problems[0].Field != "org_name" ||
		!strings.Contains(p.Problems[0].Message, "on line 8992") {
		t.Fatalf("preview %+v, %v; want line 9000's other name refused naming line 8992", p.Problems, err)
	}
	// Twelve rows, the second repeated: eleven contacts, the first ten shown.
	good := contactFileHeader + "a,A,a.example,x@a.example,,,,\na,A,a.example,x@a.example,,,,\n"
	for i := range 10 {
		good += fmt.Sprintf("a,A,a.example,y%d@a.example,,,,\n", i)
	}
	p, err = b.svc.PreviewOrganizationImport(ctx, actor, strings.NewReader(good), notifier.FormatCSV)
	if err != nil || !p.OK() || p.Valid != 11 || len(p.Rows) != 10 || p.Rows[0][0] != "2" || p.Rows[1][0] != "4" {
		t.Fatalf("preview %+v, %v; want 11 valid, lines 2, 4, … shown", p, err)
	}
	var orgs int
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM organizations`).Scan(&orgs); err != nil || orgs != 0 {
		t.Errorf("after the previews: %d organizations (%v), want none", orgs, err)
	}
}
