package web

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

// Cookies sets and reads the cookies of one set of pages. Every cookie is
// HttpOnly (no script reads a session), on Path=/ and host-only (no
// Domain). Behind an https public URL they are Secure and their names
// carry the __Host- prefix, which the browser accepts only with Secure,
// Path=/ and no Domain: no other host, and no plain-http page, can set or
// overwrite them.
type Cookies struct {
	secure   bool
	sameSite http.SameSite
}

// NewCookies makes the cookies of pages served at publicURL (https or
// not decides Secure and the prefix), with the given SameSite mode: the
// customer pages use Lax, since contacts arrive by links in emails; the
// dashboard Strict.
func NewCookies(publicURL string, sameSite http.SameSite) Cookies {
	return Cookies{secure: strings.HasPrefix(strings.ToLower(publicURL), "https://"), sameSite: sameSite}
}

// Secure reports whether the cookies are Secure and __Host- prefixed.
func (c Cookies) Secure() bool { return c.secure }

// Name is the name the browser sees for the cookie called base.
func (c Cookies) Name(base string) string {
	if c.secure {
		return "__Host-" + base
	}
	return base
}

// Set sets the cookie base on the whole site; maxAge 0 makes a session
// cookie, which ends with the browser (the server ends a session sooner:
// idle and absolute expiry), and a negative maxAge deletes it.
func (c Cookies) Set(w http.ResponseWriter, base, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: c.Name(base), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure, SameSite: c.sameSite,
	})
}

// Delete tells the browser to forget the cookie base.
func (c Cookies) Delete(w http.ResponseWriter, base string) { c.Set(w, base, "", -1) }

// Get is the value of the request's cookie base, "" when it has none.
func (c Cookies) Get(r *http.Request, base string) string {
	k, err := r.Cookie(c.Name(base))
	if err != nil {
		return ""
	}
	return k.Value
}

// FormBinding is the value an anonymous form (a sign-in form: there is no
// session yet to bind it to) binds its form token to: the random value of
// the cookie base, set now, for the form's lifetime, unless the request
// already carries one. This is the double-submit pattern: another site
// cannot read the cookie, so it cannot make a matching token, and a
// SameSite cookie is not even sent with its POST.
func (c Cookies) FormBinding(w http.ResponseWriter, r *http.Request, base string) string {
	bind := c.Get(r, base)
	if len(bind) != bindingLen {
		bind = randomValue()
		c.Set(w, base, bind, int(FormLifetime/time.Second))
	}
	return bind
}

// bindingLen is the length of randomValue's result.
const bindingLen = 22

// randomValue is 128 random bits, base64url without padding.
func randomValue() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}
