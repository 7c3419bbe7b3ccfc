package notifier_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
)

func TestAPIKeyRoundTrip(t *testing.T) {
	t.Parallel()
	key, prefix, hash := notifier.NewAPIKey()
	p, h, ok := notifier.ParseAPIKey(key)
	if !ok || p != prefix || !bytes.Equal(h, hash) {
		t.Fatalf("ParseAPIKey(%q) = %q, %x, %v; want %q, %x", key, p, h, ok, prefix, hash)
	}
	other, _, _ := notifier.NewAPIKey()
	if other == key {
		t.Fatal("two keys are equal")
	}
	for _, bad := range []string{"", key[:len(key)-1], key + "a", strings.ToUpper(key), strings.Replace(key, "_", "-", 1), "bn_" + strings.Repeat("1", len(key)-3)} {
		if _, _, ok := notifier.ParseAPIKey(bad); ok {
			t.Errorf("ParseAPIKey(%q) accepted", bad)
		}
	}
}

func FuzzParseAPIKey(f *testing.F) {
	key, _, _ := notifier.NewAPIKey()
	f.Add(key)
	f.Add("bn_aaaaaaaaaa_" + strings.Repeat("a", 52))
	f.Add("bn_\x00")
	f.Fuzz(func(t *testing.T, s string) {
		prefix, hash, ok := notifier.ParseAPIKey(s)
		if !ok {
			return
		}
		if len(prefix) != 10 || len(hash) != 32 || !strings.HasPrefix(s, "bn_"+prefix+"_") {
			t.Fatalf("accepted %q as prefix %q", s, prefix)
		}
	})
}

func TestAckTokens(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		tok, hash := notifier.NewAckToken()
		h, ok := notifier.ParseAckToken(tok)
		if !ok || !bytes.Equal(h, hash) || seen[tok] {
			t.Fatalf("token %q: ok=%v, repeated=%v", tok, ok, seen[tok])
		}
		seen[tok] = true
	}
	tok, _ := notifier.NewAckToken()
	for _, bad := range []string{"", tok[:42], tok + "A", strings.ReplaceAll(tok, tok[:1], "+"), tok[:42] + "=", strings.Repeat("/", 43)} {
		if _, ok := notifier.ParseAckToken(bad); ok {
			t.Errorf("accepted %q", bad)
		}
	}
}

func FuzzParseAckToken(f *testing.F) {
	tok, _ := notifier.NewAckToken()
	f.Add(tok)
	f.Add(strings.Repeat("A", 43))
	f.Add(strings.Repeat("A", 42) + "B")
	f.Fuzz(func(t *testing.T, s string) {
		hash, ok := notifier.ParseAckToken(s)
		if !ok {
			return
		}
		if len(s) != 43 || len(hash) != 32 || strings.ContainsAny(s, "+/=") {
			t.Fatalf("accepted %q", s)
		}
	})
}
