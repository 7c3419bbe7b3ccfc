// Package vault encrypts evidence (stolen mail and its attachments) at rest
// by envelope encryption, so that a copy of the database alone reads
// nothing and an incident's evidence can be destroyed by destroying one key.
//
//   - A master key (key-encryption key) lives outside the database, in a
//     key file (a Keyring: the first key wraps, every key unwraps, so keys
//     can be rotated).
//   - Each incident has its own data key, random, stored in the database
//     only wrapped by a master key (AES-256-GCM, bound to the incident by
//     its associated data). Rotating the master key rewraps data keys;
//     nothing encrypted under them is touched.
//   - Evidence is encrypted under the incident's data key as a stream of
//     segments (the STREAM construction of Hoang, Reyhanitabar, Rogaway and
//     Vizár, as Tink's streaming AEAD does it): a key per object derived by
//     HKDF-SHA256 from the data key, a random salt and the object's name;
//     each segment sealed with AES-256-GCM under a nonce that counts the
//     segments and marks the last one. A segment moved, dropped, or taken
//     from another object, and a stream cut short, fail to open. Memory
//     stays one segment whatever the object's size.
//
// Destroying an incident's wrapped data key (crypto-shredding) makes every
// byte of its evidence unreadable, backups included, even before the
// ciphertext itself is deleted.
package vault

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the size of every key here: AES-256.
const KeySize = 32

// ErrUnreadable is returned for anything that fails to open: a wrong key,
// tampered or truncated data. It names no detail an attacker could steer by.
var ErrUnreadable = errors.New("vault: cannot decrypt: wrong key, or the data was altered or cut short")

// MasterKey is a key-encryption key. Its ID, a fingerprint of the key,
// is stored beside every data key it wraps, so that after a rotation the
// right key unwraps it.
type MasterKey struct {
	ID  string
	key []byte
}

// Keyring holds the master keys: the first wraps new and rewrapped data
// keys; all of them unwrap.
type Keyring struct {
	keys []MasterKey
}

// NewKeyring builds a keyring from raw keys of KeySize bytes, the current
// one first.
func NewKeyring(keys ...[]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("vault: no master key")
	}
	r := &Keyring{}
	for i, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("vault: master key %d has %d bytes, want %d", i+1, len(k), KeySize)
		}
		sum := sha256.Sum256(append([]byte("breachnotify master key id\x00"), k...))
		id := hex.EncodeToString(sum[:8])
		for _, prev := range r.keys {
			if prev.ID == id {
				return nil, fmt.Errorf("vault: master key %d is given twice", i+1)
			}
		}
		r.keys = append(r.keys, MasterKey{ID: id, key: bytes.Clone(k)})
	}
	return r, nil
}

// ParseKeyFile reads a key file: one key per line, base64 (standard or
// URL alphabet) or hex of KeySize random bytes (`openssl rand -base64 32`),
// the current key first; blank lines and lines starting with # are skipped.
func ParseKeyFile(data []byte) (*Keyring, error) {
	var keys [][]byte
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := decodeKey(line)
		if err != nil {
			return nil, fmt.Errorf("vault: key file line %d: %w", i+1, err)
		}
		keys = append(keys, k)
	}
	return NewKeyring(keys...)
}

func decodeKey(s string) ([]byte, error) {
	for _, dec := range []func(string) ([]byte, error){
		hex.DecodeString, base64.StdEncoding.DecodeString, base64.URLEncoding.DecodeString,
		base64.RawStdEncoding.DecodeString, base64.RawURLEncoding.DecodeString,
	} {
		if k, err := dec(s); err == nil && len(k) == KeySize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("not %d bytes in base64 or hex (make one with: openssl rand -base64 %d)", KeySize, KeySize)
}

// DeriveKeyring derives a one-key keyring from an installation secret
// (BREACHNOTIFY_SECRET_FILE) by HKDF-SHA256, for installations that keep
// one secret file rather than a key file of its own.
func DeriveKeyring(secret []byte) (*Keyring, error) {
	if len(secret) < KeySize {
		return nil, fmt.Errorf("vault: the secret has %d bytes, want at least %d", len(secret), KeySize)
	}
	k, err := hkdf.Key(sha256.New, secret, nil, "breachnotify evidence master key v1", KeySize)
	if err != nil {
		return nil, err
	}
	return NewKeyring(k)
}

// CurrentID is the ID of the key that wraps.
func (r *Keyring) CurrentID() string { return r.keys[0].ID }

// WrappedKey is a data key as the database stores it.
type WrappedKey struct {
	// MasterID names the master key that wrapped it.
	MasterID string
	// Sealed is the nonce followed by the AES-256-GCM sealed data key.
	Sealed []byte
}

// NewDataKey draws a data key for scope (e.g. "incident 42") and returns
// it with its wrapped form to store.
func (r *Keyring) NewDataKey(scope string) (*DataKey, WrappedKey, error) {
	raw := make([]byte, KeySize)
	rand.Read(raw) // crypto/rand.Read never fails (Go 1.24+)
	w, err := r.wrap(scope, raw)
	if err != nil {
		return nil, WrappedKey{}, err
	}
	return &DataKey{key: raw}, w, nil
}

// Unwrap opens a stored data key of scope.
func (r *Keyring) Unwrap(scope string, w WrappedKey) (*DataKey, error) {
	for _, m := range r.keys {
		if m.ID != w.MasterID {
			continue
		}
		aead, err := newGCM(m.key)
		if err != nil {
			return nil, err
		}
		if len(w.Sealed) < aead.NonceSize() {
			return nil, ErrUnreadable
		}
		nonce, sealed := w.Sealed[:aead.NonceSize()], w.Sealed[aead.NonceSize():]
		raw, err := aead.Open(nil, nonce, sealed, wrapAD(scope, m.ID))
		if err != nil || len(raw) != KeySize {
			return nil, ErrUnreadable
		}
		return &DataKey{key: raw}, nil
	}
	return nil, fmt.Errorf("vault: the data key was wrapped by master key %s, which the key file does not hold", w.MasterID)
}

// Rewrap wraps a stored data key again with the current master key (a
// rotation). changed is false when it already was.
func (r *Keyring) Rewrap(scope string, w WrappedKey) (_ WrappedKey, changed bool, _ error) {
	if w.MasterID == r.CurrentID() {
		return w, false, nil
	}
	dk, err := r.Unwrap(scope, w)
	if err != nil {
		return WrappedKey{}, false, err
	}
	nw, err := r.wrap(scope, dk.key)
	return nw, err == nil, err
}

func (r *Keyring) wrap(scope string, raw []byte) (WrappedKey, error) {
	m := r.keys[0]
	aead, err := newGCM(m.key)
	if err != nil {
		return WrappedKey{}, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+KeySize+aead.Overhead())
	rand.Read(nonce)
	return WrappedKey{MasterID: m.ID, Sealed: aead.Seal(nonce, nonce, raw, wrapAD(scope, m.ID))}, nil
}

// wrapAD binds a wrapped key to its scope and master key: a wrapped key
// copied to another incident's row does not open there.
func wrapAD(scope, masterID string) []byte {
	return []byte("breachnotify data key v1\x00" + masterID + "\x00" + scope)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// DataKey encrypts and decrypts the evidence of one scope.
type DataKey struct {
	key []byte
}

// objectKey derives the key of one object from the data key, the
// object's random salt and its name.
func (d *DataKey) objectKey(salt []byte, object string) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, d.key, salt, "breachnotify evidence object v1\x00"+object, KeySize)
	if err != nil {
		return nil, err
	}
	return newGCM(k)
}
