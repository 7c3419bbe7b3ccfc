// Package metrics exposes breachnotify's Prometheus metrics on an injected
// registry. Labels carry only bounded values (statuses, codes), never an
// address, a token or free text.
package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/breachnotify/breachnotify/notifier"
)

// Namespace prefixes every metric name.
const Namespace = "breachnotify"

// Metrics holds the collectors the service updates as it works.
type Metrics struct {
	deliveries   *prometheus.CounterVec
	sendDuration prometheus.Histogram
	smtpReplies  *prometheus.CounterVec
	snoozes      *prometheus.CounterVec
}

// New registers the collectors on reg.
func New(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		deliveries: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Name:      "deliveries_total",
			Help:      "Delivery outcomes recorded by this process, by resulting status.",
		}, []string{"status"}),
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
	}
	m.snoozes = f.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace,
		Name:      "job_snoozes_total",
		Help:      "Delivery jobs held back without spending an attempt, by reason.",
	}, []string{"reason"})
	for _, st := range notifier.DeliveryStatuses {
		m.deliveries.WithLabelValues(string(st))
	}
	return m
}

// ObserveSend implements notifier.DeliveryObserver.
func (m *Metrics) ObserveSend(r notifier.SendResult) {
	m.sendDuration.Observe(r.Duration.Seconds())
	class, code := "none", "0"
	if r.Code >= 200 && r.Code < 600 {
		class, code = strconv.Itoa(r.Code/100)+"xx", strconv.Itoa(r.Code)
	}
	m.smtpReplies.WithLabelValues(class, code).Inc()
}

// ObserveOutcome implements notifier.DeliveryObserver.
func (m *Metrics) ObserveOutcome(status notifier.DeliveryStatus) {
	m.deliveries.WithLabelValues(string(status)).Inc()
}

// ObserveSnooze implements notifier.DeliveryObserver.
func (m *Metrics) ObserveSnooze(reason string) {
	m.snoozes.WithLabelValues(reason).Inc()
}
