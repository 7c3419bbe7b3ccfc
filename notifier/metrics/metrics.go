// Package metrics exposes breachnotify's Prometheus metrics on an injected
// registry: counters the delivery engine updates as it works, and gauges
// read from the database at scrape time (one query per scrape). Labels
// carry only bounded values (statuses, kinds, codes, queue names, wave
// ids), never an address, a token or free text.
package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/breachnotify/breachnotify/templates"
)

// Namespace prefixes every metric name.
const Namespace = "breachnotify"

// Metrics holds the collectors the service updates as it works.
type Metrics struct {
	deliveries   *prometheus.CounterVec
	retries      *prometheus.CounterVec
	sendDuration prometheus.Histogram
	smtpReplies  *prometheus.CounterVec
	snoozes      *prometheus.CounterVec
	blocked      *prometheus.CounterVec
	commit       prometheus.Histogram
	commitSize   prometheus.Histogram
	takeovers    prometheus.Counter
	takenOver    prometheus.Counter
	webhooks     *prometheus.CounterVec
	webhookTime  prometheus.Histogram
}

// New registers the collectors on reg.
func New(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		deliveries: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "deliveries_total",
			Help:      "Delivery outcomes recorded by this process, by resulting status and notice kind.",
		}, []string{"status", "kind"}),
		retries: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "delivery_retries_total",
			Help:      "Deliveries deferred to a later attempt by this process, by reason (temporary_reply: a 4xx; connection: no reply).",
		}, []string{"reason"}),
		sendDuration: f.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace,
			Name:      "smtp_send_duration_seconds",
			Help:      "Duration of one SMTP transaction (MAIL, RCPT, DATA), whatever its outcome.",
			Buckets:   []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}),
		smtpReplies: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "smtp_replies_total",
			Help:      "SMTP replies to sends, by class (2xx, 4xx, 5xx, none for a transport failure) and code.",
		}, []string{"class", "code"}),
		snoozes: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "job_snoozes_total",
			Help:      "Deliveries or jobs held back without spending an attempt, by reason.",
		}, []string{"reason"}),
		blocked: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "firewall_blocked_total",
			Help:      "Messages the link firewall stopped before signing (a link or load that is not the message's own), by the part that failed. Each one paused its wave.",
		}, []string{"part"}),
		commit: f.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace,
			Name:      "outcome_commit_duration_seconds",
			Help:      "Duration of one group commit of delivery outcomes (and the job completions that go with them).",
			Buckets:   []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30},
		}),
		commitSize: f.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace,
			Name:      "outcome_commit_outcomes",
			Help:      "Delivery outcomes written by one group commit.",
			Buckets:   []float64{1, 2, 5, 10, 20, 50, 100, 200, 500},
		}),
		takeovers: f.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "takeovers_total",
			Help:      "Dead delivery processes (lapsed leases) whose claims this process took over.",
		}),
		takenOver: f.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "taken_over_deliveries_total",
			Help:      "Pending deliveries this process took over from dead processes.",
		}),
		webhooks: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "webhook_deliveries_total",
			Help:      "Webhook delivery attempts made by this process, by outcome (succeeded; retrying: failed, tried again later; failed: given up).",
		}, []string{"outcome"}),
		webhookTime: f.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace,
			Name:      "webhook_request_duration_seconds",
			Help:      "Duration of one webhook request, whatever its outcome.",
			Buckets:   []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15},
		}),
	}
	for _, outcome := range []string{"succeeded", "retrying", "failed"} {
		m.webhooks.WithLabelValues(outcome)
	}
	for _, part := range []string{"subject", "text", "html"} {
		m.blocked.WithLabelValues(part)
	}
	for _, st := range notifier.DeliveryStatuses {
		m.deliveries.WithLabelValues(string(st), string(templates.KindInitial))
	}
	for _, reason := range []string{"temporary_reply", "connection"} {
		m.retries.WithLabelValues(reason)
	}
	for _, reason := range []string{"relay_unreachable", "relay_circuit_open", "throttled", "wave_paused",
		"domain_throttled", "domain_concurrency", "domain_rate", "global_rate", "pacing_unavailable", "interrupted", "lease_lapsed"} {
		m.snoozes.WithLabelValues(reason)
	}
	return m
}

// ObserveSend implements delivery.Observer.
func (m *Metrics) ObserveSend(r delivery.SendResult) {
	m.sendDuration.Observe(r.Duration.Seconds())
	class, code := "none", "0"
	if r.Code >= 200 && r.Code < 600 {
		class, code = strconv.Itoa(r.Code/100)+"xx", strconv.Itoa(r.Code)
	}
	m.smtpReplies.WithLabelValues(class, code).Inc()
}

// ObserveOutcome implements delivery.Observer.
func (m *Metrics) ObserveOutcome(o delivery.Outcome, kind templates.Kind) {
	m.deliveries.WithLabelValues(string(o.Status), string(kind)).Inc()
	if o.Status == notifier.DeliveryDeferred && o.Attempted {
		reason := "temporary_reply"
		if o.Code == 0 {
			reason = "connection"
		}
		m.retries.WithLabelValues(reason).Inc()
	}
}

// ObserveWebhook implements webhook.Observer.
func (m *Metrics) ObserveWebhook(outcome string, took time.Duration) {
	m.webhooks.WithLabelValues(outcome).Inc()
	m.webhookTime.Observe(took.Seconds())
}

// ObserveSnooze implements delivery.Observer.
func (m *Metrics) ObserveSnooze(reason string) {
	m.snoozes.WithLabelValues(reason).Inc()
}

// ObserveBlocked implements delivery.Observer.
func (m *Metrics) ObserveBlocked(part string) {
	switch part {
	case "subject", "text", "html":
	default:
		part = "other"
	}
	m.blocked.WithLabelValues(part).Inc()
}

// ObserveCommit implements delivery.CommitObserver.
func (m *Metrics) ObserveCommit(outcomes int, took time.Duration) {
	m.commit.Observe(took.Seconds())
	m.commitSize.Observe(float64(outcomes))
}

// ObserveTakeover counts a takeover (delivery.LeaseConfig.OnTakeover).
func (m *Metrics) ObserveTakeover(t delivery.Takeover) {
	m.takeovers.Inc()
	m.takenOver.Add(float64(t.Deliveries))
}
