package notifier_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/breachnotify/breachnotify/notifier"
)

// writeCSV writes records with a CSVWriter and returns the bytes.
func writeCSV(t testing.TB, records ...[]string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := notifier.NewCSVWriter(&b)
	for _, r := range records {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestCSVWriterNeutralisesFormulas(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cell string
		// want is the cell as a CSV reader reads it back; raw is how it
		// is written.
		want, raw string
	}{
		{"plain", "plain", "plain"},
		{"", "", ""},
		{"2024-02-01T10:00:00Z", "2024-02-01T10:00:00Z", "2024-02-01T10:00:00Z"},
		{"=1+1", "'=1+1", `"'=1+1"`},
		{"+1", "'+1", `"'+1"`},
		{"-1", "'-1", `"'-1"`},
		{"@SUM(A1)", "'@SUM(A1)", `"'@SUM(A1)"`},
		{"\t=1", "'\t'=1", "\"'\t'=1\""},
		{"\r=1", "'\r'=1", "\"'\r'=1\""},
		{"＝1+1", "'＝1+1", `"'＝1+1"`}, // full-width
		{"﹦1+1", "'﹦1+1", `"'﹦1+1"`}, // small form
		{`=HYPERLINK("http://x.example")`, `'=HYPERLINK("http://x.example")`, `"'=HYPERLINK(""http://x.example"")"`},
		// The example: a German or French spreadsheet splits on ";".
		{"foo;=cmd|' /C calc'!A0", "foo;'=cmd|' /C calc'!A0", `"foo;'=cmd|' /C calc'!A0"`},
		{"foo,=1+1", "foo,'=1+1", `"foo,'=1+1"`},
		{"foo\t@x", "foo\t'@x", "\"foo\t'@x\""},
		{"foo|-1", "foo|'-1", `"foo|'-1"`},
		{"foo; =1", "foo;' =1", `"foo;' =1"`},  // spaces are skipped
		{`foo;"=1`, `foo;'"=1`, `"foo;'""=1"`}, // and quotes
		{"foo;\u00a0+1", "foo;'\u00a0+1", "\"foo;'\u00a0+1\""},
		{"foo\n=1", "foo\n'=1", "\"foo\n'=1\""}, // a line-based reader
		{"a;b", "a;b", `"a;b"`},                 // quoted all the same: one cell in every locale
		{"a|b", "a|b", `"a|b"`},
		{"a-b;c=d", "a-b;c=d", `"a-b;c=d"`}, // no formula after the separator
		{" lead", " lead", `" lead"`},
		{"it's", "it's", "it's"},
	} {
		raw := writeCSV(t, []string{tc.cell, "x"})
		if want := tc.raw + ",x\n"; string(raw) != want {
			t.Errorf("%q written as %q, want %q", tc.cell, raw, want)
		}
		recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
		if err != nil || len(recs) != 1 || len(recs[0]) != 2 || recs[0][0] != tc.want {
			t.Errorf("%q read back as %q (%v), want %q", tc.cell, recs, err, tc.want)
		}
	}
}

// unsafePiece returns the first piece of raw, split on every separator a
// spreadsheet may use, that starts (after white space and quotes) with a
// formula character. It is written independently of the package's own
// check, from the same list.
func unsafePiece(raw string) (string, bool) {
	pieces := strings.FieldsFunc(raw, func(r rune) bool { return strings.ContainsRune(",;\t|\r\n", r) })
	for _, p := range pieces {
		t := strings.TrimLeftFunc(p, func(r rune) bool { return r == '"' || unicode.IsSpace(r) })
		if r, _ := utf8.DecodeRuneInString(t); t != "" && strings.ContainsRune("=+-@＝＋－＠﹦﹢﹣﹫", r) {
			return p, true
		}
	}
	return "", false
}

// FuzzCSVWriter: however a cell is made, no piece of the written line,
// split on , ; tab | or a line end, starts with a formula; a CSV reader
// reads back exactly SafeCSVCell's cells; and a cell SafeCSVCell reports
// unchanged is unchanged.
func FuzzCSVWriter(f *testing.F) {
	f.Add("foo;=cmd|' /C calc'!A0", "=1+1")
	f.Add("a,\"=b", "＝x")
	f.Add(" \t-1", "a|@b")
	f.Add("plain", "")
	f.Fuzz(func(t *testing.T, a, b string) {
		if !utf8.ValidString(a) || !utf8.ValidString(b) {
			return // encoding/csv's reader replaces invalid bytes; nothing to compare
		}
		raw := writeCSV(t, []string{a, b})
		if p, bad := unsafePiece(string(raw)); bad {
			t.Fatalf("cells %q, %q written as %q: the piece %q starts a formula", a, b, raw, p)
		}
		r := csv.NewReader(bytes.NewReader(raw))
		r.FieldsPerRecord = -1
		recs, err := r.ReadAll()
		wantA, changedA := notifier.SafeCSVCell(a)
		wantB, _ := notifier.SafeCSVCell(b)
		// encoding/csv reads \r\n inside a quoted field as \n.
		norm := func(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }
		if err != nil || len(recs) != 1 || len(recs[0]) != 2 || recs[0][0] != norm(wantA) || recs[0][1] != norm(wantB) {
			t.Fatalf("cells %q, %q written as %q read back as %q (%v), want %q, %q", a, b, raw, recs, err, wantA, wantB)
		}
		if !changedA && wantA != a {
			t.Fatalf("SafeCSVCell(%q) changed it to %q", a, wantA)
		}
	})
}
