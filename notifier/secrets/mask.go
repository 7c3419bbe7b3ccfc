package secrets

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// fullMask stands for a secret shown not at all. Its length is fixed, so it
// does not tell the secret's length either.
const fullMask = "••••••••"

// maskKeep is how many characters each end of a long secret keeps.
const maskKeep = 4

// mask returns a secret's display form: its first and last characters
// around an ellipsis (AKIA…MPLE), never more than a third of the secret in
// all, and no character of it at all for passwords, recovery codes,
// private keys and secrets of fewer than 12 characters. Passwords are
// guessable from a part of them; a PEM block's ends are its armour.
func mask(t Type, secret string) string {
	switch t {
	case Password, RecoveryCode, PrivateKey, ConnString:
		return fullMask
	}
	n := utf8.RuneCountInString(secret)
	keep := min(maskKeep, n/6) // 2*keep <= n/3
	if keep < 2 || strings.ContainsAny(secret, "\r\n") {
		return fullMask
	}
	r := []rune(secret)
	return string(r[:keep]) + "…" + string(r[n-keep:])
}

// fingerprint is HMAC-SHA256(key, type NUL secret) in hex. Keyed, because a
// plain hash of a password is as good as the password to anyone who can try
// a dictionary of likely passwords against it; with the key kept apart from
// the database, a stolen database tells nothing. NUL separates the type
// from the secret, so no (type, secret) pair collides with another.
func fingerprint(key []byte, t Type, secret string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(t))
	m.Write([]byte{0})
	m.Write([]byte(secret))
	return hex.EncodeToString(m.Sum(nil))
}
