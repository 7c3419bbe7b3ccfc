package metrics

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/deadlines"
)

// DeadlineSource reads the incidents whose deadline clock runs
// (notifier/store does, in one query).
type DeadlineSource interface {
	DeadlineStates(ctx context.Context) ([]notifier.IncidentDeadlineState, error)
}

// DeadlineCollector exports breachnotify_deadline_seconds_remaining: per
// incident and obligation, the least time left over the organizations not
// yet notified. Its labels are the incident and the obligation only, so
// the series stay few however many organizations there are; the board
// (GET /api/v1/incidents/{incident}/deadlines) names the organizations.
type DeadlineCollector struct {
	src      DeadlineSource
	profiles *deadlines.Profiles
	logger   *slog.Logger

	remaining, up *prometheus.Desc
}

// NewDeadlineCollector returns a collector reading from src and computing
// with profiles.
func NewDeadlineCollector(src DeadlineSource, profiles *deadlines.Profiles, logger *slog.Logger) *DeadlineCollector {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &DeadlineCollector{src: src, profiles: profiles, logger: logger,
		remaining: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", "deadline_seconds_remaining"),
			"Least time left (negative: overdue) to a notification deadline over the incident's organizations not yet notified, by obligation; "+
				"no series once every organization it covers was notified.", []string{"incident", "obligation"}, nil),
		up: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", "deadline_scrape_success"),
			"1 when the deadline clocks could be read at this scrape.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *DeadlineCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.remaining
	ch <- c.up
}

// Collect implements prometheus.Collector.
func (c *DeadlineCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	states, err := c.src.DeadlineStates(ctx)
	if err != nil {
		c.logger.Warn("metrics: deadline clocks unavailable", "error", err)
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	for _, s := range states {
		for obligation, left := range notifier.SecondsRemaining(c.profiles, s) {
			ch <- prometheus.MustNewConstMetric(c.remaining, prometheus.GaugeValue, left, s.Slug, obligation)
		}
	}
}
