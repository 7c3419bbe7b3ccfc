package portal_test

// BenchmarkMessagePage renders the page of a 5 MB stolen message, as the
// portal serves it (issue 13 asks < 100 ms): decrypt, parse, find the
// secrets again to mask them, render; then the HTML frame (sanitise). The
// store is in memory, so the figure leaves out the database's few
// milliseconds (one lookup, one audit insert, 20 segment reads).
//
//	go test -run '^$' -bench MessagePage -benchmem ./notifier/portal/

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/evidence"
	"github.com/breachnotify/breachnotify/notifier/portal"
	"github.com/breachnotify/breachnotify/notifier/review"
	"github.com/breachnotify/breachnotify/notifier/secrets"
	"github.com/breachnotify/breachnotify/notifier/vault"
)

// memStore is the store of one message and one session, in memory.
type memStore struct {
	notifier.Store
	sess    notifier.PortalSession
	detail  notifier.PortalMessageDetail
	wrapped vault.WrappedKey
	sealed  []byte
}

func (m *memStore) PortalSession(context.Context, []byte) (notifier.PortalSession, error) {
	return m.sess, nil
}

func (m *memStore) PortalMessage(_ context.Context, orgID int64, ref notifier.MessageRef) (notifier.PortalMessageDetail, error) {
	if orgID != m.sess.OrganizationID || ref != m.detail.Ref {
		return notifier.PortalMessageDetail{}, notifier.Errorf(notifier.CodeNotFound, "no such message")
	}
	return m.detail, nil
}

func (m *memStore) Audit(context.Context, notifier.Actor, string, string, string, any) error {
	return nil
}

func (m *memStore) IncidentKey(context.Context, int64) (vault.WrappedKey, bool, error) {
	return m.wrapped, true, nil
}

func (m *memStore) EvidenceReader(context.Context, int64, []byte) (io.Reader, error) {
	return bytes.NewReader(m.sealed), nil
}

// bigMessage is a stolen message of about size bytes: a text part and an
// HTML part (base64, as mail clients send it) sharing the bulk, with an
// AWS key near the top of each.
func bigMessage(size int) []byte {
	var text, html strings.Builder
	text.WriteString("Hello,\nthe deploy key is AKIAZ3MSJV4WQLPXT7NB, see https://build.example/job/1\n")
	html.WriteString("<html><body><p>Key: AKIAZ3MSJV4WQLPXT7NB</p>")
	for i := 0; text.Len()+html.Len()*4/3 < size; i++ {
		fmt.Fprintf(&text, "Line %d of the quarterly report: revenue grew in region %d, see https://intranet.example/r/%d for details.\n", i, i%17, i)
		fmt.Fprintf(&html, `<p style="color:#333">Paragraph %d with <a href="https://intranet.example/r/%d">a link</a> and <img src="https://cdn.example/%d.png" alt="chart %d"></p>`+"\n", i, i, i, i)
	}
	html.WriteString("</body></html>")
	var b bytes.Buffer
	b.WriteString("From: cfo@contoso.example\r\nTo: board@contoso.example\r\nSubject: Quarterly report\r\nDate: Wed, 4 Nov 2026 09:30:00 +0000\r\n" +
		"Message-ID: <big@contoso.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b\"\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString(strings.ReplaceAll(text.String(), "\n", "\r\n"))
	b.WriteString("\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString([]byte(html.String()))
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--b--\r\n")
	return b.Bytes()
}

// fixture is a portal with one stolen message in an in-memory store.
type fixture struct {
	ref notifier.MessageRef
	msg evidence.Message
	get func(b testing.TB, path string) *httptest.ResponseRecorder
	// post sends a form with the session's form token.
	post func(b testing.TB, path string) *httptest.ResponseRecorder
}

// newFixture serves raw as the message of a signed-in session;
// unparseable, when not "", is what the import said of it.
func newFixture(b testing.TB, raw []byte, unparseable string) fixture {
	ctx := context.Background()
	sum := sha256.Sum256(raw)
	master := make([]byte, vault.KeySize)
	rand.Read(master)
	ring, err := vault.NewKeyring(master)
	if err != nil {
		b.Fatal(err)
	}
	scope := func(id int64) string { return fmt.Sprint("incident ", id) }
	dk, wrapped, err := ring.NewDataKey(scope(1))
	if err != nil {
		b.Fatal(err)
	}
	sealed, err := dk.Seal(string(sum[:]), raw)
	if err != nil {
		b.Fatal(err)
	}
	scanner, err := secrets.NewScanner(bytes.Repeat([]byte("k"), secrets.MinKeyLen))
	if err != nil {
		b.Fatal(err)
	}
	// The findings, as the import stored them.
	parser, _ := evidence.NewParser(evidence.ParserConfig{})
	msg, _ := parser.Parse(evidence.Raw{Bytes: raw, Size: int64(len(raw)), SHA256: sum})
	ref := notifier.MessageRef{IncidentID: 1, SHA256: sum}
	// A session that verified its second factor just now.
	verified := time.Now()
	st := &memStore{wrapped: wrapped, sealed: sealed,
		sess: notifier.PortalSession{IDHash: []byte("h"), ContactID: 1, ContactEmail: "soc@contoso.example", OrganizationID: 7, OrgName: "Contoso",
			FactorVerifiedAt: &verified, FactorEnrolled: true, MailAccess: true},
		detail: notifier.PortalMessageDetail{PortalMessage: notifier.PortalMessage{Ref: ref, Subject: msg.Subject, Unparseable: unparseable}, Size: int64(len(raw))}}
	for _, part := range []secrets.Part{{Name: "subject", Text: msg.Subject}, {Name: "text", Text: msg.Text}, {Name: "html", Text: msg.HTML}} {
		for _, f := range scanner.Scan(part) {
			st.detail.Findings = append(st.detail.Findings, notifier.PortalFinding{Seq: len(st.detail.Findings), Type: string(f.Type),
				RuleID: f.RuleID, Part: f.Part, Line: f.Line, Column: f.Column, Fingerprint: f.Fingerprint, Masked: f.Masked, Live: f.Live})
		}
	}
	svc := notifier.NewService(st, notifier.ServiceConfig{})
	rv, err := review.New(review.Config{Service: svc, Blobs: st, Keyring: ring, Scope: scope, Secrets: scanner})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := portal.New(portal.Config{Service: svc, Secret: bytes.Repeat([]byte("s"), 32), PublicURL: "http://notify.test", Review: rv})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	srv.Register(mux)
	cookie, _ := notifier.NewPortalToken()
	get := func(b testing.TB, path string) *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(ctx, "GET", path, nil)
		req.AddCookie(&http.Cookie{Name: "bn_portal", Value: cookie})
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("GET %s: %d\n%s", path, w.Code, w.Body.String()[:min(w.Body.Len(), 2000)])
		}
		return w
	}
	post := func(b testing.TB, path string) *httptest.ResponseRecorder {
		page := get(b, "/portal/messages/"+ref.String()).Body.String()
		i := strings.Index(page, `name="csrf" value="`)
		if i < 0 {
			b.Fatal("no form token on the page")
		}
		tok := page[i+len(`name="csrf" value="`):]
		tok = tok[:strings.IndexByte(tok, '"')]
		req := httptest.NewRequestWithContext(ctx, "POST", path, strings.NewReader(url.Values{"csrf": {tok}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: "bn_portal", Value: cookie})
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		return w
	}
	return fixture{ref: ref, msg: msg, get: get, post: post}
}

func BenchmarkMessagePage(b *testing.B) {
	raw := bigMessage(5 << 20)
	fx := newFixture(b, raw, "")
	ref, msg, get := fx.ref, fx.msg, fx.get
	page := get(b, "/portal/messages/"+ref.String()).Body.String()
	if strings.Contains(page, "AKIAZ3MSJV4WQLPXT7NB") || !strings.Contains(page, "The first 256 KiB of") {
		b.Fatal("the page shows the key, or all of the text")
	}
	b.Logf("message of %.1f MB: text %.1f MB, HTML %.1f MB; page %d KB", float64(len(raw))/1e6, float64(len(msg.Text))/1e6, float64(len(msg.HTML))/1e6, len(page)>>10)
	b.Run("page", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			get(b, "/portal/messages/"+ref.String())
		}
	})
	b.Run("html-frame", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			get(b, "/portal/messages/"+ref.String()+"/html")
		}
	})
}
