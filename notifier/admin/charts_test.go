package admin

import (
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
)

func TestDeadlineChart(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	at := func(h float64) *time.Time { v := now.Add(time.Duration(h * float64(time.Hour))); return &v }
	got, err := deadlineChart([]notifier.OrganizationDeadline{
		{OrgName: "Late & Co", Obligation: "gdpr-art33", NotifyBy: at(-5), State: notifier.DeadlineMissed},
		{OrgName: "Soon GmbH", Obligation: "nis2-early-warning", NotifyBy: at(3.5), State: notifier.DeadlineOpen},
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	html := string(got)
	for _, want := range []string{"Time left to notify", `<th scope="row">Late &amp; Co · gdpr-art33</th><td>0</td><td>5</td>`,
		`<th scope="row">Soon GmbH · nis2-early-warning</th><td>3.5</td><td>0</td>`, `class="dl-bar-missed"`, `class="dl-bar-open"`} {
		if !strings.Contains(html, want) {
			t.Errorf("missing %s in\n%s", want, html)
		}
	}
	empty, err := deadlineChart(nil, now)
	if err != nil || !strings.Contains(string(empty), "Every organization is notified.") {
		t.Errorf("no open deadline: %v\n%s", err, empty)
	}
}

func TestViewWaveChartsETA(t *testing.T) {
	t.Parallel()
	w := viewWave(notifier.Wave{ID: 7, Status: notifier.WaveRunning,
		Deliveries: map[notifier.DeliveryStatus]int{notifier.DeliverySent: 50, notifier.DeliveryQueued: 100}})
	c := notifier.WaveCharts{Bucket: time.Minute, AckBucket: time.Minute}
	start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for i := range notifier.SendRateMinutes {
		// 10 a minute over the last five minutes, nothing before.
		n := 0
		if i >= notifier.SendRateMinutes-notifier.ETAMinutes {
			n = 10
		}
		c.SentPerMinute = append(c.SentPerMinute, notifier.TimeCount{At: start.Add(time.Duration(i) * time.Minute), Count: n})
	}
	v, err := viewWaveCharts(w, c)
	if err != nil {
		t.Fatal(err)
	}
	if v.PerMinute != 10 || v.Remaining != 100 || v.ETA != "10 min" {
		t.Errorf("rate %v, remaining %d, ETA %q; want 10 a minute, 100 left, 10 min", v.PerMinute, v.Remaining, v.ETA)
	}
	w.Status = notifier.WavePaused
	if v, _ := viewWaveCharts(w, c); v.ETA != "" {
		t.Errorf("a paused wave has the ETA %q", v.ETA)
	}
}
