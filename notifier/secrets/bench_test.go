package secrets

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// words make up the generated mail's prose.
var words = strings.Fields(`the a to of and in for on with is this that we you your our please
meeting invoice report project update attached see below thanks regards team schedule review
budget quarter customer account order delivery contract draft final version call tomorrow
monday friday office room server login portal document signed payment reminder question
answer support ticket issue resolved pending approval manager weekly summary notes agenda`)

// mailCorpus returns n mail-like messages of about 6 KB: headers, a text
// part and an HTML part of English prose, one in fifty (2 %) with a secret
// from the samples in its text part. The same seed gives the same corpus.
// Every message has an Authentication-Results header, as delivered mail
// does: its "auth" is one of generic-api-key's keywords, so that rule runs
// on every message (gitleaks allowlists the header, but only after the
// rule's regular expression has run over the whole text).
func mailCorpus(n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 1))
	secrets := append(append([]sample{}, ourSamples...), gitleaksSamples...)
	para := func(b *strings.Builder, sentences int) {
		for range sentences {
			k := 8 + r.IntN(12)
			for j := range k {
				w := words[r.IntN(len(words))]
				if j == 0 {
					w = strings.ToUpper(w[:1]) + w[1:]
				}
				b.WriteString(w)
				if j < k-1 {
					b.WriteByte(' ')
				}
			}
			b.WriteString(". ")
		}
	}
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		fmt.Fprintf(&b, "From: Alice Example <alice%d@contoso.example>\nTo: bob@fabrikam.example\nSubject: Re: %s %s\n", i, words[r.IntN(len(words))], words[r.IntN(len(words))])
		fmt.Fprintf(&b, "Authentication-Results: mx.fabrikam.example; spf=pass smtp.mailfrom=contoso.example; dkim=pass header.d=contoso.example\n")
		fmt.Fprintf(&b, "Date: Mon, 5 Feb 2024 10:%02d:00 +0000\nMessage-ID: <%d.%d@contoso.example>\nMIME-Version: 1.0\n", i%60, i, r.Uint32())
		b.WriteString("Content-Type: multipart/alternative; boundary=\"b1\"\n\n--b1\nContent-Type: text/plain; charset=utf-8\n\nHi Bob,\n\n")
		for p := range 7 {
			para(&b, 4)
			b.WriteString("\n\n")
			if p == 1 && i%50 == 7 {
				b.WriteString(secrets[(i/50*7)%len(secrets)].text)
				b.WriteString("\n\n")
			}
		}
		b.WriteString("Regards,\nAlice\n\n--b1\nContent-Type: text/html; charset=utf-8\n\n<html><body><p>Hi Bob,</p>\n")
		for range 7 {
			b.WriteString("<p>")
			para(&b, 4)
			b.WriteString("</p>\n")
		}
		b.WriteString("<p>Regards,<br>Alice</p></body></html>\n--b1--\n")
		out[i] = b.String()
	}
	return out
}

// BenchmarkScan scans a generated corpus on one goroutine with gitleaks'
// default rules alone (generic-api-key on windows, as NewScanner runs it,
// or over the whole text, as gitleaks does), ours alone, both (ours beside
// gitleaks, as NewScanner does) and ours added to gitleaks' configuration;
// MB/s is per core.
func BenchmarkScan(b *testing.B) {
	corpus := mailCorpus(500, 1)
	size := 0
	for _, m := range corpus {
		size += len(m)
	}
	for _, c := range []struct {
		name string
		cfg  scanConfig
	}{
		{"gitleaks", scanConfig{gitleaks: true}},
		{"gitleaks-whole-generic", scanConfig{gitleaks: true, wholeGeneric: true}},
		{"ours", scanConfig{ours: true}},
		{"both", scanConfig{gitleaks: true, ours: true}},
		{"merged", scanConfig{gitleaks: true, ours: true, merged: true}},
		{"ours-in-gitleaks", scanConfig{ours: true, merged: true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			s, err := newScanner(testKey, c.cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			found, ops := 0, 0
			cpu0 := cpuTime()
			for b.Loop() {
				found = 0
				for _, m := range corpus {
					found += len(s.Scan(Part{Name: "text", Text: m}))
				}
				ops++
			}
			// MB per CPU second does not move when other processes share
			// the machine, as MB/s does.
			b.ReportMetric(float64(size*ops)/1e6/(cpuTime()-cpu0).Seconds(), "MB/cpu-s")
			b.ReportMetric(float64(found), "findings")
		})
	}
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestVersusGitleaksCLI times gitleaks' own CLI (`gitleaks dir`) and
// NewScanner's scanner over the same generated corpus written as files,
// three times each, and logs the medians and their ratio. It runs only
// with BREACHNOTIFY_GITLEAKS naming a gitleaks binary (see the package
// comment); timings are logged, never asserted.
func TestVersusGitleaksCLI(t *testing.T) {
	bin := os.Getenv("BREACHNOTIFY_GITLEAKS")
	if bin == "" {
		t.Skip("BREACHNOTIFY_GITLEAKS (a gitleaks v8.30.1 binary) not set")
	}
	n := 2000
	dir, err := os.MkdirTemp("", "secrets-corpus-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	size := 0
	for i, m := range mailCorpus(n, 1) {
		size += len(m)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%05d.eml", i)), []byte(m), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := setup(t)
	// Each run reports its wall time, its CPU time (user and system: the
	// figure to compare while other work shares the machine) and findings.
	cli := func(args ...string) func() (time.Duration, time.Duration, int) {
		return func() (time.Duration, time.Duration, int) {
			report := filepath.Join(t.TempDir(), "report.json")
			cmd := exec.Command(bin, append([]string{"dir", dir, "--no-banner", "--log-level", "error", "--exit-code", "0", "-f", "json", "--report-path", report}, args...)...)
			start := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", cmd, err, out)
			}
			d := time.Since(start)
			js, err := os.ReadFile(report)
			if err != nil {
				t.Fatal(err)
			}
			return d, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), strings.Count(string(js), `"RuleID"`)
		}
	}
	ours := func() (time.Duration, time.Duration, int) {
		start, cpu0 := time.Now(), cpuTime()
		files, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			found int
			next  = make(chan string)
		)
		for range runtime.GOMAXPROCS(0) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for name := range next {
					b, err := os.ReadFile(filepath.Join(dir, name))
					if err != nil {
						t.Error(err)
						continue
					}
					k := len(s.Scan(Part{Name: name, Text: string(b)}))
					mu.Lock()
					found += k
					mu.Unlock()
				}
			}()
		}
		for _, f := range files {
			next <- f.Name()
		}
		close(next)
		wg.Wait()
		return time.Since(start), cpuTime() - cpu0, found
	}
	type result struct {
		wall, cpu time.Duration
		found     int
	}
	median := func(run func() (time.Duration, time.Duration, int)) result {
		var walls, cpus []time.Duration
		found := 0
		for range 3 {
			w, c, k := run()
			walls, cpus, found = append(walls, w), append(cpus, c), k
		}
		slices.Sort(walls)
		slices.Sort(cpus)
		return result{walls[1], cpus[1], found}
	}
	mb := float64(size) / 1e6
	// Each figure is the median of three runs; under a load that varies,
	// the CPU times are the ones to compare.
	gDefault := median(cli())
	gDepth0 := median(cli("--max-decode-depth", "0"))
	o := median(ours)
	t.Logf("corpus: %d files, %.1f MB, GOMAXPROCS %d", n, mb, runtime.GOMAXPROCS(0))
	for _, r := range []struct {
		name string
		r    result
	}{{"gitleaks dir (default: decode depth 5)", gDefault}, {"gitleaks dir --max-decode-depth 0", gDepth0}, {"secrets.Scanner (gitleaks rules + ours)", o}} {
		t.Logf("%-40s wall %6.2fs %5.2f MB/s  cpu %6.2fs %5.2f MB/cpu-s  %d findings", r.name, r.r.wall.Seconds(), mb/r.r.wall.Seconds(), r.r.cpu.Seconds(), mb/r.r.cpu.Seconds(), r.r.found)
	}
	t.Logf("our time / CLI time: wall %.3f, cpu %.3f (default CLI); wall %.3f, cpu %.3f (decode depth 0)",
		o.wall.Seconds()/gDefault.wall.Seconds(), o.cpu.Seconds()/gDefault.cpu.Seconds(),
		o.wall.Seconds()/gDepth0.wall.Seconds(), o.cpu.Seconds()/gDepth0.cpu.Seconds())
}
