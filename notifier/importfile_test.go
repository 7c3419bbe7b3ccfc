package notifier_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/deadlines"
	"github.com/breachnotify/breachnotify/notifier/sampledata"
)

const orgHeader = "org_ref,org_name,domain,contact_email,contact_name,role,portal_access,locale\n"

// termsHeader adds an organization's jurisdiction and contract.
const termsHeader = "org_ref,org_name,contact_email,jurisdiction,notify_within\n"

func rowErrors(t *testing.T, err error) []notifier.RowError {
	t.Helper()
	var e *notifier.Error
	if !errors.As(err, &e) || e.Code != notifier.CodeInvalid {
		t.Fatalf("err = %v, want an invalid-input error", err)
	}
	rows, _ := e.Details.([]notifier.RowError)
	return rows
}

func TestParseOrganizationsSample(t *testing.T) {
	t.Parallel()
	rows, err := notifier.ParseOrganizations(bytes.NewReader(sampledata.File(sampledata.Organizations)), notifier.FormatCSV)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 13 {
		t.Fatalf("%d rows, want 13", len(rows))
	}
	r := rows[6]
	if r.OrgRef != "northwind" || r.Name != "O'Brien, Maeve" || r.Role != "legal" || r.PortalAccess || r.Line != 8 {
		t.Errorf("row 7 = %+v", r)
	}
}

func TestParseOrganizationsRejects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		input string
		want  []notifier.RowError // line and field; message only checked non-empty
	}{
		{"empty file", "", []notifier.RowError{{Line: 1}}},
		{"unknown column", "org_ref,org_name,contact_email,shoe_size\n", []notifier.RowError{{Line: 1, Field: "shoe_size"}}},
		{"missing column", "org_ref,contact_email\n", []notifier.RowError{{Line: 1, Field: "org_name"}}},
		{"invalid email", orgHeader + "a,A,a.example,nope,,security,,en\n", []notifier.RowError{{Line: 2, Field: "contact_email"}}},
		{"display name is not an address", orgHeader + "a,A,,Bob <bob@a.example>,,,,\n", []notifier.RowError{{Line: 2, Field: "contact_email"}}},
		{"duplicate email ignoring case", orgHeader + "a,A,,x@a.example,,,,\na,A,,X@A.example,,,,\n", []notifier.RowError{{Line: 3, Field: "contact_email"}}},
		{"unknown role", orgHeader + "a,A,,x@a.example,,boss,,\n", []notifier.RowError{{Line: 2, Field: "role"}}},
		{"carriage return", orgHeader + "a,\"A\rB\",,x@a.example,,,,\n", []notifier.RowError{{Line: 2, Field: "org_name"}}},
		{"line feed in quoted field", orgHeader + "a,A,,x@a.example,\"Bob\nEvil\",,,\n", []notifier.RowError{{Line: 2, Field: "contact_name"}}},
		{"bidi override", orgHeader + "a,A,,x@a.example,\"gpj\u202Eexe\",,,\n", []notifier.RowError{{Line: 2, Field: "contact_name"}}},
		{"over-long name", orgHeader + "a," + strings.Repeat("n", 201) + ",,x@a.example,,,,\n", []notifier.RowError{{Line: 2, Field: "org_name"}}},
		{"jurisdiction not ISO 3166", termsHeader + "a,A,x@a.example,Germany,\n", []notifier.RowError{{Line: 2, Field: "jurisdiction"}}},
		{"notify_within not whole hours", termsHeader + "a,A,x@a.example,,1.5\n", []notifier.RowError{{Line: 2, Field: "notify_within"}}},
		{"notify_within zero", termsHeader + "a,A,x@a.example,,0\n", []notifier.RowError{{Line: 2, Field: "notify_within"}}},
		{"notify_within over a year", termsHeader + "a,A,x@a.example,,8761\n", []notifier.RowError{{Line: 2, Field: "notify_within"}}},
		{"two jurisdictions for one organization", termsHeader + "a,A,x@a.example,DE,\na,A,y@a.example,FR,\n", []notifier.RowError{{Line: 3, Field: "jurisdiction"}}},
		{"two contracts for one organization", termsHeader + "a,A,x@a.example,,72\na,A,y@a.example,,48h\n", []notifier.RowError{{Line: 3, Field: "notify_within"}}},
		{"bad domain", orgHeader + "a,A,not a domain,x@a.example,,,,\n", []notifier.RowError{{Line: 2, Field: "domain"}}},
		{"bad locale", orgHeader + "a,A,,x@a.example,,,,english\n", []notifier.RowError{{Line: 2, Field: "locale"}}},
		{"bad boolean", orgHeader + "a,A,,x@a.example,,,perhaps,\n", []notifier.RowError{{Line: 2, Field: "portal_access"}}},
		{"org name differs", orgHeader + "a,A,,x@a.example,,,,\na,B,,y@a.example,,,,\n", []notifier.RowError{{Line: 3, Field: "org_name"}}},
		{"wrong field count", orgHeader + "a,A,,x@a.example\n", []notifier.RowError{{Line: 2}}},
		{"every bad row listed", orgHeader + "a,A,,bad1,,,,\nb,B,,ok@b.example,,,,\nc,C,,bad2,,,,\n",
			[]notifier.RowError{{Line: 2, Field: "contact_email"}, {Line: 4, Field: "contact_email"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := notifier.ParseOrganizations(strings.NewReader(c.input), notifier.FormatCSV)
			got := rowErrors(t, err)
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %d problems", got, len(c.want))
			}
			for i, w := range c.want {
				if got[i].Line != w.Line || got[i].Field != w.Field || got[i].Message == "" {
					t.Errorf("problem %d = %+v, want line %d field %q", i, got[i], w.Line, w.Field)
				}
			}
		})
	}
}

func TestParseOrganizationsNDJSON(t *testing.T) {
	t.Parallel()
	in := `{"org_ref":"a","org_name":"A","contact_email":"x@a.example","portal_access":true}` + "\n\n" +
		`{"org_ref":"a","org_name":"A","contact_email":"y@a.example","shoe":"9"}` + "\n" +
		`not json` + "\n" +
		`{"org_ref":"b","org_name":"B"}` + "\n" +
		// A map keeps the last of equal keys; case variants look like one.
		`{"org_ref":"c","org_name":"C","contact_email":"x@c.example","role":"security","role":"legal"}` + "\n" +
		`{"org_ref":"c","org_name":"C","contact_email":"y@c.example","role":"security","ROLE":"legal"}` + "\n" +
		`{"org_ref":"c","org_name":"C","contact_email":"z@c.example"} }` + "\n"
	_, err := notifier.ParseOrganizations(strings.NewReader(in), notifier.FormatNDJSON)
	got := rowErrors(t, err)
	want := []notifier.RowError{{Line: 3, Field: "shoe"}, {Line: 4}, {Line: 5, Field: "contact_email"}, {Line: 6, Field: "role"}, {Line: 7, Field: "ROLE"}, {Line: 8}}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i, w := range want {
		if got[i].Line != w.Line || got[i].Field != w.Field {
			t.Errorf("problem %d = %+v, want %+v", i, got[i], w)
		}
	}
	rows, err := notifier.ParseOrganizations(strings.NewReader(`{"org_ref":"a","org_name":"A","contact_email":"x@a.example","portal_access":true}`), notifier.FormatNDJSON)
	if err != nil || len(rows) != 1 || !rows[0].PortalAccess || rows[0].Role != "security" || rows[0].Locale != "en" {
		t.Fatalf("rows = %+v, %v", rows, err)
	}
}

func TestParseExposures(t *testing.T) {
	t.Parallel()
	rows, err := notifier.ParseExposures(bytes.NewReader(sampledata.File(sampledata.ExposuresBatch1)), notifier.FormatCSV)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 12 || strings.Join(rows[5].SecretTypes, ";") != "sas_token;api_key" || rows[5].OccurredAt == nil {
		t.Fatalf("rows = %d, row 6 = %+v", len(rows), rows[5])
	}
	bad := "org_ref,item_ref,kind,occurred_at,subject,summary,secret_types\n" +
		"a,1,email,2024-01-01,s,,\n" +
		"a,2,malware,,s,,\n" +
		"a,,email,,s,,\n" +
		"a,4,email,,s,,Pass Word\n"
	got := rowErrors(t, mustFail(notifier.ParseExposures(strings.NewReader(bad), notifier.FormatCSV)))
	want := []notifier.RowError{{Line: 2, Field: "occurred_at"}, {Line: 3, Field: "kind"}, {Line: 4, Field: "item_ref"}, {Line: 5, Field: "secret_types"}}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i, w := range want {
		if got[i].Line != w.Line || got[i].Field != w.Field {
			t.Errorf("problem %d = %+v, want %+v", i, got[i], w)
		}
	}
	nd := `{"org_ref":"a","item_ref":"1","kind":"credential","secret_types":["password","api_key"],"occurred_at":"2024-01-01T10:00:00+02:00"}`
	rows, err = notifier.ParseExposures(strings.NewReader(nd), notifier.FormatNDJSON)
	if err != nil || len(rows) != 1 || len(rows[0].SecretTypes) != 2 || rows[0].OccurredAt.Hour() != 8 {
		t.Fatalf("rows = %+v, %v", rows, err)
	}
}

func mustFail[T any](_ T, err error) error { return err }

// checkRowsClean asserts what every accepted row must satisfy, whatever the input.
func checkRowsClean(t *testing.T, fields ...string) {
	t.Helper()
	for _, f := range fields {
		if strings.ContainsFunc(f, unicode.IsControl) {
			t.Fatalf("accepted a field with a control character: %q", f)
		}
	}
}

func checkRejection(t *testing.T, err error) {
	t.Helper()
	var e *notifier.Error
	if !errors.As(err, &e) {
		t.Fatalf("error is not a coded error: %v", err)
	}
	if rows, ok := e.Details.([]notifier.RowError); ok {
		for _, r := range rows {
			if r.Message == "" || r.Line < 0 {
				t.Fatalf("row error without line or message: %+v", r)
			}
		}
	}
}

// checkDomains asserts what attribution relies on: an accepted domain is
// lower-case ASCII (punycode for an internationalized name), named once.
func checkDomains(t *testing.T, domains []string) {
	t.Helper()
	for i, d := range domains {
		if d == "" || d != strings.ToLower(d) || strings.ContainsFunc(d, func(r rune) bool { return r > 0x7e || r == ';' || r == ',' || r == ' ' }) {
			t.Fatalf("accepted domain %q", d)
		}
		if slices.Contains(domains[:i], d) {
			t.Fatalf("domain %q listed twice in %q", d, domains)
		}
	}
}

// TestParseOrganizationsDomains reads an organization's domains from the
// domain field, the domains list, or both, as mail compares them.
func TestParseOrganizationsDomains(t *testing.T) {
	t.Parallel()
	const header = "org_ref,org_name,domain,domains,contact_email\n"
	cases := []struct {
		name, row string
		want      []string
		badField  string
	}{
		{"one domain", "a,A,a.example,,x@a.example", []string{"a.example"}, ""},
		{"upper case", "a,A,A.Example,,x@a.example", []string{"a.example"}, ""},
		{"a list, any separator", `a,A,,"a.example; b.example, c.example d.example",x@a.example`, []string{"a.example", "b.example", "c.example", "d.example"}, ""},
		{"both, without repeats", "a,A,a.example,a.example;B.example,x@a.example", []string{"a.example", "b.example"}, ""},
		{"internationalized", "a,A,bücher.example,münchen.example,x@a.example", []string{"xn--bcher-kva.example", "xn--mnchen-3ya.example"}, ""},
		{"already punycode", "a,A,xn--bcher-kva.example,,x@a.example", []string{"xn--bcher-kva.example"}, ""},
		{"none", "a,A,,,x@a.example", nil, ""},
		{"not a domain", "a,A,,a.example;not a domain!,x@a.example", nil, "domains"},
		{"bad single", "a,A,-a.example,,x@a.example", nil, "domain"},
		{"a label too long", "a,A," + strings.Repeat("x", 64) + ".example,,x@a.example", nil, "domain"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows, err := notifier.ParseOrganizations(strings.NewReader(header+c.row+"\n"), notifier.FormatCSV)
			if c.badField != "" {
				got := rowErrors(t, err)
				if len(got) != 1 || got[0].Line != 2 || got[0].Field != c.badField {
					t.Fatalf("problems %+v, want one on line 2, field %s", got, c.badField)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rows[0].Domains, c.want) {
				t.Fatalf("domains %q, want %q", rows[0].Domains, c.want)
			}
		})
	}
	rows, err := notifier.ParseOrganizations(strings.NewReader(`{"org_ref":"a","org_name":"A","domains":["a.example","bücher.example"],"contact_email":"x@a.example"}`), notifier.FormatNDJSON)
	if err != nil || !slices.Equal(rows[0].Domains, []string{"a.example", "xn--bcher-kva.example"}) {
		t.Fatalf("NDJSON domains array: %+v, %v", rows, err)
	}
}

func TestParseOrganizationsTerms(t *testing.T) {
	t.Parallel()
	// Given on one row of an organization (in any case, hours with or
	// without "h"), repeated the same or left out on the others.
	rows, err := notifier.ParseOrganizations(strings.NewReader(termsHeader+"a,A,x@a.example,us-co,72h\na,A,y@a.example,,\na,A,z@a.example,US-CO,72\nb,B,x@b.example,DE,\n"), notifier.FormatCSV)
	if err != nil {
		t.Fatal(err)
	}
	if r := rows[0]; r.Jurisdiction != "US-CO" || r.NotifyWithinHours != 72 {
		t.Errorf("row 1: jurisdiction %q, notify_within %d", r.Jurisdiction, r.NotifyWithinHours)
	}
	if r := rows[3]; r.Jurisdiction != "DE" || r.NotifyWithinHours != 0 {
		t.Errorf("row 4: jurisdiction %q, notify_within %d", r.Jurisdiction, r.NotifyWithinHours)
	}
	rows, err = notifier.ParseOrganizations(strings.NewReader(`{"org_ref":"a","org_name":"A","contact_email":"x@a.example","jurisdiction":"FR","notify_within":24}`), notifier.FormatNDJSON)
	if err != nil || rows[0].Jurisdiction != "FR" || rows[0].NotifyWithinHours != 24 {
		t.Fatalf("NDJSON: %+v, %v", rows, err)
	}
	_, err = notifier.ParseOrganizations(strings.NewReader(`{"org_ref":"a","org_name":"A","contact_email":"x@a.example","notify_within":2.5}`), notifier.FormatNDJSON)
	if got := rowErrors(t, err); len(got) != 1 || got[0].Field != "notify_within" {
		t.Errorf("NDJSON fraction: %+v", got)
	}
}

func FuzzParseOrganizationsCSV(f *testing.F) {
	f.Add(sampledata.File(sampledata.Organizations))
	f.Add([]byte("org_ref,org_name,domain,domains,contact_email\na,A,bücher.example,\"b.example; c.example\",x@a.example\n"))
	f.Add([]byte(orgHeader + "a,\"A\rB\",,x@a.example,,,,\n"))
	f.Add([]byte(orgHeader + "a,A,,x@a.example,\"q\"\"uote\",,yes,de-CH\n"))
	f.Add([]byte("\xef\xbb\xbf" + orgHeader + "a,A,,x@a.example,,,,\n"))
	f.Add([]byte(termsHeader + "a,A,x@a.example,us-co,72h\na,A,y@a.example,DE,-1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := notifier.ParseOrganizations(bytes.NewReader(data), notifier.FormatCSV)
		if err != nil {
			checkRejection(t, err)
			return
		}
		checkTerms(t, rows)
		for _, r := range rows {
			checkRowsClean(t, append([]string{r.OrgRef, r.OrgName, r.Email, r.Name, r.Role, r.Locale}, r.Domains...)...)
			checkDomains(t, r.Domains)
			if r.OrgRef == "" || r.Email == "" || r.Line < 2 {
				t.Fatalf("accepted an incomplete row: %+v", r)
			}
		}
	})
}

func FuzzParseOrganizationsNDJSON(f *testing.F) {
	f.Add([]byte(`{"org_ref":"a","org_name":"A","contact_email":"x@a.example","portal_access":true}`))
	f.Add([]byte(`{"org_ref":"a","org_name":"A\u0000","contact_email":"x@a.example"}` + "\n" + `[1,2]`))
	f.Add([]byte(`{"org_ref":"a","org_name":"A","contact_email":"x@a.example"} {"x":1}`))
	f.Add([]byte(`{"org_ref":"a","org_name":"A","contact_email":"x@a.example","role":"security","ROLE":"legal"}`))
	f.Add([]byte(`{"org_ref":"a","org_name":"A","contact_email":"x@a.example","jurisdiction":"US-TX","notify_within":1e3}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := notifier.ParseOrganizations(bytes.NewReader(data), notifier.FormatNDJSON)
		if err != nil {
			checkRejection(t, err)
			return
		}
		checkTerms(t, rows)
		// An accepted line never had two keys equal but for case.
		for _, line := range bytes.Split(data, []byte("\n")) {
			var objects [][]string
			dec := json.NewDecoder(bytes.NewReader(line))
			if keysOf(dec, &objects) != nil {
				continue
			}
			for _, keys := range objects {
				for i := range keys {
					for j := i + 1; j < len(keys); j++ {
						if strings.EqualFold(keys[i], keys[j]) {
							t.Fatalf("accepted %q with keys %q and %q", line, keys[i], keys[j])
						}
					}
				}
			}
		}
		for _, r := range rows {
			checkRowsClean(t, append([]string{r.OrgRef, r.OrgName, r.Email, r.Name, r.Role, r.Locale}, r.Domains...)...)
			checkDomains(t, r.Domains)
		}
	})
}

// checkTerms asserts that accepted rows carry a valid jurisdiction and
// contract, one per organization.
func checkTerms(t *testing.T, rows []notifier.ContactRow) {
	t.Helper()
	seen := map[string]notifier.ContactRow{}
	for _, r := range rows {
		if r.Jurisdiction != "" && !deadlines.ValidJurisdiction(r.Jurisdiction) {
			t.Fatalf("accepted jurisdiction %q", r.Jurisdiction)
		}
		if r.NotifyWithinHours < 0 || r.NotifyWithinHours > 8760 {
			t.Fatalf("accepted notify_within %d", r.NotifyWithinHours)
		}
		if p, ok := seen[r.OrgRef]; ok && ((p.Jurisdiction != "" && r.Jurisdiction != "" && p.Jurisdiction != r.Jurisdiction) ||
			(p.NotifyWithinHours > 0 && r.NotifyWithinHours > 0 && p.NotifyWithinHours != r.NotifyWithinHours)) {
			t.Fatalf("accepted two different terms for %s: %+v and %+v", r.OrgRef, p, r)
		}
		if r.Jurisdiction != "" || r.NotifyWithinHours > 0 {
			seen[r.OrgRef] = r
		}
	}
}

func FuzzParseExposures(f *testing.F) {
	f.Add(sampledata.File(sampledata.ExposuresBatch1), false)
	f.Add(sampledata.File(sampledata.ExposuresBatch2), false)
	f.Add([]byte(`{"org_ref":"a","item_ref":"1","kind":"file","secret_types":["x;y"]}`), true)
	f.Add([]byte(`{"org_ref":"a","item_ref":"1","kind":"file","occurred_at":"0000-01-01T00:00:00Z"}`), true)
	f.Fuzz(func(t *testing.T, data []byte, ndjson bool) {
		format := notifier.FormatCSV
		if ndjson {
			format = notifier.FormatNDJSON
		}
		rows, err := notifier.ParseExposures(bytes.NewReader(data), format)
		if err != nil {
			checkRejection(t, err)
			return
		}
		for _, r := range rows {
			checkRowsClean(t, append([]string{r.OrgRef, r.ItemRef, r.Kind, r.Subject, r.Summary}, r.SecretTypes...)...)
			for _, s := range r.SecretTypes {
				if s == "" || strings.Contains(s, ";") {
					t.Fatalf("bad secret type %q", s)
				}
			}
		}
	})
}
