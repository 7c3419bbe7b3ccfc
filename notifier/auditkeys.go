package notifier

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"time"
)

// AuditScheme is how an audit entry's hash was made. It is stored with
// every entry, so a chain begun before the chain was keyed stays
// verifiable.
type AuditScheme string

// The audit schemes. Once an entry is keyed, every later one must be:
// an unkeyed entry after a keyed one is a break (a downgrade).
const (
	// AuditSchemeSHA256 is the unkeyed SHA-256 of the entries written
	// before migration 0012. Anyone can recompute it, so it proves the
	// entries consistent, not genuine.
	AuditSchemeSHA256 AuditScheme = "sha256"
	// AuditSchemeHMAC is HMAC-SHA256 under the audit key, which is kept
	// outside the database: whoever can write the table but lacks the key
	// cannot make an entry that verifies.
	AuditSchemeHMAC AuditScheme = "hmac-sha256"
)

// AuditGenesis is the prev_hash of the first audit entry.
var AuditGenesis = make([]byte, sha256.Size)

// AuditKeyMinBytes is the shortest audit key accepted: as long as the
// HMAC-SHA256 output, so the key is not the weak part.
const AuditKeyMinBytes = 32

// auditKeyInfo is the HKDF info that derives the audit key from the
// installation secret: the same secret keys form tokens, and a key must
// serve one purpose.
const auditKeyInfo = "breachnotify audit chain v1"

// DeriveAuditKey derives the audit key from the installation secret
// (HKDF-SHA256, info "breachnotify audit chain v1"), for installations
// without a key file of their own.
func DeriveAuditKey(secret []byte) ([]byte, error) {
	if len(secret) < AuditKeyMinBytes {
		return nil, fmt.Errorf("derive the audit key: the secret holds %d bytes, at least %d are needed", len(secret), AuditKeyMinBytes)
	}
	k, err := hkdf.Key(sha256.New, secret, nil, auditKeyInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("derive the audit key: %w", err)
	}
	return k, nil
}

// AuditKey is one key of the audit chain.
type AuditKey struct {
	// Secret is the key, at least AuditKeyMinBytes bytes.
	Secret []byte
	// InDatabase marks a key derived from the installation secret kept in
	// the database: whoever can rewrite the database can also rewrite what
	// it keyed. Once an entry keyed with a key kept outside appears, no
	// later entry may be keyed with such a key, and checkpoints signed with
	// one are no longer relied on.
	InDatabase bool
}

// AuditKeys are the keys of the audit chain: the first keys every new
// entry and checkpoint; all of them verify, so older keys can be kept
// after a rotation. Each entry records the id of its key.
type AuditKeys struct {
	keys []auditKey
}

type auditKey struct {
	AuditKey
	id string
}

// NewAuditKeys returns the keyring of keys, the current key first. A key
// given twice counts once.
func NewAuditKeys(keys ...AuditKey) (*AuditKeys, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("audit keys: none given")
	}
	k := &AuditKeys{}
	for i, key := range keys {
		if len(key.Secret) < AuditKeyMinBytes {
			return nil, fmt.Errorf("audit key %d holds %d bytes, at least %d are needed", i+1, len(key.Secret), AuditKeyMinBytes)
		}
		id := auditKeyID(key.Secret)
		if _, dup := k.byID(id); dup {
			continue
		}
		key.Secret = append([]byte(nil), key.Secret...)
		k.keys = append(k.keys, auditKey{AuditKey: key, id: id})
	}
	return k, nil
}

// auditKeyID names a key without revealing it: the first 8 bytes of an
// HMAC under it, in hex.
func auditKeyID(secret []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("breachnotify audit key id"))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// CurrentID is the id of the key new entries are keyed with.
func (k *AuditKeys) CurrentID() string { return k.keys[0].id }

// IDs lists the ids of every key, the current one first.
func (k *AuditKeys) IDs() []string {
	ids := make([]string, len(k.keys))
	for i, key := range k.keys {
		ids[i] = key.id
	}
	return ids
}

func (k *AuditKeys) byID(id string) (auditKey, bool) {
	for _, key := range k.keys {
		if key.id == id {
			return key, true
		}
	}
	return auditKey{}, false
}

// Seal keys e with the current key: it sets the scheme, the key id and the
// hash (an HMAC over the previous entry's hash and e's fields).
func (k *AuditKeys) Seal(e *AuditEntry) {
	e.Scheme, e.KeyID = AuditSchemeHMAC, k.keys[0].id
	e.Hash = AuditMAC(k.keys[0].Secret, *e)
}

// AuditMAC is the hash of a keyed entry: HMAC-SHA256 under key over the
// scheme's name, the previous entry's hash and the entry's fields, each
// length-prefixed so that no two different entries share an input.
// Covering the previous hash is what chains the entries: an entry moved,
// removed or re-linked without the key no longer verifies.
func AuditMAC(key []byte, e AuditEntry) []byte {
	m := hmac.New(sha256.New, key)
	writeField(m, string(AuditSchemeHMAC))
	writeField(m, string(e.PrevHash))
	writeEntryFields(m, e)
	return m.Sum(nil)
}

// LegacyAuditHash is the hash of an entry written before the chain was
// keyed: SHA-256 over the previous entry's hash and the length-prefixed
// fields. It must never change, or old chains stop verifying.
func LegacyAuditHash(e AuditEntry) []byte {
	h := sha256.New()
	h.Write(e.PrevHash)
	writeEntryFields(h, e)
	return h.Sum(nil)
}

// writeEntryFields writes an entry's fields, each as "length:value".
func writeEntryFields(w io.Writer, e AuditEntry) {
	key := ""
	if e.ActorKey != nil {
		key = strconv.FormatInt(*e.ActorKey, 10)
	}
	for _, f := range []string{e.At.UTC().Format(time.RFC3339Nano), key, e.ActorName, e.Action, e.TargetType, e.TargetID, e.RequestID, e.Details} {
		writeField(w, f)
	}
}

func writeField(w io.Writer, f string) {
	fmt.Fprintf(w, "%d:%s", len(f), f)
}
