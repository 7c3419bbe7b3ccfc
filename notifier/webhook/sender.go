package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/breachnotify/breachnotify/notifier/delivery"
)

// TimeoutDefault bounds one webhook request, connection included.
const TimeoutDefault = 15 * time.Second

// Sender posts signed messages to endpoints. Its outcomes are the
// delivery engine's channel-neutral SendResult, judged the way receivers
// of Standard Webhooks expect: any 2xx is accepted; 410 Gone refuses for
// good; anything else (another status, a timeout, a refused connection)
// is tried again later.
type Sender struct {
	client *http.Client
}

// NewSender builds a Sender that connects only to addresses the policy
// allows (checked on every connection, after DNS) and follows no
// redirects (a redirect could lead anywhere).
func NewSender(policy Policy, timeout time.Duration) *Sender {
	if timeout <= 0 {
		timeout = TimeoutDefault
	}
	dialer := &net.Dialer{Timeout: timeout, Control: policy.control}
	transport := &http.Transport{
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		// A proxy from the environment would connect to the target on
		// our behalf, past the address check.
		Proxy: nil,
	}
	return &Sender{client: &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// Message is one signed request.
type Message struct {
	URL   string
	MsgID string
	// At is the signature's timestamp.
	At      time.Time
	Body    []byte
	Secrets [][]byte
}

// Send posts m and judges the reply.
func (s *Sender) Send(ctx context.Context, m Message) delivery.SendResult {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL, bytes.NewReader(m.Body))
	if err != nil {
		return delivery.SendResult{Verdict: delivery.Rejected, Reply: "bad URL: " + err.Error()}
	}
	SetHeaders(req.Header, m.MsgID, m.At, m.Body, m.Secrets)
	req.Header.Set("User-Agent", "breachnotify-webhooks")
	resp, err := s.client.Do(req)
	if err != nil {
		var ne net.Error
		reply := err.Error()
		if errors.As(err, &ne) && ne.Timeout() {
			reply = "timed out"
		}
		return delivery.SendResult{Verdict: delivery.Deferred, Reply: reply, Duration: time.Since(start)}
	}
	// Read a little of the body so the connection can be reused; what a
	// receiver says is not kept (it is not ours to store).
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	r := delivery.SendResult{Code: resp.StatusCode, Duration: time.Since(start)}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		r.Verdict = delivery.Accepted
	case resp.StatusCode == http.StatusGone:
		r.Verdict, r.Reply = delivery.Rejected, "HTTP 410 Gone: the receiver asks not to be sent again"
	default:
		r.Verdict, r.Reply = delivery.Deferred, fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return r
}
