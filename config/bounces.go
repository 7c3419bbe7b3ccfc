package config

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Defaults for the bounce intake.
const (
	BounceIMAPMailboxDefault  = "INBOX"
	BounceIMAPIntervalDefault = time.Minute
)

// Bounces configures how bounces come in by themselves: a polled mailbox
// and the sending providers' webhooks. Each part is off unless set.
type Bounces struct {
	// IMAP is the bounce mailbox (BREACHNOTIFY_BOUNCE_IMAP_URL or _FILE);
	// nil polls none.
	IMAP *IMAP
	// SESTopicARNs are the SNS topics whose SES notifications are taken
	// (BREACHNOTIFY_BOUNCE_SES_TOPIC_ARNS, comma-separated): SNS signs
	// every topic's messages alike, so the topic is what says they are
	// this installation's. Empty refuses SES.
	SESTopicARNs []string
	// SendGridPublicKey verifies SendGrid's signed event webhook
	// (BREACHNOTIFY_BOUNCE_SENDGRID_PUBLIC_KEY or _FILE: the base64 key
	// SendGrid shows, or PEM). Nil refuses SendGrid.
	SendGridPublicKey *ecdsa.PublicKey
	// PostmarkUser and PostmarkPassword are the basic-auth credentials put
	// in Postmark's webhook URL (BREACHNOTIFY_BOUNCE_POSTMARK_CREDENTIALS or
	// _FILE, USER:PASSWORD). Empty refuses Postmark.
	PostmarkUser, PostmarkPassword string
	// MailgunSigningKey is Mailgun's webhook signing key
	// (BREACHNOTIFY_BOUNCE_MAILGUN_SIGNING_KEY or _FILE). Empty refuses Mailgun.
	MailgunSigningKey string
}

// IMAP is the bounce mailbox: its server and credentials, the folder read
// and where recorded messages go.
type IMAP struct {
	// Addr is host:port.
	Addr               string
	Username, Password string
	// TLS is "tls" (imaps://), "starttls" (imap://) or "none".
	TLS string
	// Mailbox is the folder read (BREACHNOTIFY_BOUNCE_IMAP_MAILBOX, INBOX).
	Mailbox string
	// Processed is the folder recorded messages move to
	// (BREACHNOTIFY_BOUNCE_IMAP_PROCESSED); empty leaves them, marked seen.
	Processed string
	// Interval is the time between polls (BREACHNOTIFY_BOUNCE_IMAP_INTERVAL).
	Interval time.Duration
}

// The IMAP TLS modes.
const (
	IMAPTLS      = "tls"
	IMAPStartTLS = "starttls"
	IMAPNoTLS    = "none"
)

// bounces reads the BREACHNOTIFY_BOUNCE_* variables.
func (l *loader) bounces() Bounces {
	var b Bounces
	insecure := l.boolean("BREACHNOTIFY_BOUNCE_IMAP_ALLOW_INSECURE", false)
	if raw := l.secret("BREACHNOTIFY_BOUNCE_IMAP_URL", ""); raw != "" {
		m, err := ParseIMAPURL(raw, insecure)
		if err != nil {
			l.fail("BREACHNOTIFY_BOUNCE_IMAP_URL", err.Error())
		} else {
			m.Mailbox = l.str("BREACHNOTIFY_BOUNCE_IMAP_MAILBOX", BounceIMAPMailboxDefault)
			m.Processed = l.str("BREACHNOTIFY_BOUNCE_IMAP_PROCESSED", "")
			m.Interval = l.duration("BREACHNOTIFY_BOUNCE_IMAP_INTERVAL", BounceIMAPIntervalDefault)
			if m.Interval < time.Second {
				l.fail("BREACHNOTIFY_BOUNCE_IMAP_INTERVAL", "must be at least 1s")
			}
			if m.Processed != "" && m.Processed == m.Mailbox {
				l.fail("BREACHNOTIFY_BOUNCE_IMAP_PROCESSED", "must differ from BREACHNOTIFY_BOUNCE_IMAP_MAILBOX")
			}
			b.IMAP = &m
		}
	}
	for arn := range strings.SplitSeq(l.str("BREACHNOTIFY_BOUNCE_SES_TOPIC_ARNS", ""), ",") {
		arn = strings.TrimSpace(arn)
		if arn == "" {
			continue
		}
		if !strings.HasPrefix(arn, "arn:aws") || strings.Count(arn, ":") != 5 {
			l.fail("BREACHNOTIFY_BOUNCE_SES_TOPIC_ARNS", fmt.Sprintf("entry %q is not a topic ARN such as arn:aws:sns:eu-west-1:123456789012:ses-bounces", arn))
			continue
		}
		b.SESTopicARNs = append(b.SESTopicARNs, arn)
	}
	if raw := l.secret("BREACHNOTIFY_BOUNCE_SENDGRID_PUBLIC_KEY", ""); raw != "" {
		key, err := ParseSendGridKey(raw)
		if err != nil {
			l.fail("BREACHNOTIFY_BOUNCE_SENDGRID_PUBLIC_KEY", err.Error())
		}
		b.SendGridPublicKey = key
	}
	if raw := l.secret("BREACHNOTIFY_BOUNCE_POSTMARK_CREDENTIALS", ""); raw != "" {
		user, pass, ok := strings.Cut(raw, ":")
		if !ok || user == "" || len(pass) < 16 {
			l.fail("BREACHNOTIFY_BOUNCE_POSTMARK_CREDENTIALS", "must be USER:PASSWORD with a password of at least 16 characters (openssl rand -hex 16)")
		} else {
			b.PostmarkUser, b.PostmarkPassword = user, pass
		}
	}
	b.MailgunSigningKey = l.secret("BREACHNOTIFY_BOUNCE_MAILGUN_SIGNING_KEY", "")
	return b
}

// ParseSendGridKey reads SendGrid's verification key: the base64 of a DER
// public key as its settings page shows it, or the same in PEM.
func ParseSendGridKey(raw string) (*ecdsa.PublicKey, error) {
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(raw))
	if block, _ := pem.Decode([]byte(raw)); block != nil {
		der, err = block.Bytes, nil
	}
	if err != nil {
		return nil, errors.New("must be the verification key SendGrid shows (base64) or a PEM public key")
	}
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("is not a public key: %v", err)
	}
	ec, ok := key.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("must be an ECDSA public key (SendGrid signs with ECDSA)")
	}
	return ec, nil
}

// ParseIMAPURL reads the bounce mailbox's URL: imaps://USER:PASSWORD@HOST[:PORT] (TLS, port 993) or
// imap://USER:PASSWORD@HOST[:PORT] (STARTTLS, port 143), where
// ?tls=none turns TLS off, which only allowInsecure permits. The user and
// password are percent-encoded when they hold reserved characters.
// Errors never repeat the URL: it holds the password.
func ParseIMAPURL(raw string, allowInsecure bool) (IMAP, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return IMAP{}, errors.New("is not a URL such as imaps://user:password@imap.example.com")
	}
	var s IMAP
	port := ""
	switch u.Scheme {
	case "imaps":
		s.TLS, port = IMAPTLS, "993"
	case "imap":
		s.TLS, port = IMAPStartTLS, "143"
	default:
		return IMAP{}, fmt.Errorf("must start with imaps:// (TLS) or imap:// (STARTTLS), not %q", u.Scheme+"://")
	}
	for k, v := range u.Query() {
		if k != "tls" {
			return IMAP{}, fmt.Errorf("has an unknown parameter %q (only tls=none)", k)
		}
		if len(v) != 1 || v[0] != "none" || u.Scheme != "imap" {
			return IMAP{}, errors.New("tls= may only be none, with imap://")
		}
		s.TLS = IMAPNoTLS
	}
	if s.TLS == IMAPNoTLS && !allowInsecure {
		return IMAP{}, errors.New("turns TLS off (tls=none), which would send the mailbox's password in clear: use imaps:// or imap:// (STARTTLS), or set BREACHNOTIFY_BOUNCE_IMAP_ALLOW_INSECURE=true for a test server")
	}
	if u.Hostname() == "" {
		return IMAP{}, errors.New("names no host")
	}
	if u.Path != "" && u.Path != "/" {
		return IMAP{}, errors.New("has a path; name the folder with BREACHNOTIFY_BOUNCE_IMAP_MAILBOX instead")
	}
	if p := u.Port(); p != "" {
		port = p
	}
	s.Addr = net.JoinHostPort(u.Hostname(), port)
	s.Username = u.User.Username()
	s.Password, _ = u.User.Password()
	if s.Username == "" || s.Password == "" {
		return IMAP{}, errors.New("needs the mailbox's user and password: imaps://USER:PASSWORD@HOST (percent-encode reserved characters)")
	}
	if strings.ContainsAny(s.Username+s.Password, "\r\n\x00") {
		return IMAP{}, errors.New("has a control character in its user or password")
	}
	return s, nil
}
