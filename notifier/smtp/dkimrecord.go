package smtp

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// RecordName is the DNS name receivers query for the public key:
// Selector._domainkey.Domain.
func (d *DKIM) RecordName() string { return d.Selector + "._domainkey." + d.Domain }

// Record is the TXT record value to publish at RecordName.
func (d *DKIM) Record() (string, error) { return DKIMRecord(d.Key.Public()) }

// DKIMRecord is the DKIM key record (RFC 6376 §3.6.1) for pub: p= holds an
// RSA key as DER SubjectPublicKeyInfo, and an Ed25519 key as its 32 raw
// bytes (RFC 8463 §4).
func DKIMRecord(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return "", err
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(k), nil
	default:
		return "", fmt.Errorf("unsupported DKIM key type %T", pub)
	}
}

// CheckDKIMRecord reports whether a published TXT record carries pub.
// The error says how the record differs: revoked (empty p=), another key
// type, another key, or not a DKIM key record at all.
func CheckDKIMRecord(txt string, pub crypto.PublicKey) error {
	tags := map[string]string{}
	for _, field := range strings.Split(txt, ";") {
		name, value, ok := strings.Cut(field, "=")
		if !ok {
			continue
		}
		tags[strings.TrimSpace(name)] = strings.Join(strings.Fields(value), "")
	}
	if v, ok := tags["v"]; ok && v != "DKIM1" {
		return fmt.Errorf("record version is %q, not DKIM1", v)
	}
	p, ok := tags["p"]
	if !ok {
		return errors.New("record has no p= tag")
	}
	if p == "" {
		return errors.New("record has an empty p=: the key is revoked")
	}
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return fmt.Errorf("p= is not base64: %w", err)
	}
	kind := tags["k"]
	if kind == "" {
		kind = "rsa"
	}
	var published crypto.PublicKey
	switch kind {
	case "ed25519":
		if len(der) != ed25519.PublicKeySize {
			return fmt.Errorf("p= holds %d bytes, an Ed25519 key has %d", len(der), ed25519.PublicKeySize)
		}
		published = ed25519.PublicKey(der)
	case "rsa":
		// Some publish the PKCS#1 form; verifiers accept both.
		if published, err = x509.ParsePKIXPublicKey(der); err != nil {
			if published, err = x509.ParsePKCS1PublicKey(der); err != nil {
				return errors.New("p= is not an RSA public key")
			}
		}
	default:
		return fmt.Errorf("record has k=%s, which DKIM does not define", kind)
	}
	eq, ok := pub.(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return fmt.Errorf("unsupported DKIM key type %T", pub)
	}
	if !eq.Equal(published) {
		return fmt.Errorf("record holds a different %s key than the configured one", kind)
	}
	return nil
}
