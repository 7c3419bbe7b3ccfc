package admin

import (
	"github.com/breachnotify/breachnotify/notifier"
)

// barWidth is the progress bar's width in SVG user units: the bar is an
// inline SVG whose segments are sized by attributes, since the page's
// Content-Security-Policy allows no inline styles.
const barWidth = 1000

// segmentOrder is the order of a wave's delivery statuses along its bar:
// what is over first, then what is still to do.
var segmentOrder = []notifier.DeliveryStatus{
	notifier.DeliverySent, notifier.DeliveryFailed, notifier.DeliveryBounced, notifier.DeliverySuppressed,
	notifier.DeliveryCancelled, notifier.DeliveryDeferred, notifier.DeliverySending, notifier.DeliveryQueued,
}

var statusLabels = map[notifier.DeliveryStatus]string{
	notifier.DeliveryQueued: "Queued", notifier.DeliverySending: "Sending", notifier.DeliverySent: "Sent",
	notifier.DeliveryDeferred: "Deferred (will retry)", notifier.DeliveryFailed: "Failed", notifier.DeliveryBounced: "Bounced",
	notifier.DeliverySuppressed: "Suppressed", notifier.DeliveryCancelled: "Cancelled",
}

// segment is one delivery status's share of a wave's bar.
type segment struct {
	Status notifier.DeliveryStatus
	Label  string
	Count  int
	// X and Width place the segment on the bar (0 to barWidth).
	X, Width float64
}

// waveView is a wave as the dashboard shows it.
type waveView struct {
	notifier.Wave
	IncidentTitle string
	// Total counts the wave's deliveries; Finished those in a final
	// status (sent, failed, bounced, suppressed, cancelled).
	Total, Finished, Percent int
	Segments                 []segment
	// CanPause and CanResume tell which action the wave's status allows.
	CanPause, CanResume bool
	// Charts are the wave's charts, on the incident page only.
	Charts *waveCharts
}

// viewWave computes a wave's bar and counts.
func viewWave(w notifier.Wave) waveView {
	v := waveView{Wave: w, CanPause: w.Status == notifier.WaveRunning, CanResume: w.Status == notifier.WavePaused}
	for _, st := range segmentOrder {
		n := w.Deliveries[st]
		v.Total += n
		if st.Final() {
			v.Finished += n
		}
	}
	if v.Total > 0 {
		v.Percent = v.Finished * 100 / v.Total
	}
	x := 0.0
	for _, st := range segmentOrder {
		sg := segment{Status: st, Label: statusLabels[st], Count: w.Deliveries[st], X: x}
		if v.Total > 0 {
			sg.Width = float64(sg.Count) * barWidth / float64(v.Total)
		}
		x += sg.Width
		v.Segments = append(v.Segments, sg)
	}
	return v
}

// live reports whether a wave's figures may still change by themselves.
func (v waveView) live() bool {
	switch v.Status {
	case notifier.WaveRunning, notifier.WavePaused, notifier.WaveApproved:
		return true
	}
	return false
}
