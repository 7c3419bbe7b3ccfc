package templates

import (
	"errors"
	"strings"
	"testing"
)

// TestCutAndFillMatchReplacer checks the stand-in splitting against
// strings.Replacer, which Prepared.Render used to call per message.
func TestCutAndFillMatchReplacer(t *testing.T) {
	t.Parallel()
	values := [len(standIns)]string{"Dana", "d@x.example", "BN-1", "https://n.example/ack/t"}
	rep := strings.NewReplacer(standInName, values[0], standInEmail, values[1], standInReference, values[2], standInAck, values[3])
	for _, s := range []string{
		"", "plain", standInName, "Hi " + standInName + ",", standInName + standInEmail,
		"zBNq7", "zBNq7NAMEq7", "zzBNq7NAMEq7z", "zBNq7zBNq7REFSq7z.", standInAck + " and " + standInAck,
		"a zBNq7MAIL " + standInReference + " zBNq7",
	} {
		if got, want := fill(cut(s), &values), rep.Replace(s); got != want {
			t.Errorf("fill(cut(%q)) = %q, want %q", s, got, want)
		}
	}
}

// TestNoticeDataWithAStandInIsNotPrepared: an item subject (breached data,
// anything at all) that contains the recipient stand-ins must come out as
// written, not with the recipient's acknowledgement link and address.
func TestNoticeDataWithAStandInIsNotPrepared(t *testing.T) {
	t.Parallel()
	src, err := DefaultSource(KindInitial, "en")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := Compile(KindInitial, "en", src)
	if err != nil || !tmpl.CanPrepare() {
		t.Fatalf("Compile = %v, preparable %v", err, tmpl != nil && tmpl.CanPrepare())
	}
	d := SampleData()
	if _, err := tmpl.Prepare(d); err != nil {
		t.Fatalf("Prepare of plain sample data: %v", err)
	}
	d.Notice.Items[0].Subject = standInAck + " " + standInEmail
	if _, err := tmpl.Prepare(d); !errors.Is(err, ErrNotPreparable) {
		t.Fatalf("Prepare with a stand-in in an item subject = %v, want ErrNotPreparable", err)
	}
	full, err := tmpl.Render(d)
	if err != nil || !strings.Contains(full.Text, standInAck+" "+standInEmail) {
		t.Errorf("the full render does not print the subject as written (%v)", err)
	}
}
