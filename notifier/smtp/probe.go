package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	mailsmtp "github.com/wneessen/go-mail/smtp"
)

// Offer is what a relay answered to EHLO.
type Offer struct {
	// StartTLS is whether the relay offers STARTTLS (RFC 3207).
	StartTLS bool
	// Auth lists the SASL mechanisms offered; empty when AUTH is not.
	// Relays often offer AUTH only after STARTTLS, so this is from the
	// session that sends (TLS as configured) when it got that far.
	Auth string
	// Mechanism is the one that logged in; empty without a login.
	Mechanism string
}

// ErrNoStartTLS means the configuration requires STARTTLS and the relay
// does not offer it, so no message could be sent.
var ErrNoStartTLS = errors.New("the relay does not offer STARTTLS")

// Probe greets the relay in cfg with EHLO and reports what it offers. Then
// it connects as sending does (TLS and AUTH as configured) to prove those
// settings work, and disconnects. It sends no mail. The error names the
// step that failed; a refused login is an *AuthError that says what the
// relay offers, what was tried and how to fix it.
func Probe(ctx context.Context, cfg Config) (Offer, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = TimeoutDefault
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	offer, err := greet(ctx, cfg)
	if err != nil {
		return offer, err
	}
	if (cfg.TLS == "starttls" || cfg.TLS == "") && !offer.StartTLS {
		return offer, ErrNoStartTLS
	}
	s, err := New(cfg)
	if err != nil {
		return offer, err
	}
	defer s.Close()
	conn, err := s.conn(ctx)
	if err != nil {
		return offer, err
	}
	if ok, mechs := conn.client.Extension("AUTH"); ok {
		offer.Auth = mechs
	}
	offer.Mechanism = conn.mechanism
	conn.Release(false)
	return offer, nil
}

// greet opens a plain (or, for tls, implicit-TLS) session and sends EHLO.
func greet(ctx context.Context, cfg Config) (Offer, error) {
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	dialer := &net.Dialer{Timeout: cfg.Timeout}
	var conn net.Conn
	var err error
	if cfg.TLS == "tls" {
		tlsCfg := &tls.Config{ServerName: cfg.Host, InsecureSkipVerify: cfg.SkipVerify, MinVersion: tls.VersionTLS12} //nolint:gosec // opt-in for test relays
		conn, err = (&tls.Dialer{NetDialer: dialer, Config: tlsCfg}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return Offer{}, fmt.Errorf("connect to %s: %w", addr, err)
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	c, err := mailsmtp.NewClient(conn, cfg.Host)
	if err != nil {
		_ = conn.Close()
		return Offer{}, fmt.Errorf("greeting from %s: %w", addr, err)
	}
	defer func() {
		_ = conn.SetDeadline(time.Now().Add(time.Second))
		if c.Quit() != nil {
			_ = c.Close()
		}
	}()
	if err := c.Hello(heloName(cfg)); err != nil {
		return Offer{}, fmt.Errorf("EHLO to %s: %w", addr, err)
	}
	var offer Offer
	offer.StartTLS, _ = c.Extension("STARTTLS")
	if ok, mechs := c.Extension("AUTH"); ok {
		offer.Auth = mechs
	}
	return offer, nil
}

// heloName is the name to greet with: the configured one, else the host
// name, as go-mail does when sending.
func heloName(cfg Config) string {
	if cfg.HELO != "" {
		return cfg.HELO
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "localhost"
}
