package smtp

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/wneessen/go-mail"
)

// DKIM is how every message is signed with DomainKeys Identified Mail
// (RFC 6376, RFC 8463): receivers fetch the public key from the TXT record
// at Selector._domainkey.Domain and check that the signed headers and the
// body arrived as sent.
type DKIM struct {
	// Domain is the signing domain (d=). DMARC passes only when it is the
	// From address's domain or shares its organizational domain.
	Domain string
	// Selector names the key under Domain (s=), so keys can be rotated by
	// publishing a new selector before switching to it.
	Selector string
	// Key is an RSA (2048 bits or more) or Ed25519 private key.
	Key crypto.Signer
}

// SignedHeaders are the headers every DKIM signature covers. go-mail's
// default list leaves out the threading headers, Auto-Submitted and the
// reference code the recipient types into the verify page, all of which a
// forger would like to change. Reply-To and Cc are never set: listing them
// anyway (RFC 6376 §5.4) breaks the signature if a forwarder or attacker
// adds one, which would otherwise redirect replies to a notice.
var SignedHeaders = []string{
	"From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Auto-Submitted",
	"X-Breachnotify-Reference", "Reply-To", "Cc",
}

// oversignedHeaders are listed once more than they occur, so a second copy
// added in transit (which many clients display instead of the signed one)
// also breaks the signature (RFC 6376 §8.15).
var oversignedHeaders = []string{"From", "To", "Subject", "Date", "Message-ID", "X-Breachnotify-Reference"}

// validate reports a configuration go-mail would only refuse at the first
// send.
func (d *DKIM) validate() error {
	if d.Domain == "" || d.Selector == "" {
		return errors.New("dkim: domain and selector are required")
	}
	switch k := d.Key.(type) {
	case ed25519.PrivateKey:
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("dkim: RSA key has %d bits, at least 2048 are needed", k.N.BitLen())
		}
	default:
		return fmt.Errorf("dkim: unsupported key type %T (RSA or Ed25519)", d.Key)
	}
	return d.signer().ValidateConfig()
}

// signer builds go-mail's signer for one message. go-mail's Signer records
// the algorithm inside itself on first use, so one shared between
// goroutines would be a data race; a fresh one per message costs nothing.
func (d *DKIM) signer() *mail.DKIMSigner {
	s := mail.NewDKIMSigner(d.Domain, d.Selector, d.Key)
	s.HeaderCanonicalization(mail.CanonicalizationRelaxed)
	s.BodyCanonicalization(mail.CanonicalizationRelaxed)
	s.SignHeaders(SignedHeaders...)
	s.OversignHeaders(oversignedHeaders...)
	return s
}

// Option adds something to every message Build renders.
type Option func(*mail.Msg) error

// WithDKIM signs the message with d. The signature covers the exact bytes
// Build returns, so the recorded SHA-256 includes it.
func WithDKIM(d *DKIM) Option {
	return func(m *mail.Msg) error {
		m.SetDKIM(d.signer())
		return nil
	}
}

// WithSMIME signs the message with S/MIME (multipart/signed, RFC 8551)
// using cert's key and leaf certificate, and includes its first
// intermediate certificate when the chain has one.
func WithSMIME(cert *tls.Certificate) Option {
	return func(m *mail.Msg) error {
		if err := m.SignWithTLSCertificate(cert); err != nil {
			return fmt.Errorf("s/mime: %w", err)
		}
		return nil
	}
}

// mendDKIMFolding repairs the DKIM-Signature header go-mail v0.8.1 writes.
// It folds the header every 76 characters, even inside a tag value: a
// header list longer than one line gets a line break in the middle of a
// header name, which relaxed canonicalization turns into a space the
// signer never hashed, and every verifier then rejects the signature.
// Folds at tag boundaries ("; " then CRLF) and inside b= (whose value
// verifiers remove before hashing) are harmless and are kept; any other
// fold is undone. raw must start with the DKIM-Signature header, as
// go-mail writes it.
func mendDKIMFolding(raw []byte) []byte {
	if !bytes.HasPrefix(raw, []byte("DKIM-Signature: ")) {
		return raw
	}
	end := headerEnd(raw)
	out := make([]byte, 0, len(raw))
	inSignature := false
	for i := 0; i < end; i++ {
		if raw[i] == '\r' && i+2 < end && raw[i+1] == '\n' && (raw[i+2] == ' ' || raw[i+2] == '\t') {
			atBoundary := i > 0 && raw[i-1] == ' ' && i > 1 && raw[i-2] == ';'
			if !atBoundary && !inSignature {
				i += 2 // drop CRLF and the folding space
				continue
			}
		}
		if raw[i] == 'b' && i+1 < end && raw[i+1] == '=' && i > 0 && (raw[i-1] == ' ' || raw[i-1] == '\n') {
			inSignature = true
		}
		out = append(out, raw[i])
	}
	return append(out, raw[end:]...)
}

// headerEnd is the index just past the first header field of raw,
// including its folded continuation lines but not its final CRLF.
func headerEnd(raw []byte) int {
	for i := 0; i+1 < len(raw); i++ {
		if raw[i] == '\r' && raw[i+1] == '\n' && (i+2 >= len(raw) || (raw[i+2] != ' ' && raw[i+2] != '\t')) {
			return i
		}
	}
	return len(raw)
}

// signing checks the signing configuration once, so a bad key stops the
// sender at start rather than failing every message, and returns the
// Build options it asks for. S/MIME comes first in the list but either
// order gives the same message: go-mail always DKIM-signs the finished
// S/MIME structure, so relays and receivers see one consistent message.
func signing(cfg Config) ([]Option, error) {
	var opts []Option
	if cfg.SMIME != nil {
		probe := mail.NewMsg()
		if err := probe.SignWithTLSCertificate(cfg.SMIME); err != nil {
			return nil, fmt.Errorf("s/mime: %w", err)
		}
		opts = append(opts, WithSMIME(cfg.SMIME))
	}
	if cfg.DKIM != nil {
		if err := cfg.DKIM.validate(); err != nil {
			return nil, err
		}
		opts = append(opts, WithDKIM(cfg.DKIM))
	}
	return opts, nil
}
