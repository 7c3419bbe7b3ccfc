package smtp_test

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/breachnotify/breachnotify/notifier/smtp"
	"github.com/breachnotify/breachnotify/notifier/smtp/smtptest"
)

// authMailpit is a running Mailpit that wants a login from the accounts
// in its password file.
type authMailpit struct {
	*smtptest.Mailpit
	host string
	port int
}

// startAuthMailpit starts the Mailpit named by BREACHNOTIFY_MAILPIT (make
// mailpit) with SMTP AUTH against a password file holding alice:s3cret,
// and with the extra flags given. Without the binary the test is skipped,
// except under CI, where it fails.
func startAuthMailpit(t *testing.T, flags ...string) *authMailpit {
	t.Helper()
	passwords := filepath.Join(t.TempDir(), "smtp-passwords")
	if err := os.WriteFile(passwords, []byte("alice:s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mp := smtptest.StartMailpit(t, append([]string{"--smtp-auth-file", passwords}, flags...)...)
	h, p := mp.HostPort()
	return &authMailpit{Mailpit: mp, host: h, port: p}
}

// messageIDs lists the Message-IDs of what Mailpit received.
func (m *authMailpit) messageIDs(t *testing.T) []string {
	t.Helper()
	msgs, err := m.Messages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, msg := range msgs {
		ids = append(ids, msg.MessageID)
	}
	return ids
}

// sendOne sends one message through a fresh Sender for cfg and returns
// the error of Conn, or fails the test if the relay does not take it.
func sendOne(t *testing.T, cfg smtp.Config, id string) error {
	t.Helper()
	cfg.Timeout = 5 * time.Second
	s, err := smtp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := s.Conn(t.Context())
	if err != nil {
		return err
	}
	res := conn.Send(t.Context(), &notifier.Message{
		MessageID: id, From: mail.Address{Address: "notices@sender.example"}, To: mail.Address{Address: "sec@victim.example"},
		Subject: "test", Text: "hello",
	})
	conn.Release(res.Broken)
	if res.Verdict != delivery.Accepted {
		t.Fatalf("%s: not accepted: %+v", id, res)
	}
	return nil
}

// authError fails the test unless err is an *AuthError that errors.Is
// delivery.ErrRelayAuth and whose message says each of want.
func authError(t *testing.T, err error, want ...string) *smtp.AuthError {
	t.Helper()
	var ae *smtp.AuthError
	t.Log(err)
	if !errors.As(err, &ae) || !errors.Is(err, delivery.ErrRelayAuth) {
		t.Fatalf("err = %v, want an authentication failure", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "wrong-password") {
		t.Errorf("error %q shows the password", err)
	}
	return ae
}

// TestAuthMailpitCleartext: PLAIN and LOGIN over a connection without TLS
// work against a real relay when insecure_auth asks for it, are not even
// tried without it, and a wrong password is reported as a refused login.
func TestAuthMailpitCleartext(t *testing.T) {
	t.Parallel()
	mp := startAuthMailpit(t, "--smtp-auth-allow-insecure")
	relay := smtp.Config{Host: mp.host, Port: mp.port, TLS: "none", Username: "alice", Password: "s3cret"}

	for _, mech := range []string{smtp.AuthPlain, smtp.AuthLogin} {
		cfg := relay
		cfg.Auth, cfg.InsecureAuth = mech, true
		if err := sendOne(t, cfg, mech+"@cleartext.test"); err != nil {
			t.Fatalf("auth=%s with insecure_auth: %v", mech, err)
		}

		cfg.InsecureAuth = false
		ae := authError(t, sendOne(t, cfg, "refused@cleartext.test"), "unencrypted", "insecure_auth=true", "tls=starttls")
		if ae.Tried != "" || !ae.Permanent() {
			t.Errorf("auth=%s without insecure_auth: %+v, want nothing tried, permanent", mech, ae)
		}

		cfg.InsecureAuth, cfg.Password = true, "wrong-password"
		ae = authError(t, sendOne(t, cfg, "wrong@cleartext.test"), "tried "+strings.ToUpper(mech), "535", "check the user name and password")
		if ae.Code != 535 || !ae.Permanent() {
			t.Errorf("auth=%s, wrong password: %+v, want 535, permanent", mech, ae)
		}
	}

	// No mechanism is picked for you without TLS.
	ae := authError(t, sendOne(t, relay, "auto@cleartext.test"), "tls=starttls", "auth=plain|login")
	if ae.Tried != "" {
		t.Errorf("auto without TLS tried %s", ae.Tried)
	}
	// Mailpit does not offer CRAM-MD5: the error names what it offers.
	cram := relay
	cram.Auth = smtp.AuthCramMD5
	authError(t, sendOne(t, cram, "cram@cleartext.test"), "auth=cram-md5 is not offered", "PLAIN", "LOGIN", "set auth=plain|login")

	got := mp.messageIDs(t)
	if len(got) != 2 || !strings.Contains(strings.Join(got, " "), "plain@cleartext.test") || !strings.Contains(strings.Join(got, " "), "login@cleartext.test") {
		t.Errorf("Mailpit received %v, want the PLAIN and the LOGIN message only", got)
	}
}

// TestAuthMailpitStartTLS: with STARTTLS and no auth= the best mechanism
// offered is picked, the probe says which, and a wrong password is a
// refused login, not an unreachable relay.
func TestAuthMailpitStartTLS(t *testing.T) {
	t.Parallel()
	cert, key := smtptest.SelfSignedFiles(t)
	mp := startAuthMailpit(t, "--smtp-tls-cert", cert, "--smtp-tls-key", key, "--smtp-require-starttls")
	cfg := smtp.Config{Host: mp.host, Port: mp.port, TLS: "starttls", SkipVerify: true, Username: "alice", Password: "s3cret", Timeout: 5 * time.Second}

	offer, err := smtp.Probe(t.Context(), cfg)
	if err != nil || offer.Mechanism != "PLAIN" || !strings.Contains(offer.Auth, "LOGIN") {
		t.Fatalf("probe: %+v, %v; want a login with PLAIN, LOGIN offered too", offer, err)
	}
	if err := sendOne(t, cfg, "auto@starttls.test"); err != nil {
		t.Fatal(err)
	}
	login := cfg
	login.Auth = smtp.AuthLogin
	if offer, err := smtp.Probe(t.Context(), login); err != nil || offer.Mechanism != "LOGIN" {
		t.Errorf("auth=login: %+v, %v", offer, err)
	}

	cfg.Password = "wrong-password"
	_, err = smtp.Probe(t.Context(), cfg)
	ae := authError(t, err, "tried PLAIN", "535")
	if !ae.Encrypted || ae.Code != 535 {
		t.Errorf("wrong password: %+v", ae)
	}
	if got := mp.messageIDs(t); len(got) != 1 || got[0] != "auto@starttls.test" {
		t.Errorf("Mailpit received %v", got)
	}
}

// TestAuthNoAuthOffered: credentials for a relay that offers no AUTH at
// all (here over STARTTLS) are a refused login that says so.
func TestAuthNoAuthOffered(t *testing.T) {
	t.Parallel()
	h, p := tlsRelay(t)
	cfg := smtp.Config{Host: h, Port: p, TLS: "starttls", SkipVerify: true, Username: "alice", Password: "s3cret", Timeout: 5 * time.Second}
	_, err := smtp.Probe(t.Context(), cfg)
	authError(t, err, "offers no AUTH", "remove the user name and password")
	// auth=none sends without a login.
	cfg.Auth = smtp.AuthNone
	if err := sendOne(t, cfg, "none@noauth.test"); err != nil {
		t.Fatal(err)
	}
}

// TestAuthCramMD5 runs CRAM-MD5 (RFC 2195) against a go-smtp relay that
// checks it, over a connection without TLS: Mailpit does not offer it.
func TestAuthCramMD5(t *testing.T) {
	t.Parallel()
	h, p := cramRelay(t, "alice", "s3cret")
	cfg := smtp.Config{Host: h, Port: p, TLS: "none", Username: "alice", Password: "s3cret", Auth: smtp.AuthCramMD5}
	if err := sendOne(t, cfg, "cram@cram.test"); err != nil {
		t.Fatal(err)
	}
	cfg.Password = "wrong-password"
	ae := authError(t, sendOne(t, cfg, "wrong@cram.test"), "tried CRAM-MD5", "535")
	if ae.Encrypted || !ae.Permanent() {
		t.Errorf("%+v", ae)
	}
	// PLAIN is not offered there, and the fix says what is.
	cfg.Auth, cfg.InsecureAuth = smtp.AuthPlain, true
	authError(t, sendOne(t, cfg, "plain@cram.test"), "auth=plain is not offered", "set auth=cram-md5")
}

// TestNewRefusesUnknownAuth: a hand-built Config is checked like the URL.
func TestNewRefusesUnknownAuth(t *testing.T) {
	t.Parallel()
	if _, err := smtp.New(smtp.Config{Host: "relay.example", Port: 587, Auth: "xoauth2"}); err == nil || !strings.Contains(err.Error(), `"xoauth2"`) {
		t.Errorf("err = %v, want one naming xoauth2", err)
	}
}

// cramRelay is a go-smtp relay without TLS that offers only CRAM-MD5 and
// accepts user with password.
func cramRelay(t *testing.T, user, password string) (host string, port int) {
	t.Helper()
	return smtptest.Serve(t, "cram.test", cramBackend{user: user, password: password})
}

type cramBackend struct{ user, password string }

func (b cramBackend) NewSession(*gosmtp.Conn) (gosmtp.Session, error) {
	return &cramSession{backend: b}, nil
}

type cramSession struct {
	nullSession
	backend cramBackend
	authed  bool
}

func (s *cramSession) AuthMechanisms() []string { return []string{"CRAM-MD5"} }

func (s *cramSession) Auth(mech string) (sasl.Server, error) {
	if mech != "CRAM-MD5" {
		return nil, gosmtp.ErrAuthUnsupported
	}
	return &cramServer{session: s, challenge: fmt.Sprintf("<%d.test@cram.test>", time.Now().UnixNano())}, nil
}

func (s *cramSession) Mail(string, *gosmtp.MailOptions) error {
	if !s.authed {
		return gosmtp.ErrAuthRequired
	}
	return nil
}

// cramServer checks one CRAM-MD5 exchange: a challenge, then
// "user hex(HMAC-MD5(password, challenge))".
type cramServer struct {
	session   *cramSession
	challenge string
	sent      bool
}

func (c *cramServer) Next(response []byte) ([]byte, bool, error) {
	if !c.sent {
		c.sent = true
		return []byte(c.challenge), false, nil
	}
	mac := hmac.New(md5.New, []byte(c.session.backend.password))
	io.WriteString(mac, c.challenge)
	want := c.session.backend.user + " " + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal(response, []byte(want)) {
		return nil, true, gosmtp.ErrAuthFailed
	}
	c.session.authed = true
	return nil, true, nil
}
