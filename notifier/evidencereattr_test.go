package notifier_test

import (
	"encoding/base64"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
)

func TestDomainCursor(t *testing.T) {
	t.Parallel()
	for _, c := range []notifier.DomainCursor{{Messages: 3, Domain: "elsewhere.example"}, {Messages: 0, Domain: "xn--bcher-kva.example"}, {Messages: 1 << 40, Domain: "a:b"}} {
		got, err := notifier.DecodeDomainCursor(c.Encode())
		if err != nil || got != c {
			t.Errorf("%+v: decoded %+v, %v", c, got, err)
		}
	}
	if c, err := notifier.DecodeDomainCursor(""); err != nil || c != (notifier.DomainCursor{}) {
		t.Errorf("the first page: %+v, %v", c, err)
	}
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, bad := range []string{"x", "!!", enc("v1:3"), enc("d1:3"), enc("d1:-1:a.example"), enc("d1:x:a.example"), enc("d1:3:"),
		enc("d1:3:a\x00.example"), enc("d1:3:b\xffcher.example"), enc("d1:3:bücher.example"), enc("d1:3:a b")} {
		if _, err := notifier.DecodeDomainCursor(bad); notifier.ErrorCode(err) != notifier.CodeBadRequest {
			t.Errorf("DecodeDomainCursor(%q) = %v, want bad request", bad, err)
		}
	}
}

func FuzzDecodeDomainCursor(f *testing.F) {
	f.Add(notifier.DomainCursor{Messages: 3, Domain: "elsewhere.example"}.Encode())
	f.Add("ZDE6MzphLmV4YW1wbGU")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := notifier.DecodeDomainCursor(s)
		if err != nil || s == "" {
			return
		}
		again, err := notifier.DecodeDomainCursor(c.Encode())
		if err != nil || again != c || c.Messages < 0 {
			t.Fatalf("%q decoded to %+v, which does not round-trip (%+v, %v)", s, c, again, err)
		}
	})
}
