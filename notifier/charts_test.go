package notifier_test

import (
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
)

func TestChartBucketWidth(t *testing.T) {
	t.Parallel()
	day, week := 24*time.Hour, 7*24*time.Hour
	for _, c := range []struct {
		span, want time.Duration
	}{
		{0, time.Minute},
		{time.Second, time.Minute},
		{24 * time.Minute, time.Minute},
		{25 * time.Minute, 2 * time.Minute},
		{2 * time.Hour, 5 * time.Minute},
		{24 * time.Hour, time.Hour},
		{3 * day, 3 * time.Hour},
		{20 * day, day},
		{24 * week, week},
		{48 * week, 2 * week},
		{49 * week, 3 * week},
	} {
		got := notifier.ChartBucketWidth(c.span)
		if got != c.want {
			t.Errorf("ChartBucketWidth(%v) = %v, want %v", c.span, got, c.want)
		}
		if got*notifier.ChartBucketsMax < c.span {
			t.Errorf("ChartBucketWidth(%v) = %v makes more than %d buckets", c.span, got, notifier.ChartBucketsMax)
		}
	}
}
