package main

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/app/apptest"
	"github.com/breachnotify/breachnotify/notifier/sampledata"
)

func TestCLINoticesAndBounces(t *testing.T) {
	t.Parallel()
	srv := apptest.Start(t, apptest.Options{})
	slug := srv.LoadSample(t, "notices")
	w := srv.LaunchInitial(t, slug)
	c := cli{t, srv.App.URL(), srv.Key, nil}

	var silent notifier.ListResult[notifier.Notice]
	c.json(&silent, "notice", "list", slug, "--acknowledged=false")
	if len(silent.Items) != 7 {
		t.Fatalf("%d silent notices, want 7", len(silent.Items))
	}
	contains(t, "notice list", c.ok("notice", "list", slug), "contoso", "fabrikam", "REMINDERS")

	// A hard bounce for tailspin's only contact makes its notice unreachable.
	var tailspin notifier.Delivery
	ds, _ := srv.App.Store.WaveDeliveries(t.Context(), w.ID)
	for _, d := range ds {
		if d.Recipient == "secops@tailspin.example" {
			tailspin = d
		}
	}
	dsn := bytes.ReplaceAll(sampledata.File(sampledata.HardBounce), []byte("REPLACE-WITH-DELIVERY-MESSAGE-ID@notify.example"), []byte(tailspin.MessageID))
	file := writeFile(t, t.TempDir(), "dsn.eml", dsn)
	contains(t, "bounce", c.ok("bounce", file), "permanent", "secops@tailspin.example", "true")
	contains(t, "unreachable", c.ok("notice", "unreachable", slug), "tailspin", "bounced", "5.1.1")
	out := c.ok("notice", "show", strconv.FormatInt(tailspin.NoticeID, 10))
	contains(t, "notice show", out, "Tailspin Toys", "MSG-400001", "bounced", "Not acknowledged")
	if r := c.run("notice", "resend", strconv.FormatInt(tailspin.NoticeID, 10)); r.code != exitConflict || !strings.Contains(r.errOut, "no active contact") {
		t.Errorf("resend with nobody to send to: %d %q", r.code, r.errOut)
	}
	if r := c.run("notice", "show", "abc"); r.code != 2 {
		t.Errorf("notice show abc exited %d, want 2", r.code)
	}
}
