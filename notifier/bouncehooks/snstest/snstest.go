// Package snstest signs SNS messages as Amazon SNS does, with a
// certificate of its own that it serves for a URL on an SNS host, for
// tests of the SES bounce webhook.
package snstest

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SNS signature version 1 is SHA1withRSA
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier/bouncehooks"
)

// Topic is the topic ARN the tests configure.
const Topic = "arn:aws:sns:eu-west-1:123456789012:ses-bounces"

// Signer signs SNS deliveries.
type Signer struct {
	key     *rsa.PrivateKey
	certPEM []byte
	// CertURL is where the signing certificate is said to be.
	CertURL string

	mu      sync.Mutex
	fetched []string
}

// New makes a key and a self-signed certificate valid for an hour.
func New(t testing.TB) *Signer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sns.amazonaws.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &Signer{key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		CertURL: "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-test.pem"}
}

// Fetch serves the certificate at CertURL and answers subscription
// confirmations on the same host; anything else is not found.
func (s *Signer) Fetch(_ context.Context, u string) ([]byte, error) {
	s.mu.Lock()
	s.fetched = append(s.fetched, u)
	s.mu.Unlock()
	if u == s.CertURL {
		return s.certPEM, nil
	}
	if strings.HasPrefix(u, "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription") {
		return []byte("<ConfirmSubscriptionResponse/>"), nil
	}
	return nil, errors.New("not found")
}

// Fetched lists the URLs fetched so far.
func (s *Signer) Fetched() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.fetched...)
}

// Sign returns the SNS delivery of fields, signed with version (1 or 2).
func (s *Signer) Sign(t testing.TB, version string, fields map[string]string) []byte {
	t.Helper()
	text := bouncehooks.SNSStringToSign(fields)
	var sig []byte
	var err error
	if version == "1" {
		d := sha1.Sum([]byte(text)) //nolint:gosec // see the import
		sig, err = rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA1, d[:])
	} else {
		d := sha256.Sum256([]byte(text))
		sig, err = rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, d[:])
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{"SignatureVersion": version, "Signature": base64.StdEncoding.EncodeToString(sig), "SigningCertURL": s.CertURL}
	for k, v := range fields {
		out[k] = v
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Notification is an SNS Notification carrying message on Topic.
func Notification(id string, message []byte) map[string]string {
	return map[string]string{"Type": "Notification", "MessageId": id, "TopicArn": Topic,
		"Message": string(message), "Timestamp": "2012-05-02T00:54:06.655Z"}
}
