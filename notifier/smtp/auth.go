package smtp

import (
	"errors"
	"fmt"
	"net/textproto"
	"slices"
	"strings"

	"github.com/breachnotify/breachnotify/notifier/delivery"
	mailsmtp "github.com/wneessen/go-mail/smtp"
)

// The SASL mechanisms Config.Auth may name, as the relay URL spells them.
const (
	AuthPlain   = "plain"
	AuthLogin   = "login"
	AuthCramMD5 = "cram-md5"
	AuthNone    = "none"
)

// autoMechanisms is what an empty Config.Auth picks from, best first, over
// TLS only. PLAIN comes before CRAM-MD5: inside TLS the password is safe
// either way, PLAIN works with any password storage on the relay's side,
// and CRAM-MD5 is on its way to Historic (draft-ietf-sasl-crammd5-to-historic).
var autoMechanisms = []string{"PLAIN", "LOGIN", "CRAM-MD5"}

// AuthError means the relay answered but would not let us log in. It is
// a setting to change, so it says what the relay offers, what was tried
// and what to do. errors.Is(err, delivery.ErrRelayAuth) holds for it.
type AuthError struct {
	// Offered lists the SASL mechanisms the relay offered on the
	// connection (after STARTTLS, if any); empty when it offered no AUTH.
	Offered []string
	// Tried is the mechanism tried ("PLAIN"); empty when none was: the
	// relay offers none of those allowed.
	Tried string
	// Encrypted is whether the connection was TLS-protected.
	Encrypted bool
	// Code is the relay's reply code to AUTH (535: bad credentials); 0
	// when there was no reply.
	Code int
	// Reply is the relay's reply to AUTH, or why nothing was tried.
	Reply string
	// Fix says what to change.
	Fix string
}

func (e *AuthError) Error() string {
	var b strings.Builder
	b.WriteString("relay authentication failed: ")
	if e.Tried != "" {
		b.WriteString("tried " + e.Tried + ", ")
	}
	b.WriteString("relay offers " + e.offered() + ": " + e.Reply)
	if e.Fix != "" {
		b.WriteString(" (fix: " + e.Fix + ")")
	}
	return b.String()
}

// offered is Offered for a message.
func (e *AuthError) offered() string {
	if len(e.Offered) == 0 {
		if e.Encrypted {
			return "no AUTH"
		}
		return "no AUTH on this unencrypted connection"
	}
	return strings.Join(e.Offered, " ")
}

// Is makes errors.Is(err, delivery.ErrRelayAuth) true.
func (e *AuthError) Is(target error) bool { return target == delivery.ErrRelayAuth }

// Permanent is whether trying again unchanged cannot help: the relay
// refused with a 5xx, or offers nothing we may use. A 4xx (454: the
// relay's password store is down) may pass.
func (e *AuthError) Permanent() bool { return e.Code == 0 || e.Code >= 500 }

// authenticate logs in on a connected (and, as configured, TLS-protected)
// session as cfg says, and returns the mechanism used ("" for none).
func authenticate(client *mailsmtp.Client, cfg *Config) (string, error) {
	if cfg.Username == "" || cfg.Auth == AuthNone {
		return "", nil
	}
	_, encErr := client.GetTLSConnectionState()
	encrypted := encErr == nil
	var offered []string
	if ok, mechs := client.Extension("AUTH"); ok {
		offered = strings.Fields(strings.ToUpper(mechs))
	}
	fail := func(tried string, code int, reply, fix string) (string, error) {
		return "", &AuthError{Offered: offered, Tried: tried, Encrypted: encrypted, Code: code, Reply: reply, Fix: fix}
	}
	mech, reason, fix := chooseMechanism(cfg, offered, encrypted)
	if mech == "" {
		return fail("", 0, reason, fix)
	}
	var a mailsmtp.Auth
	switch mech {
	case "PLAIN":
		a = mailsmtp.PlainAuth("", cfg.Username, cfg.Password, cfg.Host, cfg.InsecureAuth)
	case "LOGIN":
		a = mailsmtp.LoginAuth(cfg.Username, cfg.Password, cfg.Host, cfg.InsecureAuth)
	case "CRAM-MD5":
		a = mailsmtp.CRAMMD5Auth(cfg.Username, cfg.Password)
	}
	err := client.Auth(a)
	if err == nil {
		return mech, nil
	}
	var tpErr *textproto.Error
	if !errors.As(err, &tpErr) {
		// No reply: the connection failed mid-AUTH, a network fault.
		return "", fmt.Errorf("AUTH %s: %w", mech, err)
	}
	reply := fmt.Sprintf("%d %s", tpErr.Code, strings.ReplaceAll(tpErr.Msg, "\n", " "))
	return fail(mech, tpErr.Code, reply, replyFix(tpErr.Code, enhancedCode(tpErr.Msg), mech, offered, encrypted))
}

// chooseMechanism picks the mechanism to log in with, or says why there
// is none and what to change.
func chooseMechanism(cfg *Config, offered []string, encrypted bool) (mech, reason, fix string) {
	if len(offered) == 0 {
		if !encrypted {
			return "", "a user name and password are configured", "relays usually offer AUTH only after STARTTLS: use tls=starttls (port 587) or tls=tls (port 465); " +
				"if this relay takes mail without a login, remove the user name and password from BREACHNOTIFY_SMTP_URL"
		}
		return "", "a user name and password are configured", "if this relay takes mail without a login, remove the user name and password from BREACHNOTIFY_SMTP_URL; " +
			"otherwise check the port (submission is 587 or 465, not 25)"
	}
	usable := usableMechanisms(offered)
	if cfg.Auth == "" {
		if !encrypted {
			return "", "no mechanism is chosen automatically without TLS", "use tls=starttls or tls=tls, or name one with auth=" + urlMechanisms(usable)
		}
		for _, m := range autoMechanisms {
			if slices.Contains(offered, m) {
				return m, "", ""
			}
		}
		return "", "none of PLAIN, LOGIN or CRAM-MD5 is offered", "the relay offers only mechanisms breachnotify does not speak; ask its administrator for PLAIN or LOGIN over TLS"
	}
	want := strings.ToUpper(cfg.Auth)
	if !slices.Contains(offered, want) {
		if len(usable) == 0 {
			return "", "auth=" + cfg.Auth + " is not offered", "the relay offers only mechanisms breachnotify does not speak; ask its administrator for PLAIN or LOGIN over TLS"
		}
		f := "set auth=" + urlMechanisms(usable)
		if !encrypted && !slices.Contains(usable, "CRAM-MD5") {
			f += " with tls=starttls or tls=tls (or insecure_auth=true only if the connection is protected otherwise)"
		}
		return "", "auth=" + cfg.Auth + " is not offered", f
	}
	if !encrypted && want != "CRAM-MD5" && !cfg.InsecureAuth {
		// Config refuses this; a Config built by hand gets the same answer.
		return "", "auth=" + cfg.Auth + " would send the password unencrypted", "use tls=starttls or tls=tls, or auth=cram-md5, or add insecure_auth=true if the connection is protected otherwise"
	}
	return want, "", ""
}

// replyFix is what to do about the relay's refusal of AUTH.
func replyFix(code int, enhanced, mech string, offered []string, encrypted bool) string {
	switch {
	case code == 535 || enhanced == "5.7.8":
		return "check the user name and password in BREACHNOTIFY_SMTP_URL; escape @, ? and % in them as %40, %3F and %25"
	case code == 534 || enhanced == "5.7.9":
		others := slices.DeleteFunc(usableMechanisms(offered), func(m string) bool { return m == mech })
		if len(others) > 0 {
			return "the relay finds " + mech + " too weak here: set auth=" + urlMechanisms(others)
		}
		return "the relay finds " + mech + " too weak here: use tls=starttls or tls=tls"
	case code == 538 || enhanced == "5.7.11" || (!encrypted && code >= 500):
		return "the relay wants encryption for this mechanism: use tls=starttls or tls=tls"
	case code >= 400 && code < 500:
		return "a temporary failure on the relay's side: sending retries; if it lasts, ask the relay's administrator"
	}
	return "check the user name and password and the relay's log"
}

// usableMechanisms is which of offered this sender speaks.
func usableMechanisms(offered []string) []string {
	var out []string
	for _, m := range autoMechanisms {
		if slices.Contains(offered, m) {
			out = append(out, m)
		}
	}
	return out
}

// urlMechanisms spells mechanisms as auth= takes them: "plain|login".
func urlMechanisms(mechs []string) string {
	if len(mechs) == 0 {
		return "plain|login|cram-md5"
	}
	return strings.ToLower(strings.Join(mechs, "|"))
}
