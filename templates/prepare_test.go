package templates

import (
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
