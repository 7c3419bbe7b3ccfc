package deadlines_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breachnotify/breachnotify/notifier/deadlines"
)

func builtin(t *testing.T) *deadlines.Profiles {
	t.Helper()
	p, err := deadlines.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ts(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestUSFederalHolidaysObserved(t *testing.T) {
	t.Parallel()
	cal := builtin(t).Calendars["US-federal"]
	tests := []struct {
		year int
		want []string
	}{
		// Juneteenth's first year, observed on Friday the 18th; 4 July on a
		// Sunday observed on Monday the 5th; Christmas on a Saturday on
		// Friday the 24th; and New Year's Day 2022 (a Saturday) on 31
		// December 2021.
		{2021, []string{"2021-01-01", "2021-01-18", "2021-02-15", "2021-05-31", "2021-06-18", "2021-07-05",
			"2021-09-06", "2021-10-11", "2021-11-11", "2021-11-25", "2021-12-24", "2021-12-31"}},
		// Before Juneteenth existed; 4 July on a Saturday observed on the 3rd.
		{2020, []string{"2020-01-01", "2020-01-20", "2020-02-17", "2020-05-25", "2020-07-03",
			"2020-09-07", "2020-10-12", "2020-11-11", "2020-11-26", "2020-12-25"}},
		// No New Year's Day of its own: 1 January 2022 was observed in 2021.
		{2022, []string{"2022-01-17", "2022-02-21", "2022-05-30", "2022-06-20", "2022-07-04",
			"2022-09-05", "2022-10-10", "2022-11-11", "2022-11-24", "2022-12-26"}},
		{2026, []string{"2026-01-01", "2026-01-19", "2026-02-16", "2026-05-25", "2026-06-19", "2026-07-03",
			"2026-09-07", "2026-10-12", "2026-11-11", "2026-11-26", "2026-12-25"}},
	}
	for _, tt := range tests {
		var got []string
		for _, d := range cal.Observed(tt.year) {
			got = append(got, d.Format(time.DateOnly))
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%d: observed\n%v, want\n%v", tt.year, got, tt.want)
		}
	}
}

func TestDeadlineArithmetic(t *testing.T) {
	t.Parallel()
	p := builtin(t)
	period := func(id string) deadlines.Period {
		o, ok := p.Obligation(id)
		if !ok {
			t.Fatalf("no obligation %s", id)
		}
		return o.Period
	}
	tests := []struct {
		name       string
		obligation string
		base, want string
	}{
		// SEC 8-K: 4 US business days after the determination, by 17:30 Eastern.
		{"business days over Thanksgiving", "sec-8k-1.05", "2026-11-25T15:00:00Z", "2026-12-02T22:30:00Z"},
		{"business days over an observed Christmas (Friday)", "sec-8k-1.05", "2021-12-23T20:00:00Z", "2021-12-30T22:30:00Z"},
		{"business days over New Year observed on 31 December", "sec-8k-1.05", "2021-12-28T15:00:00Z", "2022-01-04T22:30:00Z"},
		{"determined on a Saturday, DST starts the next day", "sec-8k-1.05", "2026-03-07T15:00:00Z", "2026-03-12T21:30:00Z"},
		{"the day counted is New York's, not UTC's", "sec-8k-1.05", "2026-03-10T03:00:00Z", "2026-03-13T21:30:00Z"},
		{"Juneteenth observed on a Friday", "sec-8k-1.05", "2021-06-16T14:00:00Z", "2021-06-23T21:30:00Z"},
		// Calendar days keep the local wall-clock time across DST.
		{"30 days across the end of DST in Denver", "us-co", "2026-10-15T18:00:00Z", "2026-11-14T19:00:00Z"},
		{"45 days across the start of DST in Columbus", "us-oh", "2026-02-20T17:00:00Z", "2026-04-06T16:00:00Z"},
		{"60 days, 06:00 Central before and after DST starts", "us-tx", "2026-01-10T12:00:00Z", "2026-03-11T11:00:00Z"},
		// Hours are hours, whatever the clocks do.
		{"72 hours across a DST change", "gdpr-art33", "2026-03-28T12:00:00Z", "2026-03-31T12:00:00Z"},
		// Months end on the last day of a shorter month.
		{"one month after 31 January", "nis2-final-report", "2026-01-31T10:00:00Z", "2026-02-28T10:00:00Z"},
		{"one month after 31 January in a leap year", "nis2-final-report", "2028-01-31T10:00:00Z", "2028-02-29T10:00:00Z"},
		{"one month after 31 March", "nis2-final-report", "2026-03-31T10:00:00Z", "2026-04-30T10:00:00Z"},
		{"one month after 31 December", "nis2-final-report", "2026-12-31T23:00:00Z", "2027-01-31T23:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pd := period(tt.obligation)
			got := p.Deadline(pd, pd.Hours, ts(t, tt.base))
			if want := ts(t, tt.want); !got.Equal(want) {
				t.Errorf("%s from %s: %s, want %s", tt.obligation, tt.base, got.UTC().Format(time.RFC3339), tt.want)
			}
		})
	}
}

func TestCovers(t *testing.T) {
	t.Parallel()
	p := builtin(t)
	o := func(id string) deadlines.Obligation { v, _ := p.Obligation(id); return v }
	tests := []struct {
		obligation, jurisdiction string
		want                     bool
	}{
		{"gdpr-art33-processor", "DE", true}, // through EEA → EU
		{"gdpr-art33-processor", "NO", true}, // EEA, not EU
		{"nis2-notification", "NO", false},   // EU only
		{"gdpr-art33-processor", "US", false},
		{"gdpr-art33-processor", "", false}, // unknown jurisdiction
		{"us-co", "US-CO", true},
		{"us-co", "US", false},         // a country is not each of its states
		{"sec-8k-1.05", "US-CO", true}, // a state is in its country
		{"us-co", "US-COL", false},
		{"contract", "", true}, // no jurisdictions: wherever selected
	}
	for _, tt := range tests {
		if got := p.Covers(o(tt.obligation), tt.jurisdiction); got != tt.want {
			t.Errorf("%s covers %q: %v, want %v", tt.obligation, tt.jurisdiction, got, tt.want)
		}
	}
}

func TestForOrganizationAndIncident(t *testing.T) {
	t.Parallel()
	p := builtin(t)
	aware := ts(t, "2026-06-01T08:00:00Z")
	clock := deadlines.Clock{AwareAt: &aware, Selected: []string{"gdpr-art33", "gdpr-art33-processor", "us-co", "sec-8k-1.05"},
		Targets: map[string]int{"gdpr-art33-processor": 12}}

	// A German organization with a 6-hour contract: the contract is the
	// earliest; the processor target is the incident's 12 h, not 24.
	got := p.ForOrganization(clock, deadlines.Party{Jurisdiction: "DE", NotifyWithinHours: 6})
	ids := func(list []deadlines.Due) (out []string) {
		for _, d := range list {
			out = append(out, d.Obligation.ID)
		}
		return out
	}
	if want := []string{"gdpr-art33-processor", "contract"}; !slices.Equal(ids(got), want) {
		t.Fatalf("German organization: %v, want %v", ids(got), want)
	}
	if !got[0].At.Equal(aware.Add(12 * time.Hour)) {
		t.Errorf("processor target: %s, want 12 h after awareness", got[0].At)
	}
	if e, _ := deadlines.Earliest(got); e.Obligation.ID != "contract" || !e.At.Equal(aware.Add(6*time.Hour)) {
		t.Errorf("earliest: %s at %v, want the contract 6 h after awareness", e.Obligation.ID, e.At)
	}

	// Colorado: the state law, not GDPR; an unselected state law never applies.
	if got := ids(p.ForOrganization(clock, deadlines.Party{Jurisdiction: "US-CO"})); !slices.Equal(got, []string{"us-co"}) {
		t.Errorf("Colorado organization: %v", got)
	}
	if got := p.ForOrganization(clock, deadlines.Party{Jurisdiction: "US-TX"}); len(got) != 0 {
		t.Errorf("Texas organization (us-tx not selected): %v", ids(got))
	}

	// The incident's own filings; the 8-K waits for the materiality determination.
	inc := p.ForIncident(clock)
	if want := []string{"gdpr-art33", "sec-8k-1.05"}; !slices.Equal(ids(inc), want) {
		t.Fatalf("incident filings: %v, want %v", ids(inc), want)
	}
	if inc[1].At != nil {
		t.Errorf("8-K before materiality was determined: %v, want none yet", inc[1].At)
	}
	if _, ok := deadlines.Earliest(p.ForOrganization(deadlines.Clock{Selected: clock.Selected}, deadlines.Party{Jurisdiction: "DE"})); ok {
		t.Error("without aware_at no deadline runs")
	}
}

func TestParseRefusesBadProfiles(t *testing.T) {
	t.Parallel()
	const head = `{"version":"t","calendars":{},"groups":{},"obligations":[`
	ok := `{"id":"a","name":"A","basis":"aware_at","period":{"hours":1},"owed_to":"authority","source":"S"}`
	tests := []struct{ body, want string }{
		{ok + "," + ok, "appears twice"},
		{`{"id":"a","name":"A","basis":"aware_at","period":{"hours":1,"calendar_days":2},"owed_to":"authority","source":"S"}`, "exactly one"},
		{`{"id":"a","name":"A","basis":"aware_at","period":{"business_days":4,"calendar":"X"},"owed_to":"authority","source":"S"}`, `no calendar "X"`},
		{`{"id":"a","name":"A","basis":"later","period":{"hours":1},"owed_to":"authority","source":"S"}`, "basis"},
		{`{"id":"a","name":"A","basis":"aware_at","period":{"hours":1},"owed_to":"authority","source":""}`, "source"},
		{`{"id":"a","name":"A","jurisdictions":["Europe"],"basis":"aware_at","period":{"hours":1},"owed_to":"authority","source":"S"}`, "jurisdictions"},
		{`{"id":"a","name":"A","basis":"aware_at","period":{"calendar_days":1,"cutoff":"25:00"},"owed_to":"authority","source":"S"}`, "cutoff"},
		{`{"id":"a","name":"A","basis":"aware_at","period":{"hours":1},"owed_to":"authority","source":"S","extra":1}`, "unknown field"},
	}
	for _, tt := range tests {
		_, err := deadlines.Parse([]byte(head + tt.body + "]}"))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.body, err, tt.want)
		}
	}
	if _, err := deadlines.Parse([]byte(head + ok + "]}")); err != nil {
		t.Errorf("valid file: %v", err)
	}
}

// FuzzDeadline checks every built-in obligation against any moment from
// 1970 to 2200: the deadline is after it, a business-day deadline falls on
// a business day of its calendar, and a month is never longer than 31 days.
func FuzzDeadline(f *testing.F) {
	p, err := deadlines.Builtin()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []int64{0, 1640995200, 1772928000, 1798761600} {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, unix int64, pick uint8) {
		const end = 7258118400 // 2200-01-01
		if unix < 0 || unix >= end {
			return
		}
		base := time.Unix(unix, 0).UTC()
		o := p.Obligations[int(pick)%len(p.Obligations)]
		hours := o.Period.Hours
		if o.Period.FromOrganization {
			hours = 1 + int(pick)
		}
		at := p.Deadline(o.Period, hours, base)
		if !at.After(base) {
			t.Fatalf("%s from %s: %s is not after it", o.ID, base, at)
		}
		if o.Period.Months > 0 && at.Sub(base) > 31*24*time.Hour*time.Duration(o.Period.Months)+time.Hour {
			t.Fatalf("%s from %s: %s is more than %d months on", o.ID, base, at, o.Period.Months)
		}
		if cal := p.Calendars[o.Period.Calendar]; cal != nil {
			local := at.In(cal.Location())
			if o.Period.Cutoff == "" {
				local = local.Add(-time.Nanosecond) // midnight ends the day before
			}
			if day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, time.UTC); !cal.IsBusinessDay(day) {
				t.Fatalf("%s from %s: %s is not a business day", o.ID, base, local)
			}
		}
	})
}
