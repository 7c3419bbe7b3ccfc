package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// FormLifetime is how long a form may be submitted after its page was
// served: a working day, so a page left open still works, and a leaked
// token soon stops working.
const FormLifetime = 12 * time.Hour

// FormTokens makes and checks the tokens that protect every form against
// cross-site request forgery. A token binds a form to a purpose (so a
// token made for one form is refused by every other), to what the form
// acts on (a link's hash, a session's hash, a sign-in cookie) and to an
// expiry time. It is "exp.mac", exp in Unix seconds and mac the
// HMAC-SHA256 of "purpose|hex(bound)|exp" keyed by the installation
// secret, base64url without padding: only this installation can make
// one, and it needs no server-side state.
type FormTokens struct {
	secret []byte
}

// MinSecretLen is the shortest secret NewFormTokens accepts: 128 bits,
// so that nobody can guess the key and forge tokens.
const MinSecretLen = 16

// NewFormTokens makes form tokens keyed by secret, the installation
// secret, which must be at least MinSecretLen bytes.
func NewFormTokens(secret []byte) (FormTokens, error) {
	if len(secret) < MinSecretLen {
		return FormTokens{}, errors.New("the secret must be at least 16 bytes")
	}
	return FormTokens{secret: secret}, nil
}

// Make is the token of a form for purpose, bound to bound, served at now.
func (f FormTokens) Make(purpose string, bound []byte, now time.Time) string {
	exp := strconv.FormatInt(now.Add(FormLifetime).Unix(), 10)
	return exp + "." + base64.RawURLEncoding.EncodeToString(f.mac(purpose, bound, exp))
}

// Valid reports whether token is a token Make made for purpose and bound
// that has not expired at now. Nothing bound is never valid: a form
// without a session or cookie to bind to would accept any copied token.
func (f FormTokens) Valid(purpose, token string, bound []byte, now time.Time) bool {
	exp, mac, ok := strings.Cut(token, ".")
	if !ok || len(exp) > 12 || len(bound) == 0 {
		return false
	}
	t, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || now.Unix() > t {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(mac)
	return err == nil && hmac.Equal(got, f.mac(purpose, bound, exp))
}

func (f FormTokens) mac(purpose string, bound []byte, exp string) []byte {
	m := hmac.New(sha256.New, f.secret)
	m.Write([]byte(purpose + "|" + hex.EncodeToString(bound) + "|" + exp))
	return m.Sum(nil)
}
