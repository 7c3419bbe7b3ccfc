package admin

import (
	"context"
	"fmt"
	"html/template"
	"math"
	"strconv"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/admin/svgchart"
)

// chartWaves bounds how many waves of an incident get charts (the newest
// launched ones): each costs a few queries on every refresh.
const chartWaves = 5

// deadlineChartRows bounds the deadline chart's bars.
const deadlineChartRows = 15

// outcomeOrder is the stacking order of the outcome chart: what is over
// first, then what will be retried.
var outcomeOrder = []notifier.DeliveryStatus{
	notifier.DeliverySent, notifier.DeliveryFailed, notifier.DeliveryBounced, notifier.DeliverySuppressed,
	notifier.DeliveryCancelled, notifier.DeliveryDeferred,
}

// waveCharts is a wave's charts and the figures read from them.
type waveCharts struct {
	SendRate, Outcomes, Acknowledged template.HTML
	// PerMinute is the send rate over the last Window minutes
	// (notifier.ETAMinutes).
	PerMinute float64
	Window    int
	// Remaining counts the deliveries still to finish; ETA is the time
	// they take at PerMinute ("" when nothing is being sent).
	Remaining int
	ETA       string
}

// incidentCharts draws the incident page's charts: the failures, and each
// of the newest launched waves'.
func (s *Server) incidentCharts(ctx context.Context, by notifier.Actor, inc notifier.Incident, p *incidentPage) error {
	groups, err := s.svc.FailureGroups(ctx, by, inc.ID)
	if err != nil {
		return err
	}
	if p.Failures, err = failureChart(groups); err != nil {
		return err
	}
	return s.chartWaveViews(ctx, by, p.Waves)
}

// chartWaveViews adds charts to the newest launched waves (waves come
// newest first).
func (s *Server) chartWaveViews(ctx context.Context, by notifier.Actor, waves []waveView) error {
	charted := 0
	for i := 0; i < len(waves) && charted < chartWaves; i++ {
		if waves[i].LaunchedAt == nil {
			continue
		}
		c, err := s.svc.WaveCharts(ctx, by, waves[i].ID)
		if err != nil {
			return err
		}
		v, err := viewWaveCharts(waves[i], c)
		if err != nil {
			return err
		}
		waves[i].Charts = v
		charted++
	}
	return nil
}

// viewWaveCharts draws a wave's charts.
func viewWaveCharts(w waveView, c notifier.WaveCharts) (*waveCharts, error) {
	id := "wave-" + strconv.FormatInt(w.ID, 10)
	v := &waveCharts{Remaining: w.Total - w.Finished, Window: notifier.ETAMinutes}
	recent := 0
	rate := svgchart.Series{Name: "Sent", Class: "st-sent"}
	var minutes []string
	for i, m := range c.SentPerMinute {
		minutes = append(minutes, m.At.UTC().Format("15:04"))
		rate.Values = append(rate.Values, float64(m.Count))
		if i >= len(c.SentPerMinute)-notifier.ETAMinutes {
			recent += m.Count
		}
	}
	v.PerMinute = float64(recent) / notifier.ETAMinutes
	if v.PerMinute > 0 && v.Remaining > 0 && w.Status == notifier.WaveRunning {
		v.ETA = duration(float64(v.Remaining) / v.PerMinute * 60)
	}
	var err error
	if v.SendRate, err = svgchart.Render(svgchart.Chart{ID: id + "-rate", Kind: svgchart.Columns,
		Title:  fmt.Sprintf("Sent per minute, last %d minutes", notifier.SendRateMinutes),
		Desc:   fmt.Sprintf("Deliveries of wave #%d sent in each minute up to now (UTC); %.1f a minute over the last %d minutes.", w.ID, v.PerMinute, notifier.ETAMinutes),
		Labels: minutes, Series: []svgchart.Series{rate}, Empty: "Nothing sent yet."}); err != nil {
		return nil, err
	}
	if v.Outcomes, err = outcomeChart(id, w.ID, c); err != nil {
		return nil, err
	}
	acks := svgchart.Series{Name: "Acknowledged", Class: "series-ack"}
	var ackLabels []string
	for _, a := range c.Acknowledged {
		ackLabels = append(ackLabels, bucketLabel(a.At, c.AckBucket))
		acks.Values = append(acks.Values, float64(a.Count))
	}
	v.Acknowledged, err = svgchart.Render(svgchart.Chart{ID: id + "-acks", Kind: svgchart.Line,
		Title:  "Acknowledged notices, running total",
		Desc:   fmt.Sprintf("How many notices of wave #%d were acknowledged by the end of each %s since launch (UTC).", w.ID, bucketName(c.AckBucket)),
		Labels: ackLabels, Series: []svgchart.Series{acks}, Empty: "No notice acknowledged yet."})
	return v, err
}

// outcomeChart stacks the wave's outcomes per time bucket.
func outcomeChart(id string, waveID int64, c notifier.WaveCharts) (template.HTML, error) {
	var labels []string
	index := map[time.Time]int{}
	counts := map[notifier.DeliveryStatus][]float64{}
	for _, o := range c.Outcomes {
		i, ok := index[o.At]
		if !ok {
			i = len(labels)
			index[o.At] = i
			labels = append(labels, bucketLabel(o.At, c.Bucket))
		}
		for len(counts[o.Status]) < len(labels) {
			counts[o.Status] = append(counts[o.Status], 0)
		}
		counts[o.Status][i] += float64(o.Count)
	}
	var series []svgchart.Series
	for _, st := range outcomeOrder {
		if vals, ok := counts[st]; ok {
			for len(vals) < len(labels) {
				vals = append(vals, 0)
			}
			series = append(series, svgchart.Series{Name: statusLabels[st], Class: "st-" + string(st), Values: vals})
		}
	}
	return svgchart.Render(svgchart.Chart{ID: id + "-outcomes", Kind: svgchart.Columns,
		Title:  "Deliveries by outcome over time",
		Desc:   fmt.Sprintf("Deliveries of wave #%d by their outcome, per %s since launch (UTC), stacked by status.", waveID, bucketName(c.Bucket)),
		Labels: labels, Series: series, Empty: "No delivery has an outcome yet."})
}

// failureChart draws an incident's failures by recipient domain and
// reply class.
func failureChart(groups []notifier.FailureGroup) (template.HTML, error) {
	s := svgchart.Series{Name: "Failed or bounced", Class: "st-failed"}
	var labels []string
	for _, g := range groups {
		labels = append(labels, g.Domain+" · "+g.Class)
		s.Values = append(s.Values, float64(g.Count))
	}
	return svgchart.Render(svgchart.Chart{ID: "failure-groups", Kind: svgchart.Bars,
		Title:  "Failed and bounced deliveries by recipient domain and reply class",
		Desc:   fmt.Sprintf("The incident's failed and bounced deliveries counted by recipient domain and by the class of the last reply (enhanced status code, else SMTP code), the largest %d groups.", notifier.FailureGroupsMax),
		Labels: labels, Series: []svgchart.Series{s}, Empty: "No delivery of this incident has failed."})
}

// deadlineChart draws the time left (or overdue) of the organizations
// not notified yet, soonest deadline first.
func deadlineChart(rows []notifier.OrganizationDeadline, now time.Time) (template.HTML, error) {
	left := svgchart.Series{Name: "Hours left", Class: "dl-bar-open"}
	overdue := svgchart.Series{Name: "Hours overdue", Class: "dl-bar-missed"}
	var labels []string
	for _, d := range rows[:min(len(rows), deadlineChartRows)] {
		hours := math.Round(d.NotifyBy.Sub(now).Hours()*10) / 10
		labels = append(labels, d.OrgName+" · "+d.Obligation)
		left.Values = append(left.Values, max(hours, 0))
		overdue.Values = append(overdue.Values, max(-hours, 0))
	}
	return svgchart.Render(svgchart.Chart{ID: "deadline-chart", Kind: svgchart.Bars,
		Title:  "Time left to notify",
		Desc:   fmt.Sprintf("Hours left before each organization's notification deadline, or hours past it, for the first %d organizations not notified yet, soonest first.", deadlineChartRows),
		Labels: labels, Series: []svgchart.Series{left, overdue}, Empty: "Every organization is notified."})
}

// bucketLabel names a time bucket as precisely as its width needs.
func bucketLabel(t time.Time, width time.Duration) string {
	switch {
	case width >= 24*time.Hour:
		return t.UTC().Format("2 Jan")
	case width >= time.Hour:
		return t.UTC().Format("2 Jan 15:04")
	}
	return t.UTC().Format("15:04")
}

// bucketName says a bucket's width in words ("5 min").
func bucketName(width time.Duration) string {
	if width == 0 {
		return "minute"
	}
	return duration(width.Seconds())
}
