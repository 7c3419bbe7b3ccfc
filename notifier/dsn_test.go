package notifier_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/sampledata"
)

func TestParseDSN(t *testing.T) {
	t.Parallel()
	raw := sampledata.File(sampledata.HardBounce)
	got, err := notifier.ParseDSN(raw, "")
	if err != nil {
		t.Fatal(err)
	}
	want := notifier.BounceNotice{
		MessageID: "REPLACE-WITH-DELIVERY-MESSAGE-ID@notify.example", Recipient: "secops@tailspin.example",
		Kind: notifier.BouncePermanent, Action: "failed", Status: "5.1.1",
		Diagnostic: "smtp; 550 5.1.1 <secops@tailspin.example>: Recipient address rejected: User unknown",
	}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	// The same report sent as its multipart body with the Content-Type given.
	i := bytes.Index(raw, []byte("\n\n"))
	body := raw[i+2:]
	got, err = notifier.ParseDSN(body, `multipart/report; report-type=delivery-status; boundary="BOUNDARY-1"`)
	if err != nil || len(got) != 1 || got[0] != want {
		t.Fatalf("body only: %+v, %v", got, err)
	}
	delayed := strings.Replace(strings.Replace(string(raw), "Action: failed", "Action: delayed", 1), "Status: 5.1.1", "Status: 4.4.1", 1)
	got, err = notifier.ParseDSN([]byte(delayed), "")
	if err != nil || got[0].Kind != notifier.BounceDelayed {
		t.Fatalf("delayed: %+v, %v", got, err)
	}
	for name, bad := range map[string]string{
		"not mail":         "hello",
		"not a report":     "Content-Type: text/plain\r\n\r\nUndelivered",
		"no status part":   strings.Replace(string(raw), "message/delivery-status", "text/plain", 1),
		"no recipient":     strings.Replace(string(raw), "Final-Recipient: rfc822; secops@tailspin.example\nOriginal-Recipient: rfc822;secops@tailspin.example\n", "", 1),
		"bad status value": strings.Replace(string(raw), "Status: 5.1.1", "Status: bounced", 1),
	} {
		if _, err := notifier.ParseDSN([]byte(bad), ""); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// arfReport is RFC 5965's example of a feedback report (§B.1), with the
// original message's Message-ID ours.
const arfReport = "From: <abusedesk@example.com>\r\n" +
	"Date: Thu, 8 Mar 2005 17:40:36 EDT\r\n" +
	"Subject: FW: Earn money\r\n" +
	"To: <abuse@example.net>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/report; report-type=feedback-report;\r\n" +
	"     boundary=\"part1_13d.2e68ed54_boundary\"\r\n" +
	"\r\n" +
	"--part1_13d.2e68ed54_boundary\r\n" +
	"Content-Type: text/plain; charset=\"US-ASCII\"\r\n" +
	"Content-Transfer-Encoding: 7bit\r\n" +
	"\r\n" +
	"This is an email abuse report for an email message received from IP\r\n" +
	"192.0.2.1 on Thu, 8 Mar 2005 14:00:00 EDT.\r\n" +
	"\r\n" +
	"--part1_13d.2e68ed54_boundary\r\n" +
	"Content-Type: message/feedback-report\r\n" +
	"\r\n" +
	"Feedback-Type: abuse\r\n" +
	"User-Agent: SomeGenerator/1.0\r\n" +
	"Version: 1\r\n" +
	"Original-Mail-From: <somespammer@example.net>\r\n" +
	"Original-Rcpt-To: <user@example.com>\r\n" +
	"Arrival-Date: Thu, 8 Mar 2005 14:00:00 EDT\r\n" +
	"Reporting-MTA: dns; mail.example.com\r\n" +
	"Source-IP: 192.0.2.1\r\n" +
	"\r\n" +
	"--part1_13d.2e68ed54_boundary\r\n" +
	"Content-Type: message/rfc822\r\n" +
	"Content-Disposition: inline\r\n" +
	"\r\n" +
	"From: <somespammer@example.net>\r\n" +
	"Received: from mailserver.example.net (mailserver.example.net [192.0.2.1]) by example.com with ESMTP id M63d4137594e46; Thu, 08 Mar 2005 14:00:00 -0400\r\n" +
	"To: <Undisclosed Recipients>\r\n" +
	"Subject: Earn money\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-type: text/plain\r\n" +
	"Message-ID: <8787KJKJ3K4J3K4J3K4J3.mail@notify.example>\r\n" +
	"Date: Thu, 02 Sep 2004 12:34:56 -0400\r\n" +
	"\r\n" +
	"Spam Spam Spam\r\n" +
	"--part1_13d.2e68ed54_boundary--\r\n"

// A feedback report (ARF) is a complaint against the original message.
func TestParseFeedbackReport(t *testing.T) {
	t.Parallel()
	got, err := notifier.ParseDSN([]byte(arfReport), "")
	want := notifier.BounceNotice{MessageID: "8787KJKJ3K4J3K4J3K4J3.mail@notify.example", Recipient: "user@example.com",
		Kind: notifier.BounceComplaint, Action: "complaint", Diagnostic: "feedback-type abuse SomeGenerator/1.0"}
	if err != nil || len(got) != 1 || got[0] != want {
		t.Fatalf("got %+v, %v\nwant %+v", got, err, want)
	}
	noID := strings.Replace(arfReport, "Message-ID: <8787KJKJ3K4J3K4J3K4J3.mail@notify.example>\r\n", "", 1)
	if _, err := notifier.ParseDSN([]byte(noID), ""); err == nil {
		t.Error("a feedback report without the original Message-ID was accepted")
	}
}

func FuzzParseDSN(f *testing.F) {
	f.Add(sampledata.File(sampledata.HardBounce), "")
	f.Add([]byte(arfReport), "")
	f.Add([]byte("--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\nFinal-Recipient: rfc822; a@b.example\r\nAction: failed\r\nStatus: 5.0.0\r\n--B--\r\n"), "multipart/report; boundary=B")
	f.Fuzz(func(t *testing.T, raw []byte, ct string) {
		ns, err := notifier.ParseDSN(raw, ct)
		if err != nil {
			return
		}
		for _, n := range ns {
			// A complaint may leave the recipient out (Original-Rcpt-To is
			// optional); its original Message-ID is required instead.
			complaintOK := n.Kind == notifier.BounceComplaint && n.MessageID != "" && n.Recipient == ""
			if !complaintOK && (n.Recipient == "" || !strings.Contains(n.Recipient, "@") || n.Kind == "" || n.Kind == notifier.BounceUnknown) {
				t.Fatalf("accepted an incomplete notice %+v", n)
			}
			if strings.ContainsAny(n.Recipient+n.Diagnostic+n.MessageID, "\r\n") {
				t.Fatalf("control characters survived: %+v", n)
			}
		}
	})
}
