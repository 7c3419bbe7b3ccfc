package secrets

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestMask(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		typ    Type
		secret string
		want   string
	}{
		{APIKey, "sk_test_4eC39HqLyjWDarjtT1zdp7dc", "sk_t…p7dc"},         // 32: 4 and 4
		{AWSAccessKey, "AKIAZ4FQ7W2XLRN3UJ6K", "AKI…J6K"},                 // 20: 3 and 3
		{Token, "glpat-Xq7vR2kLm9Pz4Tn8Wb3Y", "glpa…Wb3Y"},                // 26: 4 and 4
		{APIKey, "abcdefghijkl", "ab…kl"},                                 // 12: 2 and 2
		{APIKey, "abcdefghijk", fullMask},                                 // 11: too short
		{APIKey, "", fullMask},                                            //
		{Token, "ключ-Доступа-123456", "клю…456"},                         // characters, not bytes
		{Password, "Summer2024!Summer2024!Summer2024!", fullMask},         // passwords never
		{RecoveryCode, "1a2b3-4c5d6\n7e8f9-0a1b2\n3c4d5-6e7f8", fullMask}, // nor codes
		{PrivateKey, pemKey, fullMask},
		{ConnString, "Tr0ub4dor&3Tr0ub4dor&3Tr0ub4dor&3", fullMask},
		{APIKey, "abcdefghijklmnop\nqrstuvwxyz0123456789", fullMask}, // several lines
	} {
		if got := mask(c.typ, c.secret); got != c.want {
			t.Errorf("mask(%s, %q) = %q, want %q", c.typ, c.secret, got, c.want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	t.Parallel()
	// A fixed vector: fingerprints are stored, so the construction must not
	// change (HMAC-SHA256 over type, NUL, secret).
	m := hmac.New(sha256.New, testKey)
	m.Write([]byte("password\x00Summer2024!"))
	want := hex.EncodeToString(m.Sum(nil))
	if got := fingerprint(testKey, Password, "Summer2024!"); got != want || len(got) != 64 {
		t.Errorf("fingerprint = %s, want %s", got, want)
	}
	if fingerprint(testKey, Password, "Summer2024!") == fingerprint([]byte("another key, 32 bytes long ....."), Password, "Summer2024!") {
		t.Error("the key does not change the fingerprint")
	}
	if fingerprint(testKey, Password, "Summer2024!") == fingerprint(testKey, ConnString, "Summer2024!") {
		t.Error("the type does not change the fingerprint")
	}
	if fingerprint(testKey, "pass", "word:x") == fingerprint(testKey, "password", ":x") {
		t.Error("type and secret run into each other")
	}
	// Two scanners with one key agree; with another key they do not.
	text := "password: Summer2024!"
	a, b := setup(t).Scan(Part{Text: text}), setup(t).Scan(Part{Text: text})
	other, err := NewScanner([]byte("another key, 32 bytes long ....."))
	if err != nil {
		t.Fatal(err)
	}
	c := other.Scan(Part{Text: text})
	if len(a) != 1 || len(b) != 1 || len(c) != 1 || a[0].Fingerprint != b[0].Fingerprint || a[0].Fingerprint == c[0].Fingerprint {
		t.Errorf("fingerprints: %v %v %v", a, b, c)
	}
	if other.Reveal(text, a[0]) != "" {
		t.Error("a scanner with another key revealed a finding")
	}
	if _, err := NewScanner([]byte("short")); err == nil {
		t.Error("NewScanner took a 5-byte key")
	}
}

// TestFindingNeverShowsSecret: no way of printing or encoding a finding
// shows its secret, for every sample.
func TestFindingNeverShowsSecret(t *testing.T) {
	t.Parallel()
	s := setup(t)
	for _, c := range append(append([]sample{}, ourSamples...), gitleaksSamples...) {
		for _, f := range s.Scan(Part{Name: "text", Text: c.text}) {
			js, err := json.Marshal(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, out := range []string{fmt.Sprint(f), fmt.Sprintf("%+v", f), fmt.Sprintf("%#v", f), fmt.Sprintf("%v", []Finding{f}), string(js)} {
				if strings.Contains(out, c.secret) {
					t.Errorf("%s: %s shows the secret", c.name, out)
				}
				if len(c.secret) >= 8 && strings.Contains(out, c.secret[:len(c.secret)/2]) {
					t.Errorf("%s: %s shows half the secret", c.name, out)
				}
			}
		}
	}
}

// TestScanConcurrently: one scanner, many goroutines, the same answers
// (run with -race to check gitleaks' detector is safe to share).
func TestScanConcurrently(t *testing.T) {
	t.Parallel()
	s := setup(t)
	samples := append(append([]sample{}, ourSamples...), gitleaksSamples...)
	want := make([][]Finding, len(samples))
	for i, c := range samples {
		want[i] = s.Scan(Part{Name: "text", Text: c.text})
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < 5; r++ {
				for i, c := range samples {
					got := s.Scan(Part{Name: "text", Text: c.text})
					if fmt.Sprint(got) != fmt.Sprint(want[i]) {
						t.Errorf("%s: %v, alone %v", c.name, got, want[i])
					}
				}
			}
		}()
	}
	wg.Wait()
}
