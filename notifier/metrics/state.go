package metrics

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/breachnotify/breachnotify/notifier"
)

// Source reads the database's state (notifier/store does, in one query).
type Source interface {
	StateSnapshot(ctx context.Context) (notifier.StateSnapshot, error)
}

// scrapeTimeout bounds the query: a collector gets no context of its own.
const scrapeTimeout = 5 * time.Second

// StateCollector turns a Snapshot into gauges at each scrape. With the
// handler's CoalesceGather, concurrent scrapes share one query.
type StateCollector struct {
	src    Source
	logger *slog.Logger

	jobs, oldestJob, notices, oldestNotice, unreachable, bounces, waves, awaiting, oldestAwaiting, up *prometheus.Desc
}

// NewStateCollector returns a collector reading from src.
func NewStateCollector(src Source, logger *slog.Logger) *StateCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &StateCollector{
		src:          src,
		logger:       logger,
		jobs:         d("queue_jobs", "Queue jobs by queue and state.", "queue", "state"),
		oldestJob:    d("queue_oldest_available_job_age_seconds", "Age of the oldest job ready to run but not taken yet, by queue.", "queue"),
		notices:      d("notices", "Notices waiting for acknowledgement (initial and follow-up, sent) by state.", "acknowledged"),
		oldestNotice: d("oldest_unacknowledged_notice_age_seconds", "Age of the oldest sent notice nobody acknowledged."),
		unreachable:  d("unreachable_organizations", "Organizations with a notice that reached none of its contacts."),
		bounces:      d("bounces_total", "Bounce reports recorded, by kind (permanent, delayed, delivered, complaint, unknown).", "kind"),
		waves:        d("wave_deliveries", "Deliveries of running waves by status.", "wave_id", "status"),
		awaiting: d("waves_awaiting_approval", "Planned waves waiting for the approval their incident's policy asks for; "+
			"automatic=\"true\" for follow-ups the service planned itself.", "automatic"),
		oldestAwaiting: d("oldest_wave_awaiting_approval_age_seconds", "How long the oldest planned wave has waited for its approval.", "automatic"),
		up:             d("state_scrape_success", "1 when the database state could be read at this scrape."),
	}
}

// Describe implements prometheus.Collector.
func (c *StateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.jobs, c.oldestJob, c.notices, c.oldestNotice, c.unreachable, c.bounces, c.waves, c.awaiting, c.oldestAwaiting, c.up} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *StateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	s, err := c.src.StateSnapshot(ctx)
	if err != nil {
		c.logger.Warn("metrics: database state unavailable", "error", err)
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	for _, j := range s.Jobs {
		ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(j.Count), j.Queue, j.State)
	}
	for q, age := range s.OldestAvailable {
		ch <- prometheus.MustNewConstMetric(c.oldestJob, prometheus.GaugeValue, age, q)
	}
	ch <- prometheus.MustNewConstMetric(c.notices, prometheus.GaugeValue, float64(s.NoticesAcknowledged), "true")
	ch <- prometheus.MustNewConstMetric(c.notices, prometheus.GaugeValue, float64(s.NoticesUnacknowledged), "false")
	ch <- prometheus.MustNewConstMetric(c.oldestNotice, prometheus.GaugeValue, s.OldestUnacknowledged)
	ch <- prometheus.MustNewConstMetric(c.unreachable, prometheus.GaugeValue, float64(s.UnreachableOrganizations))
	for _, kind := range []notifier.BounceKind{notifier.BouncePermanent, notifier.BounceDelayed, notifier.BounceDelivered,
		notifier.BounceComplaint, notifier.BounceUnknown} {
		ch <- prometheus.MustNewConstMetric(c.bounces, prometheus.CounterValue, float64(s.Bounces[string(kind)]), string(kind))
	}
	for _, automatic := range []bool{false, true} {
		var n, age float64
		for _, a := range s.AwaitingApproval {
			if a.Automatic == automatic {
				n, age = float64(a.Count), a.OldestSeconds
			}
		}
		label := strconv.FormatBool(automatic)
		ch <- prometheus.MustNewConstMetric(c.awaiting, prometheus.GaugeValue, n, label)
		ch <- prometheus.MustNewConstMetric(c.oldestAwaiting, prometheus.GaugeValue, age, label)
	}
	for _, w := range s.Waves {
		id := strconv.FormatInt(w.WaveID, 10)
		for st, n := range w.Counts {
			ch <- prometheus.MustNewConstMetric(c.waves, prometheus.GaugeValue, float64(n), id, st)
		}
	}
}
