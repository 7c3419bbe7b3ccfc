package secrets_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier/secrets"
)

// TestLocate finds each finding's secret again in the text it was found
// in, by its lines alone, and nowhere in a text that no longer holds it;
// the spans are the same as a scan of the whole text gives.
func TestLocate(t *testing.T) {
	t.Parallel()
	s, err := secrets.NewScanner(bytes.Repeat([]byte("k"), secrets.MinKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("filler line with nothing\n", 200) +
		"the key is AKIAZ3MSJV4WQLPXT7NB ok\n" +
		"password: Tr0ub4dor&3xyz\n" +
		strings.Repeat("more filler\n", 100) +
		"second key AKIAQ7RJX2LMNB4WZP6T.\n"
	fs := s.Scan(secrets.Part{Name: "text", Text: text})
	if len(fs) < 3 {
		t.Fatalf("findings %+v", fs)
	}
	spans := s.Locate(text, fs)
	for i, f := range fs {
		sp := spans[i]
		if sp.Start < 0 {
			t.Errorf("finding %+v not located", f)
			continue
		}
		if got := s.Reveal(text, f); text[sp.Start:sp.End] != got || got == "" {
			t.Errorf("finding %d: span %q, Reveal %q", i, text[sp.Start:sp.End], got)
		}
	}
	// A prefix holds the first ones only; another text holds none.
	prefix := text[:strings.Index(text, "more filler")]
	for i, sp := range s.Locate(prefix, fs) {
		if want := fs[i].Line <= 202; (sp.Start >= 0) != want {
			t.Errorf("prefix: finding %d at line %d located %v", i, fs[i].Line, sp.Start >= 0)
		}
	}
	for _, sp := range s.Locate(strings.ReplaceAll(text, "AKIA", "AKIB"), fs[:1]) {
		if sp.Start >= 0 {
			t.Errorf("located in a text without it")
		}
	}
}
