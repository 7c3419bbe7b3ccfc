package smtp_test

import (
	"context"
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
// the in-process discard sink over 40 reused connections.
func BenchmarkSendDiscard(b *testing.B) {
	srv, err := capture.Start("127.0.0.1:0", capture.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	host, port, _ := net.SplitHostPort(srv.Addr())
	p, _ := strconv.Atoi(port)
	s, err := smtp.New(smtp.Config{Host: host, Port: p, TLS: "none", Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const workers = 40
	var wg sync.WaitGroup
	per := b.N/workers + 1
	start := time.Now()
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
}
