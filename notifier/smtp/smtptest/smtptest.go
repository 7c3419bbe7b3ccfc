// Package smtptest starts the SMTP servers tests send to: Mailpit (a real
// server this project did not write, github.com/axllent/mailpit), or a
// go-smtp server with a backend of the test's own; and what they need
// (free addresses, a self-signed certificate). For tests only.
package smtptest

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
	"strconv"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// Mailpit is a running Mailpit with an HTTP API to read what arrived.
type Mailpit struct {
	SMTPAddr string
	APIURL   string
}

// Message is what Mailpit's API reports of a message.
type Message struct {
	ID        string `json:"ID"`
	MessageID string `json:"MessageID"`
	Subject   string `json:"Subject"`
	To        []struct {
		Address string `json:"Address"`
	} `json:"To"`
}

// StartMailpit starts the binary named by BREACHNOTIFY_MAILPIT (built by
// `make mailpit`) on free addresses, with flags added (TLS, AUTH), and
// waits until it serves. Without the binary the test is skipped, except
// under CI, where it fails. Its output goes to the test log.
func StartMailpit(t testing.TB, flags ...string) *Mailpit {
	t.Helper()
	bin := os.Getenv("BREACHNOTIFY_MAILPIT")
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("BREACHNOTIFY_MAILPIT is not set; CI must run the Mailpit tests (make test builds it)")
		}
		t.Skip("set BREACHNOTIFY_MAILPIT to a mailpit binary (make mailpit) to run this test")
	}
	dir := t.TempDir()
	smtpAddr, apiAddr := FreeAddr(t), FreeAddr(t)
	args := append([]string{"--smtp", smtpAddr, "--listen", apiAddr, "--smtp-disable-rdns",
		"--database", filepath.Join(dir, "mailpit.db")}, flags...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logWriter{t}, logWriter{t}
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

// HostPort is the SMTP address split for a sender's configuration.
func (m *Mailpit) HostPort() (string, int) {
	h, p, _ := net.SplitHostPort(m.SMTPAddr)
	port, _ := strconv.Atoi(p)
	return h, port
}

// Messages lists what Mailpit received.
func (m *Mailpit) Messages(ctx context.Context) ([]Message, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.APIURL+"/api/v1/messages?limit=1000", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Messages []Message `json:"messages"`
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

// Serve runs a go-smtp server without TLS (AUTH allowed in the clear) for
// backend on a free port until the test ends, and returns its address.
func Serve(t testing.TB, domain string, backend gosmtp.Backend) (host string, port int) {
	t.Helper()
	srv := gosmtp.NewServer(backend)
	srv.Domain = domain
	srv.AllowInsecureAuth = true
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

// FreeAddr is a loopback address with a port free right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// SelfSignedFiles writes a fresh self-signed certificate for 127.0.0.1
// and its key as PEM files.
func SelfSignedFiles(t testing.TB) (certFile, keyFile string) {
	t.Helper()
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
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// logWriter sends a process's output to the test log.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
