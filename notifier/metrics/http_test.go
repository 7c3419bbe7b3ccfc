package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/breachnotify/breachnotify/notifier/buildinfo"
)

// TestHTTPLabels: the route is the pattern without its method, an
// unmatched request is "unmatched", and an invented method is "other".
func TestHTTPLabels(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	h := NewHTTP(reg)
	h.ObserveRequest("GET /api/v1/waves/{id}", "GET", 200, 3*time.Millisecond)
	h.ObserveRequest("/riverui/", "GET", 200, time.Millisecond)
	h.ObserveRequest("", "BREW", 404, time.Millisecond)
	RegisterBuildInfo(reg, buildinfo.Info{Version: "v1.2.3", Revision: "abc", GoVersion: "go1.27.3"})
	want := `
# HELP breachnotify_build_info Always 1; the labels say which build this process runs (version, revision, goversion).
# TYPE breachnotify_build_info gauge
breachnotify_build_info{goversion="go1.27.3",revision="abc",version="v1.2.3"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "breachnotify_build_info"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(h.duration); n != 3 {
		t.Errorf("%d series, want 3", n)
	}
	for _, labels := range [][]string{{"/api/v1/waves/{id}", "GET", "200"}, {"/riverui/", "GET", "200"}, {"unmatched", "other", "404"}} {
		if _, err := h.duration.GetMetricWithLabelValues(labels...); err != nil {
			t.Error(err)
		}
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "breachnotify_http_request_duration_seconds" {
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "route" && strings.Contains(l.GetValue(), "GET ") {
						t.Errorf("route label keeps the method: %q", l.GetValue())
					}
				}
			}
		}
	}
}
