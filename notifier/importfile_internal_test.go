package notifier

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzDetectDelimiter(f *testing.F) {
	f.Add("org_ref,org_name,contact_email", "")
	f.Add("org_ref;org_name;\"a,b\";contact_email", "")
	f.Add("org_ref\torg_name", "a,b;c")
	f.Add("\"a;b\",c", "")
	f.Fuzz(func(t *testing.T, header, rest string) {
		d := detectDelimiter([]byte(header + "\n" + rest))
		if !strings.ContainsRune(csvDelimiters, d) {
			t.Fatalf("detected %q", d)
		}
		// Column names joined by one separator, and no other outside
		// quotes, are split on it.
		for _, sep := range csvDelimiters {
			names := strings.FieldsFunc(header, func(r rune) bool { return strings.ContainsRune(csvDelimiters+"\"\n", r) })
			if len(names) < 2 {
				continue
			}
			if got := detectDelimiter([]byte(strings.Join(names, string(sep)) + "\n" + rest)); got != sep {
				t.Fatalf("names %q joined by %q: detected %q", names, sep, got)
			}
		}
	})
}

func FuzzCanonicalColumn(f *testing.F) {
	for _, s := range []string{"Org_Ref", "org ref", "ORG-REF", " E-Mail ", "Organisation Name", "ſecret_types", "İtem"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		for _, cols := range []columnSet{orgColumns, exposureColumns} {
			name := cols.canonical(header)
			if again := cols.canonical(name); again != name {
				t.Fatalf("%q → %q → %q: not stable", header, name, again)
			}
			// Case never matters (for ASCII names, where upper and lower
			// case map one to one).
			if isASCII(header) && cols.canonical(strings.ToUpper(header)) != name {
				t.Fatalf("%q is %q but %q is %q", header, name, strings.ToUpper(header), cols.canonical(strings.ToUpper(header)))
			}
		}
	})
}

func FuzzAddressASCII(f *testing.F) {
	for _, s := range []string{"soc@bücher.example", "sécurité@exämple.de", "a@b.example", "SOC@XN--BCHER-KVA.EXAMPLE", "@x.example", "a@", "a@-x.example", "\"a@b\"@c.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		ascii, utf8Local, err := AddressASCII(addr)
		if err != nil {
			return
		}
		at := strings.LastIndexByte(ascii, '@')
		local, domain := ascii[:at], ascii[at+1:]
		if !isASCII(domain) || domain != strings.ToLower(domain) || !domainPattern.MatchString(domain) {
			t.Fatalf("%q: domain %q is not lower-case ASCII", addr, domain)
		}
		if local != addr[:strings.LastIndexByte(addr, '@')] {
			t.Fatalf("%q: local part changed to %q", addr, local)
		}
		if utf8Local == isASCII(local) {
			t.Fatalf("%q: utf8Local %v for local part %q", addr, utf8Local, local)
		}
		// The ASCII form is its own ASCII form: one address, one key.
		again, _, err := AddressASCII(ascii)
		if err != nil || again != ascii {
			t.Fatalf("%q → %q → %q, %v", addr, ascii, again, err)
		}
	})
}

// FuzzRecordReaderEncoding feeds any bytes: whatever is accepted is valid
// UTF-8, and a file that is not UTF-8 is refused with how to fix it.
func FuzzRecordReaderEncoding(f *testing.F) {
	f.Add([]byte("org_ref;org_name;contact_email\na;M\xfcller;x@a.example\n"))
	f.Add([]byte("\xef\xbb\xbforg_ref,org_name,contact_email\na,A,x@a.example\n"))
	f.Add([]byte("\xff\xfeo\x00r\x00g\x00"))
	f.Add([]byte("org_ref\torg_name\tcontact_email\na\t\"A\nB\"\tx@a.example\n\t\t\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var errs rowErrors
		rr, err := newRecordReader(strings.NewReader(string(data)), FormatCSV, orgColumns, &errs, ImportLimits{})
		if err != nil {
			return
		}
		for {
			rec, ok, err := rr.next()
			if err != nil || !ok {
				break
			}
			for name, v := range rec.fields {
				if !utf8.ValidString(v) {
					t.Fatalf("line %d, %s: handed over invalid UTF-8 %q", rec.line, name, v)
				}
			}
		}
		if rr != nil && rr.notUTF8 && !slices.ContainsFunc(errs.list, func(e RowError) bool { return strings.Contains(e.Message, "save it as UTF-8") }) {
			t.Fatalf("not UTF-8 but no message says how to fix it: %+v", errs.list)
		}
	})
}
