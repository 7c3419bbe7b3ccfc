package bounceinbox

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// TLSMode is how the connection to the IMAP server is secured.
type TLSMode string

// The TLS modes.
const (
	// TLSImplicit: TLS from the first byte (imaps://, port 993).
	TLSImplicit TLSMode = "tls"
	// TLSStartTLS: plain connection upgraded with STARTTLS before logging in
	// (imap://, port 143); refused by the server means no connection.
	TLSStartTLS TLSMode = "starttls"
	// TLSNone: no TLS at all; the password crosses in clear. Only with
	// AllowInsecure (a test server on loopback).
	TLSNone TLSMode = "none"
)

// Server is an IMAP server and the mailbox's credentials.
type Server struct {
	// Addr is host:port.
	Addr               string
	Username, Password string
	TLS                TLSMode
}

// ParseURL reads imaps://USER:PASSWORD@HOST[:PORT] (TLS, port 993) or
// imap://USER:PASSWORD@HOST[:PORT] (STARTTLS, port 143), where
// ?tls=none turns TLS off, which only allowInsecure permits. The user and
// password are percent-encoded when they hold reserved characters.
// Errors never repeat the URL: it holds the password.
func ParseURL(raw string, allowInsecure bool) (Server, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Server{}, errors.New("is not a URL such as imaps://user:password@imap.example.com")
	}
	var s Server
	port := ""
	switch u.Scheme {
	case "imaps":
		s.TLS, port = TLSImplicit, "993"
	case "imap":
		s.TLS, port = TLSStartTLS, "143"
	default:
		return Server{}, fmt.Errorf("must start with imaps:// (TLS) or imap:// (STARTTLS), not %q", u.Scheme+"://")
	}
	for k, v := range u.Query() {
		if k != "tls" {
			return Server{}, fmt.Errorf("has an unknown parameter %q (only tls=none)", k)
		}
		if len(v) != 1 || v[0] != "none" || u.Scheme != "imap" {
			return Server{}, errors.New("tls= may only be none, with imap://")
		}
		s.TLS = TLSNone
	}
	if s.TLS == TLSNone && !allowInsecure {
		return Server{}, errors.New("turns TLS off (tls=none), which would send the mailbox's password in clear: use imaps:// or imap:// (STARTTLS), or set BREACHNOTIFY_BOUNCE_IMAP_ALLOW_INSECURE=true for a test server")
	}
	if u.Hostname() == "" {
		return Server{}, errors.New("names no host")
	}
	if u.Path != "" && u.Path != "/" {
		return Server{}, errors.New("has a path; name the folder with BREACHNOTIFY_BOUNCE_IMAP_MAILBOX instead")
	}
	if p := u.Port(); p != "" {
		port = p
	}
	s.Addr = net.JoinHostPort(u.Hostname(), port)
	s.Username = u.User.Username()
	s.Password, _ = u.User.Password()
	if s.Username == "" || s.Password == "" {
		return Server{}, errors.New("needs the mailbox's user and password: imaps://USER:PASSWORD@HOST (percent-encode reserved characters)")
	}
	if strings.ContainsAny(s.Username+s.Password, "\r\n\x00") {
		return Server{}, errors.New("has a control character in its user or password")
	}
	return s, nil
}
