package notifier

import (
	"context"
	"time"
)

// The bounds of the dashboard's charts: each query returns at most a few
// hundred rows, whatever the size of the wave.
const (
	// SendRateMinutes is how far back the send-rate chart looks, one
	// column per minute.
	SendRateMinutes = 15
	// ETAMinutes is the recent window whose send rate predicts a running
	// wave's end: long enough to smooth a burst, short enough to follow a
	// pause or a throttle.
	ETAMinutes = 5
	// ChartBucketsMax bounds the time buckets of the outcome and
	// acknowledgement charts.
	ChartBucketsMax = 24
	// FailureGroupsMax bounds the failure chart's bars (domain × reply
	// class pairs, the largest first).
	FailureGroupsMax = 15
)

// chartBucketSteps are the bucket widths a chart may use, so its time
// axis reads in round figures.
var chartBucketSteps = []time.Duration{
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour,
}

// ChartBucketWidth is the roundest bucket width that cuts span into at
// most ChartBucketsMax buckets; a span longer than the widest step's
// ChartBucketsMax buckets gets whole weeks.
func ChartBucketWidth(span time.Duration) time.Duration {
	for _, w := range chartBucketSteps {
		if span <= w*ChartBucketsMax {
			return w
		}
	}
	week := chartBucketSteps[len(chartBucketSteps)-1]
	perWeekBuckets := week * ChartBucketsMax
	return week * ((span + perWeekBuckets - 1) / perWeekBuckets)
}

// TimeCount is a count in the time bucket starting At.
type TimeCount struct {
	At    time.Time `json:"at"`
	Count int       `json:"count"`
}

// OutcomeCount counts a wave's deliveries that reached Status in the time
// bucket starting At.
type OutcomeCount struct {
	At     time.Time      `json:"at"`
	Status DeliveryStatus `json:"status"`
	Count  int            `json:"count"`
}

// WaveCharts are the time series of one wave's charts, read in one go.
type WaveCharts struct {
	// Now is the database's time the figures were read at.
	Now time.Time `json:"now"`
	// SentPerMinute counts the deliveries sent in each of the last
	// SendRateMinutes minutes, oldest first, a zero for a quiet minute.
	SentPerMinute []TimeCount `json:"sent_per_minute"`
	// Bucket is the width of the Outcomes buckets, chosen from the wave's
	// span from launch to end (ChartBucketWidth).
	Bucket time.Duration `json:"bucket"`
	// Outcomes counts the deliveries that left queued/sending, by the
	// time of their last attempt or end, and by status; oldest first.
	Outcomes []OutcomeCount `json:"outcomes"`
	// Acknowledged is the running total of the wave's acknowledged
	// notices at the end of each bucket that saw one, oldest first.
	Acknowledged []TimeCount `json:"acknowledged"`
	// AckBucket is the width of the Acknowledged buckets, from launch to
	// now: acknowledgements go on after the wave ends.
	AckBucket time.Duration `json:"ack_bucket"`
}

// FailureGroup counts an incident's failed and bounced deliveries to one
// recipient domain with one class of reply: the enhanced status code's
// first two parts ("5.7.x"), else the SMTP code, else "no reply".
type FailureGroup struct {
	Domain string `json:"domain"`
	Class  string `json:"class"`
	Count  int    `json:"count"`
}

// ChartStore reads the dashboard's chart series.
type ChartStore interface {
	// WaveCharts reads a launched wave's series; not_found for an unknown
	// wave, empty series for one not launched.
	WaveCharts(ctx context.Context, waveID int64) (WaveCharts, error)
	// FailureGroups counts the incident's failures by recipient domain and
	// reply class, the largest groups first, at most limit of them.
	FailureGroups(ctx context.Context, incidentID int64, limit int) ([]FailureGroup, error)
}

// WaveCharts returns the series of a wave's charts: send rate, outcomes
// and acknowledgements over time.
func (s *Service) WaveCharts(ctx context.Context, by Actor, waveID int64) (WaveCharts, error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return WaveCharts{}, err
	}
	return s.store.WaveCharts(ctx, waveID)
}

// FailureGroups returns the incident's failures grouped by recipient
// domain and reply class, so one provider refusing the mail stands out.
func (s *Service) FailureGroups(ctx context.Context, by Actor, incidentID int64) ([]FailureGroup, error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return nil, err
	}
	list, err := s.store.FailureGroups(ctx, incidentID, FailureGroupsMax)
	if list == nil {
		list = []FailureGroup{}
	}
	return list, err
}
