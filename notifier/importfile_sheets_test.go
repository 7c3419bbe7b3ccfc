package notifier_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
)

// TestImportFilesAsSpreadsheetsSaveThem reads files the way Excel and
// LibreOffice write them in several locales.
func TestImportFilesAsSpreadsheetsSaveThem(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, file string
	}{
		{"semicolons, BOM, CRLF, headers in other case, Excel's blank rows",
			"\xef\xbb\xbfOrg_Ref;ORG NAME;Email;Locale\r\nacme;Acme GmbH;soc@bücher.example;EN\r\n;;;\r\nacme;Acme GmbH;sécurité@exämple.de;de_AT\r\n;;;\r\n"},
		{"tabs", "org_ref\torg_name\tcontact_email\tlocale\nacme\tAcme GmbH\tsoc@bücher.example\ten\nacme\tAcme GmbH\tsécurité@exämple.de\tde-at\n"},
		{"commas, aliases", "Organisation Ref,Organization_Name,e-mail,language\nacme,Acme GmbH,soc@bücher.example,en\nacme,Acme GmbH,sécurité@exämple.de,DE-AT\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows, err := notifier.ParseOrganizations(strings.NewReader(c.file), notifier.FormatCSV, notifier.ImportLimits{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 2 {
				t.Fatalf("%d rows, want 2: %+v", len(rows), rows)
			}
			want := []struct{ email, ascii, locale string }{
				{"soc@bücher.example", "soc@xn--bcher-kva.example", "en"},
				{"sécurité@exämple.de", "sécurité@xn--exmple-cua.de", "de-AT"},
			}
			for i, w := range want {
				r := rows[i]
				if r.OrgName != "Acme GmbH" || r.Email != w.email || r.EmailASCII != w.ascii || r.Locale != w.locale {
					t.Errorf("row %d = %+v, want email %s (%s), locale %s", i, r, w.email, w.ascii, w.locale)
				}
			}
		})
	}
}

func TestImportRefusesWhatItCannotRead(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, file string
		line       int
		says       string
	}{
		{"Windows-1252", "org_ref,org_name,contact_email\na,A,x@a.example\nb,M\xfcller GmbH,x@b.example\nc,Caf\xe9,x@c.example\n", 3, "CSV UTF-8"},
		{"UTF-16", "\xff\xfeo\x00r\x00g\x00", 1, "UTF-16"},
		{"same column twice, once by an alias", "org_ref,org_name,email,contact_email\n", 1, "twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := notifier.ParseOrganizations(strings.NewReader(c.file), notifier.FormatCSV, notifier.ImportLimits{})
			got := rowErrors(t, err)
			// Said once, not once per line.
			if len(got) != 1 || got[0].Line != c.line || !strings.Contains(got[0].Message, c.says) {
				t.Fatalf("problems %+v, want one on line %d saying %q", got, c.line, c.says)
			}
		})
	}
}

// TestImportDuplicatesWithinAFile takes a row repeated word for word once
// and refuses two rows for one thing that differ, naming both lines.
func TestImportDuplicatesWithinAFile(t *testing.T) {
	t.Parallel()
	const h = "org_ref,org_name,contact_email,contact_name\n"
	rows, err := notifier.ParseOrganizations(strings.NewReader(h+"a,A,x@a.example,Ann\na,A,x@a.example,Ann\n"), notifier.FormatCSV, notifier.ImportLimits{})
	if err != nil || len(rows) != 1 {
		t.Fatalf("identical rows: %+v, %v; want one row", rows, err)
	}
	// The Unicode and the punycode spelling of a domain are one address.
	_, err = notifier.ParseOrganizations(strings.NewReader(h+"a,A,soc@bücher.example,Ann\nb,B,y@b.example,\na,A,soc@xn--bcher-kva.example,Bob\n"), notifier.FormatCSV, notifier.ImportLimits{})
	got := rowErrors(t, err)
	if len(got) != 1 || got[0].Line != 4 || got[0].Field != "contact_email" || !strings.Contains(got[0].Message, "lines 2 and 4") {
		t.Fatalf("problems %+v, want line 4 naming lines 2 and 4", got)
	}
}

func TestImportMultiLineSummary(t *testing.T) {
	t.Parallel()
	in := "org_ref;item_ref;kind;summary\r\nacme;A-1;email;\"Invoice thread\r\nwith the CFO; two replies\"\r\n"
	rows, err := notifier.ParseExposures(strings.NewReader(in), notifier.FormatCSV)
	if err != nil || len(rows) != 1 || rows[0].Summary != "Invoice thread\nwith the CFO; two replies" {
		t.Fatalf("rows %+v, %v", rows, err)
	}
}

// TestImportLimits refuses a file over the row or byte limit with an error
// that names the setting to raise.
func TestImportLimits(t *testing.T) {
	t.Parallel()
	file := "org_ref,org_name,contact_email\n" + strings.Repeat("a,A,x@a.example\n", 3)
	for _, c := range []struct {
		limits  notifier.ImportLimits
		setting string
	}{
		{notifier.ImportLimits{MaxRows: 2}, "BREACHNOTIFY_IMPORT_MAX_ROWS"},
		{notifier.ImportLimits{MaxBytes: int64(len(file) - 1)}, "BREACHNOTIFY_IMPORT_MAX_BYTES"},
	} {
		_, err := notifier.ParseOrganizations(strings.NewReader(file), notifier.FormatCSV, c.limits)
		var e *notifier.Error
		if !errors.As(err, &e) || e.Code != notifier.CodeTooLarge || !strings.Contains(e.Message, c.setting) {
			t.Errorf("limits %+v: err = %v, want too_large naming %s", c.limits, err, c.setting)
		}
	}
	if _, err := notifier.ParseOrganizations(strings.NewReader(file), notifier.FormatCSV, notifier.ImportLimits{MaxRows: 3, MaxBytes: int64(len(file))}); err != nil {
		t.Errorf("a file exactly at the limits: %v", err)
	}
}

// TestImportListsProblemsUpToACap lists the first problems and counts the
// rest, so a file wrong on every line gets a readable answer.
func TestImportListsProblemsUpToACap(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("org_ref,item_ref,kind\n")
	for i := range 1500 {
		fmt.Fprintf(&b, "a,%d,malware\n", i)
	}
	got := rowErrors(t, mustFail(notifier.ParseExposures(strings.NewReader(b.String()), notifier.FormatCSV)))
	last := got[len(got)-1]
	if len(got) != 1001 || got[999].Line != 1001 || got[999].Field != "kind" || !strings.Contains(last.Message, "500 more") || !strings.Contains(last.Message, "1500 in all") {
		t.Fatalf("%d problems, last two %+v %+v", len(got), got[len(got)-2], last)
	}
}
