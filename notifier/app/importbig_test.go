package app_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/migrations/testdb"
	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/apiclient"
	"github.com/breachnotify/breachnotify/notifier/app"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// TestMillionRowImport streams a generated exposure CSV (1,000,000 rows,
// about 134 MB, never written to disk) into a real `breachnotify serve`
// process with the default limits, while another client reads the API,
// and reports the elapsed time, the server's peak RSS (VmHWM) and the
// API's slowest answer meanwhile. It takes minutes, so it runs only when
// asked:
//
//	BREACHNOTIFY_TEST_BIG_IMPORT=1 go test -count=1 -run TestMillionRowImport -v ./notifier/app/
//
// BREACHNOTIFY_TEST_BIG_IMPORT may also give the row count (say 200000).
// The peak RSS must stay under 300 MB: the file is streamed into the
// database, not held in memory.
func TestMillionRowImport(t *testing.T) {
	n := os.Getenv("BREACHNOTIFY_TEST_BIG_IMPORT")
	if n == "" {
		t.Skip("set BREACHNOTIFY_TEST_BIG_IMPORT=1 (or a row count) to run the million-row import")
	}
	rows := 1_000_000
	if v, err := strconv.Atoi(n); err == nil && v > 1 {
		rows = v
	}
	const orgs = 1000
	bin := apptest.BuildBinary(t)
	dbURL := testdb.URL(t)
	// An in-process service makes the admin key, the incident and the
	// organizations; the measured server is a child process of its own.
	e := apptest.StartApp(t, apptest.TestConfig(dbURL), app.Options{NoWorkers: true})
	ctx := context.Background()
	var dir strings.Builder
	dir.WriteString("org_ref,org_name,contact_email\n")
	for i := range orgs {
		fmt.Fprintf(&dir, "org-%04d,Organization %d,soc@org-%04d.example\n", i, i, i)
	}
	if _, err := e.Client.ImportOrganizations(ctx, strings.NewReader(dir.String()), notifier.FormatCSV); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.CreateIncident(ctx, notifier.NewIncident{Slug: "big", Title: "Big"}); err != nil {
		t.Fatal(err)
	}
	proc := apptest.StartProc(t, "serve", bin,
		"BREACHNOTIFY_DATABASE_URL="+dbURL,
		"BREACHNOTIFY_HTTP_ADDR=127.0.0.1:0",
		"BREACHNOTIFY_CAPTURE_ADDR=127.0.0.1:0",
		"BREACHNOTIFY_LOG_FORMAT=json",
	)
	client := apiclient.New(proc.URL, e.Key)

	// The file is written into a pipe as the upload reads it.
	pr, pw := io.Pipe()
	var size int64
	go func() {
		w := bufio.NewWriterSize(pw, 64<<10)
		fmt.Fprintln(w, "org_ref,item_ref,kind,occurred_at,subject,summary,secret_types")
		for i := range rows {
			k, _ := fmt.Fprintf(w, "org-%04d,item-%07d,email,2024-03-%02dT10:%02d:00Z,Re: invoice %07d for vendor,"+
				"Finance thread about a wire transfer,password;api_key\n", i%orgs, i, 1+i%28, i%60, i)
			size += int64(k)
		}
		_ = pw.CloseWithError(w.Flush())
	}()

	// Meanwhile another client reads the API, 20 times a second: often
	// enough to see a stall, not so often that it takes the CPU from the
	// import it measures.
	done := make(chan struct{})
	probes := make(chan []time.Duration, 1)
	go func() {
		var took []time.Duration
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				probes <- took
				return
			case <-tick.C:
			}
			start := time.Now()
			var out notifier.Incident
			if err := client.Do(ctx, http.MethodGet, "/api/v1/incidents/big", "", nil, &out); err != nil {
				t.Errorf("API during the import: %v", err)
			}
			took = append(took, time.Since(start))
		}
	}()

	start := time.Now()
	res, err := client.ImportExposures(ctx, "big", pr, notifier.FormatCSV)
	elapsed := time.Since(start)
	close(done)
	took := <-probes
	if err != nil {
		t.Fatal(err)
	}
	if res.ItemsNew != rows {
		t.Fatalf("result %+v, want %d new items", res, rows)
	}
	peak := vmHWM(t, proc.PID())
	var slowest time.Duration
	for _, d := range took {
		slowest = max(slowest, d)
	}
	t.Logf("%d rows, %.1f MB: imported in %s (%.0f rows/s); serve peak RSS (VmHWM) %.1f MB; %d API reads meanwhile, slowest %s",
		rows, float64(size)/1e6, elapsed.Round(time.Millisecond), float64(rows)/elapsed.Seconds(), float64(peak)/(1<<20), len(took), slowest.Round(time.Millisecond))
	if peak >= 300<<20 {
		t.Errorf("serve peak RSS %.1f MB, want under 300 MB", float64(peak)/(1<<20))
	}
}

// vmHWM reads a process's peak resident set size, in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}
