package app_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/config"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/capture"
)

func scrape(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMetricsExposition checks the metrics an operator relies on, that
// /metrics honours its token, that no label carries an address, and that
// promtool (from Debian's prometheus package) finds nothing to complain
// about.
func TestMetricsExposition(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{Configure: func(c *config.Config) { c.MetricsToken = "scrape-me" }})
	e.Replies.Always("secops@tailspin.example", capture.StepRcpt, capture.Fault{Code: 550, Message: "5.1.1 No such user"})
	e.Replies.Next("soc@contoso.example", capture.StepRcpt, capture.Fault{Code: 451, Message: "4.7.1 Try later"})
	e.LaunchInitial(t, e.LoadSample(t, "metrics"))

	if st, _ := scrape(t, e.App.URL(), ""); st != 401 {
		t.Errorf("no token: %d, want 401", st)
	}
	if st, _ := scrape(t, e.App.URL(), "wrong"); st != 401 {
		t.Errorf("wrong token: %d, want 401", st)
	}
	// Requests whose paths carry an id and a token: the labels carry only
	// the route patterns.
	for _, path := range []string{"/api/v1/waves/987654", "/ack/tok3nthatmustnotleak", "/no/such/path/5555"} {
		if resp, err := http.Get(e.App.URL() + path); err == nil {
			resp.Body.Close()
		}
	}
	st, body := scrape(t, e.App.URL(), "scrape-me")
	if st != 200 {
		t.Fatalf("scrape: %d", st)
	}

	for _, want := range []string{
		`breachnotify_deliveries_total{kind="initial",status="sent"} 11`,
		`breachnotify_deliveries_total{kind="initial",status="failed"} 1`,
		`breachnotify_delivery_retries_total{reason="temporary_reply"} 1`,
		`breachnotify_smtp_replies_total{class="5xx",code="550"} 1`,
		`breachnotify_smtp_send_duration_seconds_bucket`,
		`breachnotify_queue_jobs{queue="deliver",state="completed"}`,
		`breachnotify_notices{acknowledged="false"} 6`,
		`breachnotify_notices{acknowledged="true"} 0`,
		`breachnotify_oldest_unacknowledged_notice_age_seconds`,
		`breachnotify_unreachable_organizations 1`,
		`breachnotify_bounces_total{kind="permanent"} 0`,
		`breachnotify_state_scrape_success 1`,
		`breachnotify_job_snoozes_total`,
		`breachnotify_build_info{goversion="go1.`,
		`breachnotify_http_request_duration_seconds_bucket{code="401",method="GET",route="/api/v1/waves/{id}",le="0.005"}`,
		`breachnotify_http_request_duration_seconds_count{code="404",method="GET",route="/ack/{token}"} 1`,
		`breachnotify_http_request_duration_seconds_count{code="404",method="GET",route="unmatched"} 1`,
		`breachnotify_http_request_duration_seconds_count{code="401",method="GET",route="/metrics"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, "@") {
		t.Error("a metric carries an email address")
	}
	for _, leak := range []string{"987654", "tok3nthatmustnotleak", "5555"} {
		if strings.Contains(body, leak) {
			t.Errorf("a metric carries a path's id or token %q", leak)
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool is missing; CI installs Debian's prometheus package")
		}
		t.Skip("promtool not installed (apt-get install prometheus)")
	}
	f := filepath.Join(t.TempDir(), "metrics.txt")
	if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(context.Background(), promtool, "check", "metrics")
	cmd.Stdin, _ = os.Open(f)
	if out, err := cmd.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
