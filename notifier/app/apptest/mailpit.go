package apptest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Mailpit is a running Mailpit (github.com/axllent/mailpit): a real SMTP
// server the project did not write, with an HTTP API to read what arrived.
type Mailpit struct {
	SMTPAddr string
	APIURL   string
}

// MailpitMessage is what Mailpit's API reports of a message.
type MailpitMessage struct {
	ID        string `json:"ID"`
	MessageID string `json:"MessageID"`
	Subject   string `json:"Subject"`
	To        []struct {
		Address string `json:"Address"`
	} `json:"To"`
}

// StartMailpit starts the binary named by BREACHNOTIFY_MAILPIT (built by
// `make mailpit`) with STARTTLS (a fresh self-signed certificate) and
// SMTP AUTH that accepts any credentials. Without the binary the test is
// skipped, except under CI, where it fails.
func StartMailpit(t testing.TB) *Mailpit {
	t.Helper()
	bin := os.Getenv("BREACHNOTIFY_MAILPIT")
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("BREACHNOTIFY_MAILPIT is not set; CI must run the Mailpit tests (make test builds it)")
		}
		t.Skip("set BREACHNOTIFY_MAILPIT to a mailpit binary (make mailpit) to run this test")
	}
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	smtpAddr, apiAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(bin, "--smtp", smtpAddr, "--listen", apiAddr,
		"--smtp-tls-cert", cert, "--smtp-tls-key", key, "--smtp-require-starttls",
		"--smtp-auth-accept-any", "--smtp-disable-rdns", "--database", filepath.Join(dir, "mailpit.db"))
	cmd.Stdout, cmd.Stderr = testWriter{t}, testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mailpit: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	m := &Mailpit{SMTPAddr: smtpAddr, APIURL: "http://" + apiAddr}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(m.APIURL + "/api/v1/messages")
		if err == nil {
			resp.Body.Close()
			if c, err := net.Dial("tcp", smtpAddr); err == nil {
				c.Close()
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit did not start: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Messages lists what Mailpit received.
func (m *Mailpit) Messages(ctx context.Context) ([]MailpitMessage, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.APIURL+"/api/v1/messages?limit=1000", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Messages []MailpitMessage `json:"messages"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("mailpit messages: %w", err)
	}
	return out.Messages, nil
}

// Raw returns a received message's bytes exactly as Mailpit took them.
func (m *Mailpit) Raw(ctx context.Context, id string) ([]byte, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.APIURL+"/api/v1/message/"+id+"/raw", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("mailpit raw %s: %s", id, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func selfSigned(t testing.TB, dir string) (certFile, keyFile string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
