package portal

import (
	"testing"
	"time"

	"golang.org/x/text/language"

	"github.com/breachnotify/breachnotify/notifier/i18n"

	"github.com/breachnotify/breachnotify/notifier/web"
)

func TestNewParsesEveryPage(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef0123456789abcdef")
	s, err := New(Config{Secret: secret, PublicURL: "https://notify.example/"})
	if err != nil {
		t.Fatal(err)
	}
	// Form tokens are keyed by the installation secret (web.FormTokens
	// pins their format), one purpose per form.
	now, bound := time.Now(), []byte("link-hash")
	forms, _ := web.NewFormTokens(secret)
	if tok := s.csrfToken(bound, now); !forms.Valid(formAck, tok, bound, now) || !s.validCSRF(tok, bound, now) ||
		s.forms.Valid(formSession, tok, bound, now) {
		t.Errorf("acknowledgement form token %q", tok)
	}
	if len(s.pages) != len(i18n.Supported) || len(s.pages[language.Japanese]) != len(pageNames) || !s.cookies.Secure() || s.cookies.Name(sessionCookie) != "__Host-bn_portal" {
		t.Errorf("pages %d/%d, secure %v, cookie %s", len(s.pages[language.Japanese]), len(pageNames), s.cookies.Secure(), s.cookies.Name(sessionCookie))
	}
}
