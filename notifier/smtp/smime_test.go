package smtp_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	"go.mozilla.org/pkcs7"

	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/breachnotify/breachnotify/notifier/smtp"
)

// smimeCert is a self-signed S/MIME certificate for the test sender.
func smimeCert(t testing.TB, key crypto.Signer) *tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(42),
		Subject:               pkix.Name{CommonName: "Security Notices"},
		EmailAddresses:        []string{"notices@notify.example"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
		IsCA:                  true, // self-signed: it is its own trust anchor in the test
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// signedParts splits a multipart/signed message (RFC 1847) into the exact
// bytes that were signed (the first body part, MIME headers included) and
// the decoded detached PKCS#7 signature.
func signedParts(t *testing.T, raw []byte) (content, signature []byte) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/signed" || params["protocol"] != "application/pkcs7-signature" || params["micalg"] != "sha-256" {
		t.Fatalf("Content-Type = %q, want multipart/signed with protocol application/pkcs7-signature and micalg sha-256", msg.Header.Get("Content-Type"))
	}
	body, _ := io.ReadAll(msg.Body)
	delim := []byte("--" + params["boundary"])
	start := bytes.Index(body, append(delim, "\r\n"...))
	end := bytes.Index(body, append([]byte("\r\n"), delim...))
	if start < 0 || end < start {
		t.Fatal("cannot find the signed part between the boundaries")
	}
	content = body[start+len(delim)+2 : end]

	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var parts []*multipart.Part
	var sigPart []byte
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
		if strings.HasPrefix(p.Header.Get("Content-Type"), "application/pkcs7-signature") {
			if p.Header.Get("Content-Transfer-Encoding") != "base64" {
				t.Errorf("signature part is %q, want base64", p.Header.Get("Content-Transfer-Encoding"))
			}
			b, _ := io.ReadAll(p)
			if sigPart, err = base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b)), "")); err != nil {
				t.Fatalf("signature part: %v", err)
			}
		}
	}
	if len(parts) != 2 || sigPart == nil {
		t.Fatalf("multipart/signed has %d parts, want the content and the signature", len(parts))
	}
	return content, sigPart
}

func TestSMIMESignatureVerifies(t *testing.T) {
	t.Parallel()
	keys := map[string]crypto.Signer{"rsa": rsaKey(t, 2048)}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys["ecdsa"] = ec
	for name, key := range keys {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cert := smimeCert(t, key)
			m := message("ok@x.example")
			m.Text = "Your mailbox was read on 3 March.\nReference: BN-7K4Q-2M9D"
			raw, err := smtp.Build(m, smtp.WithSMIME(cert))
			if err != nil {
				t.Fatal(err)
			}
			content, sig := signedParts(t, raw)
			// The signed part is still the readable text+HTML message.
			if !bytes.HasPrefix(content, []byte("Content-Type: multipart/alternative")) || !bytes.Contains(content, []byte("3 March")) {
				t.Fatalf("signed content is not the text+HTML body:\n%s", content)
			}
			p7, err := pkcs7.Parse(sig)
			if err != nil {
				t.Fatalf("parse PKCS#7: %v", err)
			}
			p7.Content = content
			roots := x509.NewCertPool()
			roots.AddCert(cert.Leaf)
			if err := p7.VerifyWithChain(roots); err != nil {
				t.Fatalf("S/MIME signature does not verify: %v", err)
			}
			if signer := p7.GetOnlySigner(); signer == nil || !signer.Equal(cert.Leaf) {
				t.Error("the signature does not carry the sender's certificate")
			}
			p7.Content = bytes.Replace(content, []byte("3 March"), []byte("4 March"), 1)
			if err := p7.Verify(); err == nil {
				t.Error("a changed body still verifies")
			}
		})
	}
}

func TestSMIMEAndDKIMTogether(t *testing.T) {
	t.Parallel()
	dkimKey := ed25519Key(t)
	d := &smtp.DKIM{Domain: "notify.example", Selector: "bn2026", Key: dkimKey}
	cert := smimeCert(t, rsaKey(t, 2048))
	s, sink := startSenderWith(t, smtp.Config{DKIM: d, SMIME: cert})
	conn, err := s.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release(false)
	if r := conn.Send(t.Context(), message("ok@x.example")); r.Verdict != delivery.Accepted {
		t.Fatalf("send: %+v", r)
	}
	raw := sink.Messages()[0].Raw
	if _, err := verifyDKIM(t, raw, d, dkimKey.Public()); err != nil {
		t.Errorf("DKIM over the S/MIME message does not verify: %v", err)
	}
	content, sig := signedParts(t, raw)
	p7, err := pkcs7.Parse(sig)
	if err != nil {
		t.Fatal(err)
	}
	p7.Content = content
	if err := p7.Verify(); err != nil {
		t.Errorf("S/MIME signature does not verify: %v", err)
	}
}
