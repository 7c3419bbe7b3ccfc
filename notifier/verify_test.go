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
		{"BN-7K3Q-9XW2-M4TD-R8FA", "BN-7K3Q-9XW2-M4TD-R8FA"},
		{"bn-7k3q-9xw2-m4td-r8fa", "BN-7K3Q-9XW2-M4TD-R8FA"},
		{"BN7K3Q9XW2M4TDR8FA", "BN-7K3Q-9XW2-M4TD-R8FA"},
		{"7k3q9xw2m4tdr8fa", "BN-7K3Q-9XW2-M4TD-R8FA"},
		{" bn 7k3q 9xw2 m4td r8fa ", "BN-7K3Q-9XW2-M4TD-R8FA"},
		{"BN–7K3Q—9XW2-M4TD-R8FA", "BN-7K3Q-9XW2-M4TD-R8FA"}, // typographic dashes
		// Crockford's reading: O is 0, I and L are 1.
		{"BN-O1IL-0000-1111-ZZZZ", "BN-0111-0000-1111-ZZZZ"},
		{"bn-oooo-iiii-llll-abcd", "BN-0000-1111-1111-ABCD"},
		// A code may start with BN itself.
		{"BNXX-9XW2-M4TD-R8FA", "BN-BNXX-9XW2-M4TD-R8FA"},
		{"BN-BNXX-9XW2-M4TD-R8FA", "BN-BNXX-9XW2-M4TD-R8FA"},
		// Codes made before, 16 hex digits, read as they always did.
		{"BN-0000-1A2B-3C4D-5E6F", "BN-0000-1A2B-3C4D-5E6F"},
		{"bn 0000 1a2b 3c4d 5e6f", "BN-0000-1A2B-3C4D-5E6F"},
		{"00001a2b3c4d5e6f", "BN-0000-1A2B-3C4D-5E6F"},
		{"BN-7K3Q-9XW2-M4TD-R8FU", ""},  // U is not in the alphabet
		{"BN-7K3Q-9XW2-M4TD-R8F", ""},   // short
		{"BN-7K3Q-9XW2-M4TD-R8FA0", ""}, // long
		{"BNBN-7K3Q-9XW2-M4TD-R8FA", ""},
		{"XX-7K3Q-9XW2-M4TD-R8FA", ""},
		{"BN-7K3Q-9XW2-M4TD-R8FA;", ""},
		{"BN-7K3Q-9XW2-M4TD-R8FÄ", ""},
		{"", ""},
		{"BN-7K3Q-9XW2-M4TD-R8FA" + string(make([]byte, 64)), ""},
	} {
		got, ok := notifier.NormalizeReference(tc.in)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("NormalizeReference(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
	if len(notifier.ReferenceAlphabet) != 32 {
		t.Errorf("the alphabet has %d characters; a character must carry 5 bits", len(notifier.ReferenceAlphabet))
	}
}

var canonicalReference = regexp.MustCompile(`^BN-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$`)

// FuzzNormalizeReference: whatever is typed, the result is canonical or
// refused, and normalising is idempotent.
func FuzzNormalizeReference(f *testing.F) {
	f.Add("BN-7K3Q-9XW2-M4TD-R8FA")
	f.Add("bn 7k3q 9xw2 m4td r8fa")
	f.Add("bn-oooo-iiii-llll-abcd")
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
