package bouncehooks_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand" //nolint:gosec // SNS signature version 1
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/bouncehooks"
	"github.com/breachnotify/breachnotify/notifier/bouncehooks/snstest"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// summary is "kind recipient message-id status key" per record.
func summary(res bouncehooks.Result) []string {
	var out []string
	for _, r := range res.Records {
		n := r.Notice
		out = append(out, strings.Join([]string{string(n.Kind), n.Recipient, n.MessageID, n.Status, r.Key}, " "))
	}
	return out
}

// The providers' documented sample payloads map to bounce records.
func TestParseProviderSamples(t *testing.T) {
	t.Parallel()
	parse := func(name string, f func([]byte) (bouncehooks.Result, error)) func() (bouncehooks.Result, error) {
		return func() (bouncehooks.Result, error) { return f(fixture(t, name)) }
	}
	ses := func(name string) func() (bouncehooks.Result, error) {
		return func() (bouncehooks.Result, error) { return bouncehooks.ParseSES(fixture(t, name), "sns-1") }
	}
	for _, tc := range []struct {
		name    string
		parse   func() (bouncehooks.Result, error)
		want    []string
		ignored int
	}{
		{"ses bounce", ses("ses-bounce.json"), []string{"permanent jane@example.com custom-message-ID 5.1.1 sns-1#1"}, 0},
		{"ses complaint", ses("ses-complaint.json"), []string{"complaint richard@example.com custom-message-ID  sns-1#1"}, 0},
		{"sendgrid", parse("sendgrid-events.json", bouncehooks.ParseSendGrid), []string{
			"delayed example@test.com 14c5d75ce93.dfd.64b469@ismtpd-555 4.0.0 t7LEShmowp86DTdUW8M-GQ==",
			"delivered example@test.com 14c5d75ce93.dfd.64b469@ismtpd-555 2.0.0 rWVYmVk90MjZJ9iohOBa3w==",
			"permanent example@test.com 14c5d75ce93.dfd.64b469@ismtpd-555 5.0.0 6g4ZI7SA-xmRDv57GoPIPw==",
			"delayed example@test.com 14c5d75ce93.dfd.64b469@ismtpd-555 4.7.1 CFfPpLHvf5C8TCeWV0bKIw==",
			"permanent example@test.com 14c5d75ce93.dfd.64b469@ismtpd-555 5.0.0 zmzJhfJgAfUSOW80yEbPyw==",
			"complaint example@test.com 14c5d75ce93.dfd.64b469@ismtpd-555  37nvH5QBz858KGVYCM4uOA==",
		}, 2},
		// Postmark's own MessageID is not ours, and the sample's Content is
		// no DSN: kept without a Message-ID, so unmatched.
		{"postmark bounce", parse("postmark-bounce.json", bouncehooks.ParsePostmark), []string{"permanent john@example.com  5.0.0 Bounce:4323372036854775807"}, 0},
		{"postmark complaint", parse("postmark-spam-complaint.json", bouncehooks.ParsePostmark), []string{"complaint john@example.com   SpamComplaint:42"}, 0},
		{"mailgun permanent", parse("mailgun-failed-permanent.json", bouncehooks.ParseMailgun), []string{"permanent alice@example.com 20130503192659.13651.20287@sandbox.mailgun.org 5.0.0 G9Bn5sl1TC6nu79C8C0bwg"}, 0},
		{"mailgun temporary", parse("mailgun-failed-temporary.json", bouncehooks.ParseMailgun), []string{"delayed alice@example.com 20130503192659.13651.20287@sandbox.mailgun.org 4.2.2 Fs7-5t81S2ms-j9K6o_o8w"}, 0},
	} {
		res, err := tc.parse()
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := summary(res); strings.Join(got, "\n") != strings.Join(tc.want, "\n") || res.Ignored != tc.ignored {
			t.Errorf("%s:\n got %q (ignored %d)\nwant %q (ignored %d)", tc.name, got, res.Ignored, tc.want, tc.ignored)
		}
	}
}

// A Postmark bounce whose Content is the DSN finds our Message-ID there.
func TestPostmarkContentGivesMessageID(t *testing.T) {
	t.Parallel()
	var e map[string]any
	_ = json.Unmarshal(fixture(t, "postmark-bounce.json"), &e)
	e["Content"] = "From: MAILER-DAEMON@mx.example.com\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822; john@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n" +
		"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <ours-1@notify.example>\r\n\r\n--b--\r\n"
	body, _ := json.Marshal(e)
	res, err := bouncehooks.ParsePostmark(body)
	if err != nil || len(res.Records) != 1 || res.Records[0].Notice.MessageID != "ours-1@notify.example" {
		t.Fatalf("got %q, %v", summary(res), err)
	}
}

const topic = snstest.Topic

func snsNotification(message []byte) map[string]string {
	return snstest.Notification("22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", message)
}

func TestSESSignatures(t *testing.T) {
	t.Parallel()
	s := snstest.New(t)
	hook := &bouncehooks.SES{TopicARNs: []string{topic}, Fetch: s.Fetch}
	ctx := context.Background()
	take := func(body []byte) (bouncehooks.Result, error) { return hook.Take(ctx, bouncehooks.Request{Body: body}) }
	bounce := fixture(t, "ses-bounce.json")

	for _, v := range []string{"1", "2"} {
		res, err := take(s.Sign(t, v, snsNotification(bounce)))
		if err != nil || len(res.Records) != 1 || res.Records[0].Notice.Kind != notifier.BouncePermanent {
			t.Errorf("signature version %s: %q, %v", v, summary(res), err)
		}
	}
	withSubject := snsNotification(bounce)
	withSubject["Subject"] = "Amazon SES Email Event Notification"
	if _, err := take(s.Sign(t, "2", withSubject)); err != nil {
		t.Errorf("with a Subject: %v", err)
	}

	refused := map[string][]byte{}
	tampered := s.Sign(t, "2", snsNotification(bounce))
	refused["a changed message"] = []byte(strings.Replace(string(tampered), "jane@example.com", "mary@example.com", 1))
	other := snsNotification(bounce)
	other["TopicArn"] = "arn:aws:sns:eu-west-1:999999999999:someone-elses"
	refused["another account's topic"] = s.Sign(t, "2", other)
	for name, host := range map[string]string{
		"a certificate off SNS":        "https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem",
		"a certificate over http":      "http://sns.eu-west-1.amazonaws.com/cert.pem",
		"a certificate with userinfo":  "https://x@sns.eu-west-1.amazonaws.com/cert.pem",
		"a certificate that is no pem": "https://sns.eu-west-1.amazonaws.com/cert.txt",
	} {
		var m map[string]string
		_ = json.Unmarshal(s.Sign(t, "2", snsNotification(bounce)), &m)
		m["SigningCertURL"] = host
		refused[name], _ = json.Marshal(m)
	}
	var m map[string]string
	_ = json.Unmarshal(s.Sign(t, "2", snsNotification(bounce)), &m)
	m["SignatureVersion"] = "3"
	refused["an unknown signature version"], _ = json.Marshal(m)
	refused["not JSON"] = []byte("Type=Notification")
	for name, body := range refused {
		if _, err := take(body); !errors.Is(err, bouncehooks.ErrUnauthenticated) {
			t.Errorf("%s: %v, want unauthenticated", name, err)
		}
	}
	for _, u := range s.Fetched() {
		if u != s.CertURL {
			t.Errorf("fetched %s, which is no SNS certificate URL", u)
		}
	}
}

func TestSESSubscriptionConfirmation(t *testing.T) {
	t.Parallel()
	s := snstest.New(t)
	hook := &bouncehooks.SES{TopicARNs: []string{topic}, Fetch: s.Fetch}
	confirm := "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + topic + "&Token=2336412f37"
	fields := map[string]string{"Type": "SubscriptionConfirmation", "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
		"Token": "2336412f37", "TopicArn": topic, "Message": "You have chosen to subscribe to the topic " + topic,
		"SubscribeURL": confirm, "Timestamp": "2012-04-26T20:45:04.751Z"}
	res, err := hook.Take(context.Background(), bouncehooks.Request{Body: s.Sign(t, "1", fields)})
	if err != nil || !strings.Contains(res.Note, "confirmed") || len(res.Records) != 0 {
		t.Fatalf("confirmation: %+v, %v", res, err)
	}
	if f := s.Fetched(); f[len(f)-1] != confirm {
		t.Errorf("the SubscribeURL was not fetched: %q", f)
	}
	fields["SubscribeURL"] = "https://attacker.example/?Action=ConfirmSubscription"
	if _, err := hook.Take(context.Background(), bouncehooks.Request{Body: s.Sign(t, "1", fields)}); notifier.ErrorCode(err) != notifier.CodeInvalid {
		t.Errorf("a SubscribeURL off SNS: %v, want refused", err)
	}
}

func sendGridRequest(t testing.TB, key *ecdsa.PrivateKey, ts string, body []byte) bouncehooks.Request {
	t.Helper()
	sum := sha256.Sum256(append([]byte(ts), body...))
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(bouncehooks.SendGridSignatureHeader, base64.StdEncoding.EncodeToString(sig))
	h.Set(bouncehooks.SendGridTimestampHeader, ts)
	return bouncehooks.Request{Header: h, Body: body}
}

func TestSendGridSignature(t *testing.T) {
	t.Parallel()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Unix(1700000000, 0)
	hook := &bouncehooks.SendGrid{Key: &key.PublicKey, Now: func() time.Time { return now }}
	body := fixture(t, "sendgrid-events.json")
	ts := strconv.FormatInt(now.Unix(), 10)
	if res, err := hook.Take(context.Background(), sendGridRequest(t, key, ts, body)); err != nil || len(res.Records) != 6 {
		t.Fatalf("signed batch: %d records, %v", len(res.Records), err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	stale := strconv.FormatInt(now.Add(-bouncehooks.ReplayWindow-time.Second).Unix(), 10)
	changed := sendGridRequest(t, key, ts, body)
	changed.Body = []byte(strings.Replace(string(body), "5.0.0", "2.0.0", 1))
	shifted := sendGridRequest(t, key, ts, body)
	shifted.Header.Set(bouncehooks.SendGridTimestampHeader, strconv.FormatInt(now.Unix()+1, 10))
	for name, req := range map[string]bouncehooks.Request{
		"another key":       sendGridRequest(t, other, ts, body),
		"a replay":          sendGridRequest(t, key, stale, body),
		"a changed body":    changed,
		"another timestamp": shifted,
		"no signature":      {Header: http.Header{}, Body: body},
	} {
		if _, err := hook.Take(context.Background(), req); !errors.Is(err, bouncehooks.ErrUnauthenticated) {
			t.Errorf("%s: %v, want unauthenticated", name, err)
		}
	}
}

func TestPostmarkBasicAuth(t *testing.T) {
	t.Parallel()
	hook := &bouncehooks.Postmark{User: "postmark", Password: "0123456789abcdef"}
	body := fixture(t, "postmark-bounce.json")
	if _, err := hook.Take(context.Background(), bouncehooks.Request{Body: body, HasBasic: true, BasicUser: "postmark", BasicPassword: "0123456789abcdef"}); err != nil {
		t.Fatal(err)
	}
	for name, req := range map[string]bouncehooks.Request{
		"no credentials":    {Body: body},
		"a wrong password":  {Body: body, HasBasic: true, BasicUser: "postmark", BasicPassword: "0123456789abcdeX"},
		"a wrong user":      {Body: body, HasBasic: true, BasicUser: "admin", BasicPassword: "0123456789abcdef"},
		"an empty password": {Body: body, HasBasic: true, BasicUser: "postmark"},
	} {
		if _, err := hook.Take(context.Background(), req); !errors.Is(err, bouncehooks.ErrUnauthenticated) {
			t.Errorf("%s: %v, want unauthenticated", name, err)
		}
	}
}

// mailgunSigned re-signs a Mailgun sample with key at ts.
func mailgunSigned(t testing.TB, sample []byte, key string, ts time.Time, token string) []byte {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(sample, &b); err != nil {
		t.Fatal(err)
	}
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(stamp + token))
	b["signature"] = map[string]string{"timestamp": stamp, "token": token, "signature": hex.EncodeToString(mac.Sum(nil))}
	out, _ := json.Marshal(b)
	return out
}

func TestMailgunSignature(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 0)
	hook := &bouncehooks.Mailgun{SigningKey: []byte("key-mailgun-test"), Now: func() time.Time { return now }}
	sample := fixture(t, "mailgun-failed-permanent.json")
	token := "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
	if res, err := hook.Take(context.Background(), bouncehooks.Request{Body: mailgunSigned(t, sample, "key-mailgun-test", now, token)}); err != nil || len(res.Records) != 1 {
		t.Fatalf("signed: %q, %v", summary(res), err)
	}
	for name, body := range map[string][]byte{
		"the sample as published (another key, an old timestamp)": sample,
		"another key":            mailgunSigned(t, sample, "key-other", now, token),
		"a replay":               mailgunSigned(t, sample, "key-mailgun-test", now.Add(-bouncehooks.ReplayWindow-time.Second), token),
		"a timestamp from later": mailgunSigned(t, sample, "key-mailgun-test", now.Add(bouncehooks.ReplayWindow+time.Second), token),
		"no token":               mailgunSigned(t, sample, "key-mailgun-test", now, ""),
	} {
		if _, err := hook.Take(context.Background(), bouncehooks.Request{Body: body}); !errors.Is(err, bouncehooks.ErrUnauthenticated) {
			t.Errorf("%s: %v, want unauthenticated", name, err)
		}
	}
}

// checkRecords holds for whatever a parser accepts: every record keyed,
// of a known kind, with a clean notice.
func checkRecords(t *testing.T, res bouncehooks.Result, err error) {
	if err != nil {
		if notifier.ErrorCode(err) != notifier.CodeInvalid {
			t.Fatalf("error %v is not coded invalid", err)
		}
		return
	}
	for _, r := range res.Records {
		n := r.Notice
		if r.Key == "" || n.Kind == notifier.BounceUnknown || n.Kind == "" {
			t.Fatalf("record without a key or kind: %+v", r)
		}
		if strings.ContainsAny(n.MessageID+n.Recipient+n.Diagnostic, "\r\n\x00") || strings.ContainsAny(n.MessageID, "<>") {
			t.Fatalf("notice with a control character: %+v", n)
		}
		if len(n.Diagnostic) > 1000 || (n.Recipient != "" && !strings.Contains(n.Recipient, "@")) {
			t.Fatalf("notice not cleaned: %+v", n)
		}
	}
}

func FuzzParseSES(f *testing.F) {
	f.Add(fixture(f, "ses-bounce.json"))
	f.Add(fixture(f, "ses-complaint.json"))
	f.Add([]byte(`{"eventType":"Delivery","delivery":{"recipients":["a@b.example"]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := bouncehooks.ParseSES(b, "id")
		checkRecords(t, res, err)
	})
}

func FuzzParseSendGrid(f *testing.F) {
	f.Add(fixture(f, "sendgrid-events.json"))
	f.Add([]byte(`[{"event":"bounce","sg_event_id":"x","email":"a@b","smtp-id":"<\u0000>"}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := bouncehooks.ParseSendGrid(b)
		checkRecords(t, res, err)
	})
}

func FuzzParsePostmark(f *testing.F) {
	f.Add(fixture(f, "postmark-bounce.json"))
	f.Add(fixture(f, "postmark-spam-complaint.json"))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := bouncehooks.ParsePostmark(b)
		checkRecords(t, res, err)
	})
}

func FuzzParseMailgun(f *testing.F) {
	f.Add(fixture(f, "mailgun-failed-permanent.json"))
	f.Add(fixture(f, "mailgun-failed-temporary.json"))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := bouncehooks.ParseMailgun(b)
		checkRecords(t, res, err)
	})
}

// FuzzSNSEnvelope feeds arbitrary bodies to the SES hook: nothing but a
// correctly signed message of the topic gets past authentication.
func FuzzSNSEnvelope(f *testing.F) {
	s := snstest.New(f)
	f.Add(s.Sign(f, "2", snsNotification(fixture(f, "ses-bounce.json"))))
	f.Add([]byte(`{"Type":"Notification","SignatureVersion":"1","SigningCertURL":"https://sns.x.amazonaws.com/a.pem"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		hook := &bouncehooks.SES{TopicARNs: []string{topic}, Fetch: s.Fetch}
		res, err := hook.Take(context.Background(), bouncehooks.Request{Body: b})
		if err == nil && len(res.Records) > 0 {
			var m map[string]string
			if json.Unmarshal(b, &m) != nil || m["TopicArn"] != topic {
				t.Fatalf("accepted %q", fmt.Sprint(string(b)))
			}
		}
	})
}
