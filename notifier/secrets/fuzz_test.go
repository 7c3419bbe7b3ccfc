package secrets

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzScan: any text scans without panicking, and every finding points at
// its secret: Reveal finds it again, at the finding's line and column,
// under the finding's fingerprint, and the mask shows no more than a third.
func FuzzScan(f *testing.F) {
	for _, c := range append(append([]sample{}, ourSamples...), gitleaksSamples...) {
		f.Add(c.text)
	}
	f.Add("password: ********\nPasswort: Sommer2024!\r\nパスワード：Haru2024#")
	s := setup(f)
	f.Fuzz(func(t *testing.T, text string) {
		for _, fd := range s.Scan(Part{Name: "text", Text: text}) {
			secret := s.Reveal(text, fd)
			if secret == "" {
				t.Fatalf("%+v: Reveal found nothing", fd)
			}
			if fingerprint(testKey, fd.Type, secret) != fd.Fingerprint {
				t.Fatalf("%+v: fingerprint of %q differs", fd, secret)
			}
			line := strings.Split(text, "\n")[fd.Line-1]
			// Columns count characters as utf8 decodes them (an invalid
			// byte is one).
			off := 0
			for k := 1; k < fd.Column && off < len(line); k++ {
				_, size := utf8.DecodeRuneInString(line[off:])
				off += size
			}
			if fd.Column < 1 || off >= len(line) {
				t.Fatalf("%+v: column outside line %q", fd, line)
			}
			rest := line[off:]
			if first, _, _ := strings.Cut(secret, "\n"); !strings.HasPrefix(rest, first) {
				t.Fatalf("%+v: line %q does not hold %q at the column", fd, line, secret)
			}
			checkMask(t, secret, fd.Masked)
		}
	})
}

// FuzzMask: a mask shows at most a third of the secret's characters, and
// only its first and last ones.
func FuzzMask(f *testing.F) {
	f.Add(0, "sk_test_4eC39HqLyjWDarjtT1zdp7dc")
	f.Add(1, "AKIAZ4FQ7W2XLRN3UJ6K")
	f.Add(2, "Summer2024!")
	f.Add(3, "ключ-Доступа-123456")
	f.Add(4, "\xff\xfe12345678901")
	types := Types()
	f.Fuzz(func(t *testing.T, i int, secret string) {
		typ := types[uint(i)%uint(len(types))]
		checkMask(t, secret, mask(typ, secret))
	})
}

func checkMask(t *testing.T, secret, m string) {
	t.Helper()
	if m == fullMask {
		return
	}
	head, tail, ok := strings.Cut(m, "…")
	if !ok {
		t.Fatalf("mask %q of %q has no ellipsis", m, secret)
	}
	rs := []rune(secret)
	h, tl := utf8.RuneCountInString(head), utf8.RuneCountInString(tail)
	if 3*(h+tl) > len(rs) {
		t.Fatalf("mask %q shows %d of the %d characters of %q", m, h+tl, len(rs), secret)
	}
	if head != string(rs[:h]) || tail != string(rs[len(rs)-tl:]) {
		t.Fatalf("mask %q is not made of the ends of %q", m, secret)
	}
}
