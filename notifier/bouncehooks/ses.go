package bouncehooks

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SNS signature version 1 is SHA1withRSA: verified as SNS signs it
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
)

// snsHost is the host of SNS's signing certificates and subscription
// URLs: sns.REGION.amazonaws.com (.cn in China).
var snsHost = regexp.MustCompile(`^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`)

// SES is Amazon SES's bounce, complaint and delivery notifications, as
// SNS posts them. Every message's signature is checked against the
// certificate it names, which must be served by SNS itself
// (https://sns.REGION.amazonaws.com/…pem); SNS signs every topic's
// messages alike, so only the configured topics are taken. A
// subscription confirmation for one of them is confirmed by fetching its
// SubscribeURL (again only on an SNS host).
type SES struct {
	TopicARNs []string
	// Fetch reads a URL on an SNS host (the signing certificate, the
	// subscription confirmation); nil uses HTTPFetch. Tests inject one
	// serving their own certificate.
	Fetch func(ctx context.Context, url string) ([]byte, error)

	mu    sync.Mutex
	certs map[string]*x509.Certificate
}

// Source implements Hook.
func (*SES) Source() notifier.BounceSource { return notifier.SourceSES }

// HTTPFetch GETs url with a short timeout and a bounded body.
func HTTPFetch(ctx context.Context, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	// No redirect is followed: the URL checked to be on an SNS host is the
	// one that answers.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 64<<10))
}

// snsMessage is an SNS HTTP(S) delivery.
type snsMessage struct {
	Type             string
	MessageId        string //nolint:revive // SNS's field name
	Token            string
	TopicArn         string
	Subject          *string
	Message          string
	Timestamp        string
	SignatureVersion string
	Signature        string
	SigningCertURL   string `json:"SigningCertURL"`
	SubscribeURL     string `json:"SubscribeURL"`
}

// Take implements Hook.
func (h *SES) Take(ctx context.Context, req Request) (Result, error) {
	var m snsMessage
	if err := json.Unmarshal(req.Body, &m); err != nil {
		return Result{}, ErrUnauthenticated
	}
	if err := h.verify(ctx, &m); err != nil {
		return Result{}, err
	}
	if !slices.Contains(h.TopicARNs, m.TopicArn) {
		return Result{}, ErrUnauthenticated
	}
	switch m.Type {
	case "SubscriptionConfirmation":
		if !onSNSHost(m.SubscribeURL) {
			return Result{}, invalid("SubscribeURL is not on an SNS host")
		}
		if _, err := h.fetch(ctx, m.SubscribeURL); err != nil {
			return Result{}, fmt.Errorf("confirm the SNS subscription to %s: %w", m.TopicArn, err)
		}
		return Result{Note: "subscription to " + m.TopicArn + " confirmed"}, nil
	case "Notification":
		return ParseSES([]byte(m.Message), m.MessageId)
	}
	// UnsubscribeConfirmation: nothing to do.
	return Result{Ignored: 1}, nil
}

func (h *SES) fetch(ctx context.Context, u string) ([]byte, error) {
	if h.Fetch != nil {
		return h.Fetch(ctx, u)
	}
	return HTTPFetch(ctx, u)
}

// verify checks m's signature (version 1: SHA1withRSA, 2: SHA256withRSA)
// with the certificate at SigningCertURL.
func (h *SES) verify(ctx context.Context, m *snsMessage) error {
	var hash crypto.Hash
	switch m.SignatureVersion {
	case "1":
		hash = crypto.SHA1
	case "2":
		hash = crypto.SHA256
	default:
		return ErrUnauthenticated
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil || !onSNSHost(m.SigningCertURL) || !strings.HasSuffix(mustURL(m.SigningCertURL).Path, ".pem") {
		return ErrUnauthenticated
	}
	cert, err := h.cert(ctx, m.SigningCertURL)
	if err != nil {
		return err
	}
	key, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return ErrUnauthenticated
	}
	text, ok := snsStringToSign(m)
	if !ok {
		return ErrUnauthenticated
	}
	var digest []byte
	if hash == crypto.SHA1 {
		d := sha1.Sum([]byte(text)) //nolint:gosec // see the import
		digest = d[:]
	} else {
		d := sha256.Sum256([]byte(text))
		digest = d[:]
	}
	if rsa.VerifyPKCS1v15(key, hash, digest, sig) != nil {
		return ErrUnauthenticated
	}
	return nil
}

// cert returns the certificate at u, fetched once and kept while valid.
func (h *SES) cert(ctx context.Context, u string) (*x509.Certificate, error) {
	h.mu.Lock()
	c := h.certs[u]
	h.mu.Unlock()
	if c != nil && time.Now().Before(c.NotAfter) {
		return c, nil
	}
	b, err := h.fetch(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("fetch the SNS signing certificate: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("the SNS signing certificate is not PEM")
	}
	c, err = x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the SNS signing certificate: %w", err)
	}
	if now := time.Now(); now.Before(c.NotBefore) || now.After(c.NotAfter) {
		return nil, ErrUnauthenticated
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.certs == nil || len(h.certs) >= 16 {
		h.certs = map[string]*x509.Certificate{}
	}
	h.certs[u] = c
	return c, nil
}

// snsStringToSign is the text SNS signs: the named fields, each as its
// name, a newline, its value, a newline, in this order; Subject only
// when the message has one.
func snsStringToSign(m *snsMessage) (string, bool) {
	var fields [][2]string
	switch m.Type {
	case "Notification":
		fields = [][2]string{{"Message", m.Message}, {"MessageId", m.MessageId}}
		if m.Subject != nil {
			fields = append(fields, [2]string{"Subject", *m.Subject})
		}
		fields = append(fields, [][2]string{{"Timestamp", m.Timestamp}, {"TopicArn", m.TopicArn}, {"Type", m.Type}}...)
	case "SubscriptionConfirmation", "UnsubscribeConfirmation":
		fields = [][2]string{{"Message", m.Message}, {"MessageId", m.MessageId}, {"SubscribeURL", m.SubscribeURL},
			{"Timestamp", m.Timestamp}, {"Token", m.Token}, {"TopicArn", m.TopicArn}, {"Type", m.Type}}
	default:
		return "", false
	}
	var b strings.Builder
	for _, f := range fields {
		b.WriteString(f[0] + "\n" + f[1] + "\n")
	}
	return b.String(), true
}

// SNSStringToSign exposes the signed text for tests that sign their own
// messages: fields as SNS posts them (Type, MessageId, Token, TopicArn,
// Subject, Message, Timestamp, SubscribeURL).
func SNSStringToSign(fields map[string]string) string {
	m := snsMessage{Type: fields["Type"], MessageId: fields["MessageId"], Token: fields["Token"], TopicArn: fields["TopicArn"],
		Message: fields["Message"], Timestamp: fields["Timestamp"], SubscribeURL: fields["SubscribeURL"]}
	if s, ok := fields["Subject"]; ok {
		m.Subject = &s
	}
	text, _ := snsStringToSign(&m)
	return text
}

func onSNSHost(raw string) bool {
	u := mustURL(raw)
	return u.Scheme == "https" && u.User == nil && u.Port() == "" && snsHost.MatchString(u.Host)
}

// mustURL parses raw, or returns an empty URL that passes no check.
func mustURL(raw string) *url.URL {
	u, err := url.Parse(raw)
	if err != nil {
		return &url.URL{}
	}
	return u
}

// sesNotification is an SES notification (notificationType) or an event
// publishing record (eventType).
type sesNotification struct {
	NotificationType string `json:"notificationType"`
	EventType        string `json:"eventType"`
	Mail             struct {
		MessageID     string `json:"messageId"`
		CommonHeaders struct {
			MessageID string `json:"messageId"`
		} `json:"commonHeaders"`
		Headers []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"headers"`
	} `json:"mail"`
	Bounce *struct {
		BounceType        string `json:"bounceType"`
		BounceSubType     string `json:"bounceSubType"`
		FeedbackID        string `json:"feedbackId"`
		BouncedRecipients []struct {
			EmailAddress   string `json:"emailAddress"`
			Status         string `json:"status"`
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"bouncedRecipients"`
	} `json:"bounce"`
	Complaint *struct {
		FeedbackID            string `json:"feedbackId"`
		ComplaintFeedbackType string `json:"complaintFeedbackType"`
		ComplainedRecipients  []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"complainedRecipients"`
	} `json:"complaint"`
	Delivery *struct {
		Recipients   []string `json:"recipients"`
		SMTPResponse string   `json:"smtpResponse"`
	} `json:"delivery"`
}

// ParseSES reads an SES notification (the SNS message's Message), one
// record per recipient, keyed by the SNS message id. SES rewrites the
// Message-ID it sends with; the one we gave is in the notification's
// original headers (commonHeaders), which the SES identity must be set to
// include, else the bounce is kept unmatched.
func ParseSES(message []byte, snsID string) (Result, error) {
	var n sesNotification
	if err := json.Unmarshal(message, &n); err != nil {
		return Result{}, invalid("the SNS message is not an SES notification")
	}
	if snsID == "" {
		return Result{}, invalid("the SNS message has no MessageId")
	}
	typ := n.NotificationType
	if typ == "" {
		typ = n.EventType
	}
	messageID := n.Mail.CommonHeaders.MessageID
	for _, h := range n.Mail.Headers {
		if messageID == "" && strings.EqualFold(h.Name, "Message-ID") {
			messageID = h.Value
		}
	}
	var res Result
	add := func(i int, n notifier.BounceNotice) {
		res.Records = append(res.Records, notifier.BounceRecord{Notice: n, Source: notifier.SourceSES,
			Key: snsID + "#" + strconv.Itoa(i+1), Raw: message})
	}
	switch {
	case typ == "Bounce" && n.Bounce != nil:
		kind := notifier.BounceDelayed
		if n.Bounce.BounceType == "Permanent" {
			kind = notifier.BouncePermanent
		}
		for i, r := range n.Bounce.BouncedRecipients {
			diag := r.DiagnosticCode
			if diag == "" {
				diag = n.Bounce.BounceType + "/" + n.Bounce.BounceSubType
			}
			add(i, notifier.ProviderNotice(kind, messageID, r.EmailAddress, r.Status, diag))
		}
	case typ == "Complaint" && n.Complaint != nil:
		for i, r := range n.Complaint.ComplainedRecipients {
			add(i, notifier.ProviderNotice(notifier.BounceComplaint, messageID, r.EmailAddress, "", "feedback-type "+n.Complaint.ComplaintFeedbackType))
		}
	case typ == "Delivery" && n.Delivery != nil:
		for i, r := range n.Delivery.Recipients {
			add(i, notifier.ProviderNotice(notifier.BounceDelivered, messageID, r, "", n.Delivery.SMTPResponse))
		}
	default:
		res.Ignored++
	}
	if len(res.Records) > maxEvents {
		return Result{}, invalid("the notification names %d recipients; at most %d are taken", len(res.Records), maxEvents)
	}
	return res, nil
}
