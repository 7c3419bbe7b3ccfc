package app

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/store"
)

// The embedded capture mailbox is for demos and development: it keeps
// every message, with its live acknowledgement and sign-in links, in the
// database instead of delivering it. It exists only while no relay is
// configured; a process with a relay purges what an earlier run captured.

// Capturing reports whether the embedded capture mailbox is the sender
// (BREACHNOTIFY_SMTP_URL empty): only then is there a mailbox to read.
func Capturing(cfg *config.Config) bool { return cfg.SMTP == nil }

// captureWarning is logged at the start of every process that captures.
const captureWarning = "CAPTURE MAILBOX: BREACHNOTIFY_SMTP_URL is empty, so no notice or sign-in email is delivered to anyone; " +
	"every message, with its live acknowledgement and sign-in links, is kept in the database and readable by admins " +
	"(GET /api/v1/mailbox). For demos and development only: set BREACHNOTIFY_SMTP_URL before any real wave"

// PurgeCaptureMailbox deletes every captured message, audited as by, and
// logs how many there were. Run it whenever a relay is configured (serve
// at start, migrate), so nothing captured in development survives into
// production.
func PurgeCaptureMailbox(ctx context.Context, cfg *config.Config, pool *pgxpool.Pool, by notifier.Actor, logger *slog.Logger) (int64, error) {
	_, keys, err := secretAndAuditKeys(ctx, cfg, pool, logger)
	if err != nil {
		return 0, err
	}
	return purgeCaptures(ctx, store.New(pool, store.Config{AuditKeys: keys}), by, logger)
}

func purgeCaptures(ctx context.Context, st *store.Store, by notifier.Actor, logger *slog.Logger) (int64, error) {
	n, err := st.PurgeCapturedMessages(ctx, by)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		logger.InfoContext(ctx, "capture mailbox purged", "count", n, "reason", "a relay is configured (BREACHNOTIFY_SMTP_URL)")
	}
	return n, nil
}

// relayStartActor is who the audit trail names for the purge at start.
var relayStartActor = notifier.Actor{Name: "breachnotify (start with a relay configured)"}
