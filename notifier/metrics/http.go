package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/breachnotify/breachnotify/notifier/buildinfo"
)

// HTTP observes the HTTP requests a process answers: one latency histogram
// labelled by route pattern, method and status code (its _count is the
// request count). The route is the pattern that matched
// ("/api/v1/waves/{id}"), never the path, so no id or token becomes a
// label value; requests no route took share "unmatched".
type HTTP struct {
	duration *prometheus.HistogramVec
}

// NewHTTP registers the HTTP request histogram on reg.
func NewHTTP(reg prometheus.Registerer) *HTTP {
	return &HTTP{duration: promauto.With(reg).NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace,
		Name:      "http_request_duration_seconds",
		Help:      "Time to answer an HTTP request, by route pattern (never the path), method and status code.",
		Buckets:   []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300},
	}, []string{"route", "method", "code"})}
}

// ObserveRequest records one answered request. pattern is the mux pattern
// that matched, with or without its method ("GET /x/{id}" or "/x/{id}").
func (h *HTTP) ObserveRequest(pattern, method string, code int, d time.Duration) {
	route := pattern
	if _, path, ok := strings.Cut(pattern, " "); ok {
		route = path
	}
	if route == "" {
		route = "unmatched"
	}
	h.duration.WithLabelValues(route, knownMethod(method), strconv.Itoa(code)).Observe(d.Seconds())
}

// knownMethod bounds the method label: a client can send any token.
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// RegisterBuildInfo exports breachnotify_build_info, always 1, labelled with
// the build's version, VCS revision and Go version: dashboards join on it
// to show which build runs where, and an upgrade shows as a label change.
func RegisterBuildInfo(reg prometheus.Registerer, info buildinfo.Info) {
	promauto.With(reg).NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace,
		Name:      "build_info",
		Help:      "Always 1; the labels say which build this process runs (version, revision, goversion).",
	}, []string{"version", "revision", "goversion"}).WithLabelValues(info.Version, info.Revision, info.GoVersion).Set(1)
}
