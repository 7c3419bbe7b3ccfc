package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier/smtp"
)

// logRelayCheck connects to the configured relay once, as sending will
// (TLS, AUTH), and logs the outcome: a relay that refuses the login is an
// error that says what it offers, what was tried and how to fix it,
// rather than a stream of "relay unreachable" once a wave starts. It
// sends nothing; serve runs it beside starting, not before.
func logRelayCheck(ctx context.Context, logger *slog.Logger, cfg *config.Config) {
	if cfg.SMTP == nil {
		return
	}
	c := relayConfig(cfg.SMTP)
	c.Timeout = cfg.SMTPTimeout
	offer, err := smtp.Probe(ctx, c)
	relay := cfg.SMTP.String()
	var authErr *smtp.AuthError
	switch {
	case errors.As(err, &authErr):
		logger.ErrorContext(ctx, "relay authentication failed: no notice can be sent until the relay settings are fixed (breachnotify doctor)",
			"relay", relay, "user", cfg.SMTP.Username, "offered", strings.Join(authErr.Offered, " "), "tried", authErr.Tried,
			"reply", authErr.Reply, "fix", authErr.Fix)
	case err != nil:
		if ctx.Err() != nil {
			return // stopping
		}
		logger.WarnContext(ctx, "relay check failed: sending will retry (breachnotify doctor)", "relay", relay, "error", err)
	default:
		logger.InfoContext(ctx, "relay ready", "relay", relay, "starttls_offered", offer.StartTLS, "auth_offered", offer.Auth, "auth", offer.Mechanism)
	}
}
