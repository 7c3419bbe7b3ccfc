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

func FuzzParseDSN(f *testing.F) {
	f.Add(sampledata.File(sampledata.HardBounce), "")
	f.Add([]byte("--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\nFinal-Recipient: rfc822; a@b.example\r\nAction: failed\r\nStatus: 5.0.0\r\n--B--\r\n"), "multipart/report; boundary=B")
	f.Fuzz(func(t *testing.T, raw []byte, ct string) {
		ns, err := notifier.ParseDSN(raw, ct)
		if err != nil {
			return
		}
		for _, n := range ns {
			if n.Recipient == "" || !strings.Contains(n.Recipient, "@") || n.Kind == "" || n.Kind == notifier.BounceUnknown {
				t.Fatalf("accepted an incomplete notice %+v", n)
			}
			if strings.ContainsAny(n.Recipient+n.Diagnostic+n.MessageID, "\r\n") {
				t.Fatalf("control characters survived: %+v", n)
			}
		}
	})
}
