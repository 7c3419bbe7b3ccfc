package smtp_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier/capture"
	"github.com/breachnotify/breachnotify/notifier/delivery"
	"github.com/breachnotify/breachnotify/notifier/smtp"
)

// BenchmarkSendDiscard measures the sender alone: messages per second into
// the in-process discard sink over 40 reused connections, unsigned and
// DKIM-signed with RSA-2048 (compare the latter with
// BenchmarkRSASignCeiling in the same run).
func BenchmarkSendDiscard(b *testing.B) {
	b.Run("unsigned", func(b *testing.B) { sendDiscard(b, smtp.Config{}) })
	b.Run("dkim-rsa2048", func(b *testing.B) {
		sendDiscard(b, smtp.Config{DKIM: &smtp.DKIM{Domain: "notify.example", Selector: "s", Key: rsaKey(b, 2048)}})
	})
}

// BenchmarkRSASignCeiling is the machine's ceiling for RSA-2048 DKIM
// signatures: rsa.SignPKCS1v15 of a SHA-256 digest, on every core
// (GOMAXPROCS goroutines), nothing else.
func BenchmarkRSASignCeiling(b *testing.B) {
	key := rsaKey(b, 2048)
	digest := sha256.Sum256([]byte("a message's header hash"))
	start, cpu := time.Now(), cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "sigs/s")
	// Per CPU second: what a shared machine's other tenants do not
	// inflate; times the cores, the ceiling of a machine of one's own.
	b.ReportMetric(float64(b.N)/(cpuTime()-cpu).Seconds(), "sigs/cpu-s")
}

func sendDiscard(b *testing.B, cfg smtp.Config) {
	srv, err := capture.Start("127.0.0.1:0", capture.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	host, port, _ := net.SplitHostPort(srv.Addr())
	p, _ := strconv.Atoi(port)
	cfg.Host, cfg.Port, cfg.TLS, cfg.Timeout = host, p, "none", 10*time.Second
	s, err := smtp.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const workers = 40
	var wg sync.WaitGroup
	per := b.N/workers + 1
	start, cpu := time.Now(), cpuTime()
	b.ResetTimer()
	for w := range workers {
		wg.Go(func() {
			conn, err := s.Conn(context.Background())
			if err != nil {
				b.Error(err)
				return
			}
			defer conn.Release(false)
			for i := range per {
				m := message(fmt.Sprintf("w%di%d@x.example", w, i))
				m.Text = strings.Repeat("All work and no play makes a notice. ", 60)
				if r := conn.Send(context.Background(), m); r.Verdict != delivery.Accepted {
					b.Error(r.Reply)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(per*workers)/time.Since(start).Seconds(), "msgs/s")
	// The sender's and the sink's CPU (one process): against
	// BenchmarkRSASignCeiling's sigs/cpu-s, the share of it that signs.
	b.ReportMetric(float64(per*workers)/(cpuTime()-cpu).Seconds(), "msgs/cpu-s")
}
