package smtp

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/emersion/go-msgauth/dkim"
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

// SignedHeaders are the headers every DKIM signature covers: the ones a
// reader judges a notice by, the threading headers, Auto-Submitted and the
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
// also breaks the signature (RFC 6376 §8.15), and so is a top-level
// Content-Type or Content-Transfer-Encoding added to a message that had
// none.
var oversignedHeaders = []string{"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
	"Content-Transfer-Encoding", "X-Breachnotify-Reference"}

// headerKeys is the h= list: every signed header, the oversigned ones
// twice (each occurs at most once in a notice).
var headerKeys = func() []string {
	keys := append([]string(nil), SignedHeaders...)
	return append(keys, oversignedHeaders...)
}()

// validate reports a configuration the signer would refuse at the first
// message.
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
	// A signer reads what it is given in a goroutine of its own: close
	// it, or it waits forever.
	s, err := dkim.NewSigner(d.options())
	if err != nil {
		return err
	}
	_ = s.Close()
	return nil
}

func (d *DKIM) options() *dkim.SignOptions {
	return &dkim.SignOptions{
		Domain: d.Domain, Selector: d.Selector, Signer: d.Key, Hash: crypto.SHA256,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
		HeaderKeys: headerKeys,
	}
}

// signature is the DKIM-Signature header field over raw, the finished
// message, from go-msgauth's signer (the same code receivers verify
// with).
func (d *DKIM) signature(raw []byte) (string, error) {
	s, err := dkim.NewSigner(d.options())
	if err != nil {
		return "", fmt.Errorf("dkim: %w", err)
	}
	if _, err := s.Write(raw); err != nil {
		_ = s.Close()
		return "", fmt.Errorf("dkim: %w", err)
	}
	if err := s.Close(); err != nil {
		return "", fmt.Errorf("dkim: %w", err)
	}
	return s.Signature(), nil
}

// signAll prepends one DKIM-Signature per key to raw. Each covers the
// message without the others (DKIM-Signature is not in h=), so a
// receiver checks each on its own and a message signed with RSA and
// Ed25519 (RFC 8463 §4: dual signing) passes with whichever it knows.
// It writes what dkim.Sign writes, without the two copies of the message
// that dkim.Sign makes in buffers grown from nothing (the message is in
// memory already), and hashes the body once for all keys (dkimsign.go).
func signAll(ds []*DKIM, raw []byte) ([]byte, error) {
	sigs := make([]string, len(ds))
	n := len(raw)
	m, ok := parseForDKIM(raw)
	now := time.Now()
	for i, d := range ds {
		var sig string
		var err error
		if ok {
			sig, err = d.sign(m, now)
		} else {
			sig, err = d.signature(raw)
		}
		if err != nil {
			return nil, err
		}
		sigs[i] = sig
		n += len(sig)
	}
	out := make([]byte, 0, n)
	for _, sig := range sigs {
		out = append(out, sig...)
	}
	return append(out, raw...), nil
}

// builder is a message being built and what is done to it once written.
type builder struct {
	// smime is the certificate to S/MIME-sign with, if any: such a
	// message is written by go-mail (buildWithGoMail).
	smime *tls.Certificate
	// dkim are the keys to sign with, in the order their signatures come.
	dkim []*DKIM
}

// Option adds something to every message Build renders.
type Option func(*builder) error

// WithDKIM signs the message with d. The signature covers the exact bytes
// Build returns, so the recorded SHA-256 includes it. Given more than
// once, each key adds a signature (RSA and Ed25519: RFC 8463 dual
// signing), in the order given.
func WithDKIM(d *DKIM) Option {
	return func(b *builder) error {
		b.dkim = append(b.dkim, d)
		return nil
	}
}

// WithSMIME signs the message with S/MIME (multipart/signed, RFC 8551)
// using cert's key and leaf certificate, and includes its first
// intermediate certificate when the chain has one.
func WithSMIME(cert *tls.Certificate) Option {
	return func(b *builder) error {
		b.smime = cert
		return nil
	}
}

// signing checks the signing configuration once, so a bad key stops the
// sender at start rather than failing every message, and returns the
// Build options it asks for. DKIM signs the finished message, S/MIME
// structure included, so relays and receivers see one consistent message.
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
	if d := cfg.DKIMEd25519; d != nil {
		_, ed := d.Key.(ed25519.PrivateKey)
		if !ed || cfg.DKIM == nil {
			return nil, errors.New("dkim: the second signature needs an Ed25519 key, beside an RSA one")
		}
		if _, rsaFirst := cfg.DKIM.Key.(*rsa.PrivateKey); !rsaFirst {
			return nil, errors.New("dkim: the second signature needs an Ed25519 key, beside an RSA one")
		}
		if err := d.validate(); err != nil {
			return nil, err
		}
		opts = append(opts, WithDKIM(d))
	}
	return opts, nil
}
