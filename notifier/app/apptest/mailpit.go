package apptest

import (
	"testing"

	"github.com/breachnotify/breachnotify/notifier/smtp/smtptest"
)

// Mailpit is a running Mailpit (github.com/axllent/mailpit): a real SMTP
// server the project did not write, with an HTTP API to read what arrived.
type Mailpit = smtptest.Mailpit

// MailpitMessage is what Mailpit's API reports of a message.
type MailpitMessage = smtptest.Message

// StartMailpit starts the binary named by BREACHNOTIFY_MAILPIT (built by
// `make mailpit`) with STARTTLS (a fresh self-signed certificate) and
// SMTP AUTH that accepts any credentials. Without the binary the test is
// skipped, except under CI, where it fails.
func StartMailpit(t testing.TB) *Mailpit {
	t.Helper()
	cert, key := smtptest.SelfSignedFiles(t)
	return smtptest.StartMailpit(t, "--smtp-tls-cert", cert, "--smtp-tls-key", key, "--smtp-require-starttls", "--smtp-auth-accept-any")
}
