package portal_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestMessagePageUnparseable shows a message whose structure could not
// be read as its raw header block, escaped, with the reason; its hostile
// header is text.
func TestMessagePageUnparseable(t *testing.T) {
	t.Parallel()
	raw := []byte("From: a@contoso.example\r\nSubject: <script>alert(1)</script> see https://evil.example/\r\nContent-Type: multipart/mixed\r\n\r\nbody\r\n")
	fx := newFixture(t, raw, "the MIME library failed (panic: boom)")
	page := fx.get(t, "/portal/messages/"+fx.ref.String()).Body.String()
	for _, want := range []string{"could not be read (<bdi>the MIME library failed (panic: boom)</bdi>)", "Subject: &lt;script&gt;alert(1)&lt;/script&gt; see hxxps://evil[.]example/"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "<script>") || strings.Contains(page, "https://evil") {
		t.Errorf("the page holds the header raw")
	}
}

// TestMessageDownloadHeaders: the original comes as an attachment of
// octet-stream, sniffed by nothing and sandboxed, with the message's
// bytes exactly.
func TestMessageDownloadHeaders(t *testing.T) {
	t.Parallel()
	raw := []byte("From: a@contoso.example\r\nSubject: hi\r\n\r\n<html><script>alert(1)</script>\r\n")
	fx := newFixture(t, raw, "")
	w := fx.post(t, "/portal/messages/"+fx.ref.String()+"/original")
	h := w.Header()
	if w.Code != http.StatusOK || w.Body.String() != string(raw) || h.Get("Content-Type") != "application/octet-stream" ||
		h.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(h.Get("Content-Disposition"), `attachment; filename="message-`) ||
		!strings.Contains(h.Get("Content-Security-Policy"), "sandbox") || h.Get("Cache-Control") != "no-store" {
		t.Errorf("download: %d %v %q", w.Code, h, w.Body.String())
	}
}

// TestSubjectSecretMasked: a secret in the subject is masked in the
// title and in the Subject header line alike, until revealed.
func TestSubjectSecretMasked(t *testing.T) {
	t.Parallel()
	const key = "AKIAZ3MSJV4WQLPXT7NB"
	raw := []byte("From: a@contoso.example\r\nSubject: deploy key " + key + "\r\n\r\nnothing here\r\n")
	fx := newFixture(t, raw, "")
	page := fx.get(t, "/portal/messages/"+fx.ref.String()).Body.String()
	if strings.Contains(page, key) || strings.Count(page, "AKI…7NB") < 3 { // title, header, findings table
		t.Errorf("the subject's key is shown, or not masked everywhere:\n%s", page)
	}
}
