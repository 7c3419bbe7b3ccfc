package notifier_test

import (
	"regexp"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
)

func TestNormalizeReference(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
	}{
		{"BN-0000-1A2B-3C4D-5E6F", "BN-0000-1A2B-3C4D-5E6F"},
		{"bn-0000-1a2b-3c4d-5e6f", "BN-0000-1A2B-3C4D-5E6F"},
		{"BN00001A2B3C4D5E6F", "BN-0000-1A2B-3C4D-5E6F"},
		{"00001a2b3c4d5e6f", "BN-0000-1A2B-3C4D-5E6F"},
		{" bn 0000 1a2b 3c4d 5e6f ", "BN-0000-1A2B-3C4D-5E6F"},
		{"BN–0000—1A2B-3C4D-5E6F", "BN-0000-1A2B-3C4D-5E6F"}, // typographic dashes
		{"BN-0000-1A2B-3C4D-5E6G", ""},                       // not hex
		{"BN-0000-1A2B-3C4D-5E6", ""},                        // short
		{"BN-0000-1A2B-3C4D-5E6F0", ""},                      // long
		{"BNBN-0000-1A2B-3C4D-5E6F", ""},
		{"XX-0000-1A2B-3C4D-5E6F", ""},
		{"BN-0000-1A2B-3C4D-5E6F;", ""},
		{"", ""},
		{"BN-0000-1A2B-3C4D-5E6F" + string(make([]byte, 64)), ""},
	} {
		got, ok := notifier.NormalizeReference(tc.in)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("NormalizeReference(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}

var canonicalReference = regexp.MustCompile(`^BN-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}$`)

// FuzzNormalizeReference: whatever is typed, the result is canonical or
// refused, and normalising is idempotent.
func FuzzNormalizeReference(f *testing.F) {
	f.Add("BN-0000-1A2B-3C4D-5E6F")
	f.Add("bn 0000 1a2b 3c4d 5e6f")
	f.Add("00001a2b3c4d5e6f")
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := notifier.NormalizeReference(in)
		if !ok {
			if got != "" {
				t.Fatalf("refused %q but returned %q", in, got)
			}
			return
		}
		if !canonicalReference.MatchString(got) {
			t.Fatalf("NormalizeReference(%q) = %q, not canonical", in, got)
		}
		if again, ok := notifier.NormalizeReference(got); !ok || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, got, again)
		}
	})
}

func TestNormalizePortalEmail(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"soc@contoso.example":        "soc@contoso.example",
		"  Soc@Contoso.example \n":   "Soc@Contoso.example",
		"SOC <soc@contoso.example>":  "",
		"soc":                        "",
		"soc@contoso.example\r\nBcc": "",
		"":                           "",
	} {
		got, ok := notifier.NormalizePortalEmail(in)
		if got != want || ok != (want != "") {
			t.Errorf("NormalizePortalEmail(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// FuzzParsePortalToken: a token is accepted only in its one canonical
// spelling, and the hash is the same for the same token.
func FuzzParsePortalToken(f *testing.F) {
	tok, _ := notifier.NewPortalToken()
	f.Add(tok)
	f.Add(tok[:42] + "A")
	f.Add(tok + "=")
	f.Fuzz(func(t *testing.T, in string) {
		h, ok := notifier.ParsePortalToken(in)
		if !ok {
			return
		}
		if len(in) != 43 || len(h) != 32 {
			t.Fatalf("accepted %q (%d bytes of hash)", in, len(h))
		}
		if h2, _ := notifier.ParsePortalToken(in); string(h2) != string(h) {
			t.Fatal("the hash is not stable")
		}
	})
}
