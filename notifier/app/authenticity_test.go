package app_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"go.mozilla.org/pkcs7"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/smtp"
)

// TestEveryNoticeIsDKIMSigned sends a whole wave with DKIM on and checks
// each received message with go-msgauth, a verifier independent of the
// signer, as a receiving server would: the key comes from a (fake) DNS
// TXT record at the selector.
func TestEveryNoticeIsDKIMSigned(t *testing.T) {
	t.Parallel()
	for name, key := range map[string]crypto.Signer{"ed25519": newEd25519(t), "rsa": newRSA(t)} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := apptest.Start(t, apptest.Options{Configure: func(c *config.Config) {
				c.DKIM = &config.DKIM{Key: key, Selector: "bn2026", Domain: "notify.example"}
			}})
			w := e.LaunchInitial(t, e.LoadSample(t, "dkim-"+name))
			msgs := e.Mailbox.Messages()
			if len(msgs) != 12 || w.Deliveries["sent"] != 12 {
				t.Fatalf("%d messages received, wave %+v; want 12 sent", len(msgs), w.Deliveries)
			}
			deliveries, err := e.App.Store.WaveDeliveries(context.Background(), w.ID)
			if err != nil {
				t.Fatal(err)
			}
			recorded := map[string]string{}
			for _, d := range deliveries {
				recorded[d.Recipient] = d.MessageSHA256
			}
			for _, m := range msgs {
				v := verifyReceived(t, m.Raw, key.Public())
				if v.Err != nil {
					t.Errorf("message to %v does not verify: %v", m.Recipients, v.Err)
					continue
				}
				if v.Domain != "notify.example" {
					t.Errorf("signed by %q, want the From domain notify.example", v.Domain)
				}
				if !containsFold(v.HeaderKeys, "X-Breachnotify-Reference") || !bytes.Contains(m.Raw, []byte("X-Breachnotify-Reference: ")) {
					t.Errorf("the reference code is not a signed header (h=%v)", v.HeaderKeys)
				}
				// The hash recorded as proof of notification covers the
				// signature: it is of the exact bytes received.
				if sum := sha256.Sum256(m.Raw); hex.EncodeToString(sum[:]) != recorded[m.Recipients[0]] {
					t.Errorf("recorded SHA-256 for %s is not of the signed bytes received", m.Recipients[0])
				}
			}
		})
	}
}

// TestEveryNoticeIsSMIMEAndDKIMSigned turns both signatures on: the S/MIME
// signature verifies against the sender's certificate and DKIM still
// verifies over the signed structure.
func TestEveryNoticeIsSMIMEAndDKIMSigned(t *testing.T) {
	t.Parallel()
	dkimKey := newEd25519(t)
	cert := newSMIMECert(t)
	e := apptest.Start(t, apptest.Options{Configure: func(c *config.Config) {
		c.DKIM = &config.DKIM{Key: dkimKey, Selector: "bn2026", Domain: "notify.example"}
		c.SMIME = &config.SMIME{Certificate: cert}
	}})
	e.LaunchInitial(t, e.LoadSample(t, "smime"))
	msgs := e.Mailbox.Messages()
	if len(msgs) != 12 {
		t.Fatalf("%d messages received, want 12", len(msgs))
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	for _, m := range msgs {
		if v := verifyReceived(t, m.Raw, dkimKey.Public()); v.Err != nil {
			t.Errorf("DKIM of the message to %v: %v", m.Recipients, v.Err)
		}
		content, sig := splitSigned(t, m.Raw)
		p7, err := pkcs7.Parse(sig)
		if err != nil {
			t.Fatalf("PKCS#7 signature: %v", err)
		}
		p7.Content = content
		if err := p7.VerifyWithChain(roots); err != nil {
			t.Errorf("S/MIME signature of the message to %v: %v", m.Recipients, err)
		}
		if !bytes.Contains(content, []byte("text/plain")) || !bytes.Contains(content, []byte("text/html")) {
			t.Errorf("the signed part of the message to %v is not the text+HTML notice", m.Recipients)
		}
	}
}

func verifyReceived(t *testing.T, raw []byte, pub crypto.PublicKey) *dkim.Verification {
	t.Helper()
	record, err := smtp.DKIMRecord(pub)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: func(name string) ([]string, error) {
		if name != "bn2026._domainkey.notify.example" {
			return nil, errors.New("no such record: " + name)
		}
		return []string{record}, nil
	}})
	if err != nil || len(vs) != 1 {
		t.Fatalf("dkim: %d signatures, %v", len(vs), err)
	}
	return vs[0]
}

// splitSigned returns the signed first part of a multipart/signed message
// (RFC 1847: the bytes between the first boundary line and the CRLF before
// the next) and the decoded PKCS#7 signature of the second part.
func splitSigned(t *testing.T, raw []byte) (content, sig []byte) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/signed" {
		t.Fatalf("Content-Type %q, want multipart/signed", msg.Header.Get("Content-Type"))
	}
	body, _ := io.ReadAll(msg.Body)
	delim := "--" + params["boundary"]
	start := bytes.Index(body, []byte(delim+"\r\n"))
	end := bytes.Index(body, []byte("\r\n"+delim))
	if start < 0 || end < start {
		t.Fatal("no signed part")
	}
	content = body[start+len(delim)+2 : end]
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if err != nil {
			t.Fatalf("no signature part: %v", err)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "application/pkcs7-signature") {
			b, _ := io.ReadAll(p)
			sig, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b)), ""))
			if err != nil {
				t.Fatal(err)
			}
			return content, sig
		}
	}
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

func newEd25519(t *testing.T) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newRSA(t *testing.T) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newSMIMECert is a self-signed S/MIME certificate for the apptest sender.
func newSMIMECert(t *testing.T) *tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(7),
		Subject:               pkix.Name{CommonName: "Security Notices"},
		EmailAddresses:        []string{config.Default().From.Address},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}
