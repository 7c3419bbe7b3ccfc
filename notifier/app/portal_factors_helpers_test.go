package app_test

import (
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// Helpers of the second factor: a visitor enrols an authenticator app
// through the pages (reading the key off the page as a person types it
// into an app) and computes codes as the app would.

var (
	totpSecretOnPage    = regexp.MustCompile(`<code id="totp-secret">([A-Z2-7]+)</code>`)
	recoveryCodesOnPage = regexp.MustCompile(`<li><code>([0-9A-Z]{5}-[0-9A-Z]{5})</code></li>`)
)

// totpCode is the authenticator app's code at t.
func totpCode(secret string, t time.Time) string {
	code, err := totp.GenerateCodeCustom(secret, t, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		panic(err)
	}
	return code
}

// enrolTOTP sets up an authenticator app for the signed-in visitor
// through the pages; it returns the app's secret and the recovery codes
// shown once. The session is then verified.
func (v *visitor) enrolTOTP() (string, []string) {
	v.t.Helper()
	st, page, _ := v.do("GET", "/portal/factors", nil)
	m := totpSecretOnPage.FindStringSubmatch(page)
	if st != 200 || m == nil {
		v.t.Fatalf("GET /portal/factors: %d, no key on the page\n%s", st, page)
	}
	secret := m[1]
	st, page, _ = v.do("POST", "/portal/factors/totp", url.Values{"csrf": {v.csrf()}, "code": {totpCode(secret, time.Now())}, "next": {"/portal"}})
	var codes []string
	for _, c := range recoveryCodesOnPage.FindAllStringSubmatch(page, -1) {
		codes = append(codes, c[1])
	}
	if st != 200 || len(codes) != 10 || !strings.Contains(page, "Your authenticator app is set up") {
		v.t.Fatalf("POST /portal/factors/totp: %d, %d recovery codes\n%s", st, len(codes), page)
	}
	return secret, codes
}

// verifyFactor confirms the visitor's session with code (from the app,
// or a recovery code) and returns the status and where it was sent.
func (v *visitor) verifyFactor(code, next string) (int, string) {
	v.t.Helper()
	v.do("GET", "/portal/verify-factor?next="+url.QueryEscape(next), nil)
	st, _, h := v.do("POST", "/portal/verify-factor", url.Values{"csrf": {v.csrf()}, "code": {code}, "next": {next}})
	return st, h.Get("Location")
}

// signInWithFactor signs in by link and enrols an authenticator app:
// a member who may read stolen mail. It returns the app's secret.
func (v *visitor) signInWithFactor(email string) string {
	v.t.Helper()
	v.signIn(email)
	secret, _ := v.enrolTOTP()
	return secret
}
