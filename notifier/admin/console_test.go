package admin

import (
	"net/url"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
)

func TestClockFromForm(t *testing.T) {
	t.Parallel()
	c, problems := clockFromForm(url.Values{"aware_at": {"2026-12-01T09:30"}, "obligations": {"gdpr-art33"}}, map[string]int{"x": 1})
	if len(problems) > 0 || c == nil || !c.AwareAt.Equal(time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)) || c.Obligations[0] != "gdpr-art33" || c.DeadlineTargets["x"] != 1 {
		t.Errorf("clock %+v, problems %v", c, problems)
	}
	if c, problems := clockFromForm(url.Values{}, nil); c != nil || problems != nil {
		t.Errorf("an empty form sets a clock: %+v %v", c, problems)
	}
	if _, problems := clockFromForm(url.Values{"materiality_determined_at": {"yesterday"}}, nil); len(problems) != 1 || problems[0].Field != "materiality_determined_at" {
		t.Errorf("a bad time: %v", problems)
	}
}

func TestPolicyFromForm(t *testing.T) {
	t.Parallel()
	p := policyFromForm(url.Values{"disclosure": {"minimal"}, "require_approval": {"1"}, "reminder_after": {"24h"}, "max_reminders": {"3"}})
	got := p.Apply(notifier.DefaultPolicy())
	if got.Disclosure != notifier.DisclosureMinimal || !got.RequireApproval || got.AutoFollowUp || time.Duration(got.ReminderAfter) != 24*time.Hour || got.MaxReminders != 3 {
		t.Errorf("policy %+v", got)
	}
	// What a form cannot mean is refused by the policy's own check, by field.
	bad := policyFromForm(url.Values{"disclosure": {"all"}, "reminder_after": {"soon"}, "max_reminders": {"many"}}).Validate()
	fields := map[string]bool{}
	for _, r := range bad {
		fields[r.Field] = true
	}
	if !fields["disclosure"] || !fields["reminder_after"] || !fields["max_reminders"] {
		t.Errorf("problems %v", bad)
	}
	// The form shows the policy as it reads it back.
	if v := policyForm(); v.ReminderAfter != "48h0m0s" {
		t.Errorf("reminder_after shown as %q", v.ReminderAfter)
	}
}

// FuzzConsoleForms feeds the console's form readers anything a browser
// could send: they never panic, and what they accept the service's
// checks see whole.
func FuzzConsoleForms(f *testing.F) {
	f.Add("2026-12-01T09:30", "gdpr-art33", "minimal", "48h", "2", "exposures.ndjson")
	f.Add("", "", "", "", "", "")
	f.Add("9999-99-99T99:99", "\x00", "full", "-1h", "-5", "a.CSV")
	f.Fuzz(func(t *testing.T, at, obligation, disclosure, reminder, maxReminders, fileName string) {
		form := url.Values{"aware_at": {at}, "obligations": {obligation}, "disclosure": {disclosure},
			"reminder_after": {reminder}, "max_reminders": {maxReminders}}
		c, problems := clockFromForm(form, nil)
		if c == nil && len(problems) == 0 && obligation != "" {
			t.Errorf("obligation %q dropped", obligation)
		}
		p := policyFromForm(form)
		if p.Disclosure == nil || p.RequireApproval == nil || p.AutoFollowUp == nil {
			t.Error("the form's fields are not all set")
		}
		_ = p.Validate()
		if f, ok := formatOf(fileName); ok && f != notifier.FormatCSV && f != notifier.FormatNDJSON {
			t.Errorf("format %q from %q", f, fileName)
		}
	})
}
