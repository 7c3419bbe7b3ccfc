package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/breachnotify/breachnotify/notifier"
)

// Bounces counts the bounce reports taken in, whatever brought them.
type Bounces struct {
	ingested *prometheus.CounterVec
}

// NewBounces registers the bounce counters on reg, with every source and
// outcome at zero so a rate() sees the first one.
func NewBounces(reg prometheus.Registerer) *Bounces {
	b := &Bounces{ingested: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace,
		Name:      "bounces_ingested_total",
		Help:      "Bounce reports taken in by this process, by source (dsn, json, imap, ses, sendgrid, postmark, mailgun) and outcome (applied, recorded, unmatched, unparsed, duplicate, rejected).",
	}, []string{"source", "outcome"})}
	for _, src := range []notifier.BounceSource{notifier.SourceDSN, notifier.SourceJSON, notifier.SourceIMAP,
		notifier.SourceSES, notifier.SourceSendGrid, notifier.SourcePostmark, notifier.SourceMailgun} {
		for _, o := range []notifier.BounceOutcome{notifier.OutcomeApplied, notifier.OutcomeRecorded, notifier.OutcomeUnmatched,
			notifier.OutcomeUnparsed, notifier.OutcomeDuplicate, notifier.OutcomeRejected} {
			b.ingested.WithLabelValues(string(src), string(o))
		}
	}
	return b
}

// BounceIngested implements notifier.BounceCounter.
func (b *Bounces) BounceIngested(source notifier.BounceSource, outcome notifier.BounceOutcome) {
	b.ingested.WithLabelValues(string(source), string(outcome)).Inc()
}
