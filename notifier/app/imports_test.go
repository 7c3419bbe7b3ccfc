package app_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/apiclient"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/templates"
)

// TestImportsAsUsersFilesAre imports a European Excel file with
// internationalized addresses, then exposure files with repeats, through
// the API as the CLI sends them.
func TestImportsAsUsersFilesAre(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{NoWorkers: true})
	ctx := context.Background()
	excel := "\xef\xbb\xbfOrg_Ref;Org Name;Email;Locale\r\n" +
		"acme;Acme GmbH;soc@bücher.example;EN\r\n" +
		";;;\r\n" +
		"acme;Acme GmbH;sécurité@exämple.de;de_AT\r\n"
	res, err := e.Client.ImportOrganizations(ctx, strings.NewReader(excel), notifier.FormatCSV)
	if err != nil || res.Contacts.Created != 2 {
		t.Fatalf("import = %+v, %v; want two contacts", res, err)
	}
	var contacts notifier.ListResult[notifier.Contact]
	if err := e.Client.Do(ctx, http.MethodGet, "/api/v1/organizations/acme/contacts", "", nil, &contacts); err != nil {
		t.Fatal(err)
	}
	got := map[string]notifier.Contact{}
	for _, c := range contacts.Items {
		got[c.Email] = c
	}
	if c := got["soc@bücher.example"]; c.EmailASCII != "soc@xn--bcher-kva.example" || c.Locale != "en" {
		t.Errorf("IDN contact = %+v", c)
	}
	if c := got["sécurité@exämple.de"]; c.EmailASCII != "sécurité@xn--exmple-cua.de" || c.Locale != "de-AT" {
		t.Errorf("EAI contact = %+v", c)
	}
	// The punycode spelling is the same contact, not a new one.
	res, err = e.Client.ImportOrganizations(ctx, strings.NewReader("org_ref,org_name,contact_email\nacme,Acme GmbH,SOC@XN--BCHER-KVA.example\n"), notifier.FormatCSV)
	if err != nil || res.Contacts.Created != 0 || res.Contacts.Updated != 1 {
		t.Fatalf("re-import in punycode = %+v, %v; want the contact updated, none created", res, err)
	}

	if _, err := e.Client.CreateIncident(ctx, notifier.NewIncident{Slug: "x", Title: "X"}); err != nil {
		t.Fatal(err)
	}
	// Every problem in one reply, in line order: the file's own and those
	// only the database sees. A repeat with other content names both lines.
	_, err = e.Client.ImportExposures(ctx, "x", strings.NewReader("org_ref,item_ref,kind,subject\n"+
		"acme,A-1,email,Invoice\n"+
		"ghost,G-1,email,x\n"+
		"acme,A-2,malware,x\n"+
		"acme,A-1,email,Invoice (edited)\n"), notifier.FormatCSV)
	var apiErr *apiclient.Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnprocessableEntity {
		t.Fatalf("err = %v, want 422", err)
	}
	want := []notifier.RowError{{Line: 3, Field: "org_ref"}, {Line: 4, Field: "kind"}, {Line: 5, Field: "item_ref"}}
	if len(apiErr.Rows) != len(want) {
		t.Fatalf("problems %+v, want %d", apiErr.Rows, len(want))
	}
	for i, w := range want {
		if apiErr.Rows[i].Line != w.Line || apiErr.Rows[i].Field != w.Field {
			t.Errorf("problem %d = %+v, want line %d field %s", i, apiErr.Rows[i], w.Line, w.Field)
		}
	}
	if m := apiErr.Rows[2].Message; !strings.Contains(m, "lines 2 and 5") {
		t.Errorf("conflict message %q does not name both lines", m)
	}
	// A row repeated word for word is taken once; a re-import adds nothing.
	file := "org_ref,item_ref,kind,subject\nacme,A-1,email,Invoice\nacme,A-1,email,Invoice\nacme,A-2,file,x\n"
	batch, err := e.Client.ImportExposures(ctx, "x", strings.NewReader(file), notifier.FormatCSV)
	if err != nil || batch.ItemsNew != 2 || batch.ItemsDuplicate != 1 || batch.Organizations != 1 {
		t.Fatalf("import = %+v, %v; want 2 new, 1 duplicate", batch, err)
	}
	batch, err = e.Client.ImportExposures(ctx, "x", strings.NewReader(file), notifier.FormatCSV)
	if err != nil || batch.ItemsNew != 0 || batch.ItemsDuplicate != 3 {
		t.Fatalf("re-import = %+v, %v; want nothing new", batch, err)
	}
}

// TestImportLimitIsNamed refuses an exposure file over the row limit with
// 413 and the setting to raise.
func TestImportLimitIsNamed(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{NoWorkers: true, Configure: func(c *config.Config) {
		c.ImportMaxRows = 2
		c.ImportMaxBytes = 1 << 20
	}})
	ctx := context.Background()
	if _, err := e.Client.CreateIncident(ctx, notifier.NewIncident{Slug: "x", Title: "X"}); err != nil {
		t.Fatal(err)
	}
	_, err := e.Client.ImportExposures(ctx, "x", strings.NewReader("org_ref,item_ref,kind\na,1,file\na,2,file\na,3,file\n"), notifier.FormatCSV)
	var apiErr *apiclient.Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusRequestEntityTooLarge || !strings.Contains(apiErr.Error(), "BREACHNOTIFY_IMPORT_MAX_ROWS") {
		t.Fatalf("err = %v, want 413 naming BREACHNOTIFY_IMPORT_MAX_ROWS", err)
	}
	// Past the byte limit the upload is cut short, and the client still
	// reads the answer.
	big := "org_ref,item_ref,kind,summary\na,1,file," + strings.Repeat("x", 8<<20) + "\n"
	_, err = e.Client.ImportExposures(ctx, "x", strings.NewReader(big), notifier.FormatCSV)
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusRequestEntityTooLarge || !strings.Contains(apiErr.Error(), "BREACHNOTIFY_IMPORT_MAX_BYTES") {
		t.Fatalf("err = %v, want 413 naming BREACHNOTIFY_IMPORT_MAX_BYTES", err)
	}
}

// TestWaveToInternationalizedAddresses sends a wave to contacts imported
// with a Unicode domain and a Unicode local part; the embedded mailbox
// offers SMTPUTF8, so both arrive as given.
func TestWaveToInternationalizedAddresses(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	ctx := context.Background()
	if _, err := e.Client.ImportOrganizations(ctx, strings.NewReader("org_ref;org_name;contact_email\r\n"+
		"acme;Acme GmbH;soc@bücher.example\r\nacme;Acme GmbH;sécurité@exämple.de\r\n"), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.CreateIncident(ctx, notifier.NewIncident{Slug: "idn", Title: "IDN"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.ImportExposures(ctx, "idn", strings.NewReader("org_ref,item_ref,kind\nacme,A-1,email\n"), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	plan, err := e.Client.PlanWave(ctx, "idn", templates.KindInitial)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.LaunchWave(ctx, plan.ID); err != nil {
		t.Fatal(err)
	}
	w, err := e.Client.WaitWave(ctx, plan.ID, 50*time.Millisecond, nil)
	if err != nil || w.Deliveries[notifier.DeliverySent] != 2 {
		t.Fatalf("wave = %+v, %v; want 2 sent", w, err)
	}
	got := map[string]bool{}
	for _, m := range e.Mailbox.Messages() {
		got[strings.Join(m.Recipients, ",")] = true
	}
	if !got["soc@bücher.example"] || !got["sécurité@exämple.de"] {
		t.Errorf("the mailbox got %v", got)
	}
}

// TestImportCountsEveryProblem lists the first problems, of the file and
// of the database's checks together, and counts the rest.
func TestImportCountsEveryProblem(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{NoWorkers: true})
	ctx := context.Background()
	if _, err := e.Client.CreateIncident(ctx, notifier.NewIncident{Slug: "x", Title: "X"}); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("org_ref,item_ref,kind\n")
	for i := range 1500 {
		if i%5 == 0 {
			fmt.Fprintf(&b, "ghost,%d,malware\n", i) // a bad kind: the row is not checked further
		} else {
			fmt.Fprintf(&b, "ghost,%d,file\n", i) // an unknown organization
		}
	}
	_, err := e.Client.ImportExposures(ctx, "x", strings.NewReader(b.String()), notifier.FormatCSV)
	var apiErr *apiclient.Error
	if !errors.As(err, &apiErr) || len(apiErr.Rows) != 1001 {
		t.Fatalf("err = %v, want 1,000 problems listed and a count", err)
	}
	for i, r := range apiErr.Rows[:1000] {
		want := "org_ref"
		if i%5 == 0 {
			want = "kind"
		}
		if r.Line != i+2 || r.Field != want {
			t.Fatalf("problem %d = %+v, want line %d field %s", i, r, i+2, want)
		}
	}
	if last := apiErr.Rows[1000].Message; !strings.Contains(last, "500 more") || !strings.Contains(last, "1500 in all") ||
		!strings.Contains(apiErr.Message, "1500 problem") {
		t.Errorf("message %q, last %q: want 500 more of 1500", apiErr.Message, last)
	}
}
