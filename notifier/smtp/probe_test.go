package smtp_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strconv"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/breachnotify/breachnotify/notifier/capture"
	"github.com/breachnotify/breachnotify/notifier/smtp"
)

// tlsRelay is a go-smtp server that offers STARTTLS with a self-signed
// certificate and accepts (and drops) anything.
func tlsRelay(t *testing.T) (host string, port int) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	srv := gosmtp.NewServer(nullBackend{})
	srv.Domain = "relay.test"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	h, p, _ := net.SplitHostPort(ln.Addr().String())
	port, _ = strconv.Atoi(p)
	return h, port
}

type nullBackend struct{}

func (nullBackend) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return nullSession{}, nil }

type nullSession struct{}

func (nullSession) Reset()                                 {}
func (nullSession) Logout() error                          { return nil }
func (nullSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (nullSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (nullSession) Data(r io.Reader) error                 { _, err := io.Copy(io.Discard, r); return err }

func TestProbe(t *testing.T) {
	t.Parallel()
	plain, err := capture.Start("127.0.0.1:0", capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = plain.Close() })
	ph, pp, _ := net.SplitHostPort(plain.Addr())
	plainPort, _ := strconv.Atoi(pp)
	th, tp := tlsRelay(t)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	ok := func(cfg smtp.Config, wantStartTLS bool) {
		t.Helper()
		offer, err := smtp.Probe(t.Context(), cfg)
		if err != nil || offer.StartTLS != wantStartTLS {
			t.Errorf("%+v: offer %+v, err %v; want STARTTLS=%v and no error", cfg, offer, err, wantStartTLS)
		}
	}
	ok(smtp.Config{Host: ph, Port: plainPort, TLS: "none", Timeout: 2 * time.Second}, false)
	ok(smtp.Config{Host: th, Port: tp, TLS: "starttls", SkipVerify: true, Timeout: 2 * time.Second}, true)

	if _, err := smtp.Probe(t.Context(), smtp.Config{Host: ph, Port: plainPort, TLS: "starttls", Timeout: 2 * time.Second}); !errors.Is(err, smtp.ErrNoStartTLS) {
		t.Errorf("starttls required from a relay without it: err = %v, want ErrNoStartTLS", err)
	}
	// The self-signed certificate is refused unless verification is off,
	// as it would be when sending.
	if _, err := smtp.Probe(t.Context(), smtp.Config{Host: th, Port: tp, TLS: "starttls", Timeout: 2 * time.Second}); err == nil {
		t.Error("an untrusted relay certificate passed")
	}
	if _, err := smtp.Probe(t.Context(), smtp.Config{Host: "127.0.0.1", Port: closedPort, TLS: "none", Timeout: 2 * time.Second}); err == nil {
		t.Error("a closed port answered")
	}
}
