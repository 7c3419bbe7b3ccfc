package app

import (
	"context"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier/bouncehooks"
	"github.com/breachnotify/breachnotify/notifier/bounceinbox"
	"github.com/breachnotify/breachnotify/queue"
)

// bouncePoller is the periodic poll of the bounce mailbox
// (BREACHNOTIFY_BOUNCE_IMAP_URL), or nil without one.
func (a *App) bouncePoller() (*queue.BouncePollWorker, error) {
	m := a.Config.Bounces.IMAP
	if m == nil {
		return nil, nil
	}
	logger := a.Logger.With("component", "bounce_mailbox")
	p, err := bounceinbox.New(bounceinbox.Config{
		Server:    bounceinbox.Server{Addr: m.Addr, Username: m.Username, Password: m.Password, TLS: m.TLS},
		Mailbox:   m.Mailbox,
		Processed: m.Processed,
		Recorder:  a.Service,
		Logger:    logger,
	})
	if err != nil {
		return nil, err
	}
	return &queue.BouncePollWorker{Poll: func(ctx context.Context) error {
		res, err := p.Poll(ctx)
		if res != (bounceinbox.Result{}) {
			logger.InfoContext(ctx, "bounce mailbox polled", "recorded", res.Recorded, "duplicates", res.Duplicates,
				"unparsed", res.Unparsed, "more_waiting", res.More)
		}
		return err
	}}, nil
}

// providerBounceHooks are the sending providers' bounce webhooks the Config
// enables (BREACHNOTIFY_BOUNCE_SES_TOPIC_ARNS, …_SENDGRID_PUBLIC_KEY,
// …_POSTMARK_CREDENTIALS, …_MAILGUN_SIGNING_KEY).
func providerBounceHooks(b config.Bounces, snsFetch func(context.Context, string) ([]byte, error)) []bouncehooks.Hook {
	var hooks []bouncehooks.Hook
	if len(b.SESTopicARNs) > 0 {
		hooks = append(hooks, &bouncehooks.SES{TopicARNs: b.SESTopicARNs, Fetch: snsFetch})
	}
	if b.SendGridPublicKey != nil {
		hooks = append(hooks, &bouncehooks.SendGrid{Key: b.SendGridPublicKey})
	}
	if b.PostmarkUser != "" {
		hooks = append(hooks, &bouncehooks.Postmark{User: b.PostmarkUser, Password: b.PostmarkPassword})
	}
	if b.MailgunSigningKey != "" {
		hooks = append(hooks, &bouncehooks.Mailgun{SigningKey: []byte(b.MailgunSigningKey)})
	}
	return hooks
}
