package deadlines

import (
	"slices"
	"time"
)

// Clock is what an incident knows of its deadlines.
type Clock struct {
	// AwareAt is when the breach became known; nil: no deadline runs yet.
	AwareAt *time.Time
	// MaterialityAt is when the breach was determined material.
	MaterialityAt *time.Time
	// Selected are the obligation ids the incident is under.
	Selected []string
	// Targets replace a target obligation's default hours, by id.
	Targets map[string]int
}

// Party is an affected organization as the obligations see it.
type Party struct {
	// Jurisdiction is an ISO 3166 code, or "" when unknown.
	Jurisdiction string
	// NotifyWithinHours is its contract's period; 0: none.
	NotifyWithinHours int
}

// Due is one obligation's deadline. At is nil while its basis is not
// known (materiality not determined yet).
type Due struct {
	Obligation Obligation
	At         *time.Time
}

// ForIncident returns the deadlines of the incident's own filings (owed
// to an authority) among its selected obligations.
func (p *Profiles) ForIncident(c Clock) []Due {
	var out []Due
	for _, o := range p.Obligations {
		if o.OwedTo == OwedToAuthority && slices.Contains(c.Selected, o.ID) {
			out = append(out, Due{o, p.due(o, c, Party{})})
		}
	}
	return out
}

// ForOrganization returns the deadlines for notifying one organization:
// the selected obligations owed to organizations that cover its
// jurisdiction, and its contract's.
func (p *Profiles) ForOrganization(c Clock, party Party) []Due {
	var out []Due
	for _, o := range p.Obligations {
		if o.OwedTo != OwedToOrganization {
			continue
		}
		if o.Period.FromOrganization {
			if party.NotifyWithinHours > 0 {
				out = append(out, Due{o, p.due(o, c, party)})
			}
			continue
		}
		if slices.Contains(c.Selected, o.ID) && p.Covers(o, party.Jurisdiction) {
			out = append(out, Due{o, p.due(o, c, party)})
		}
	}
	return out
}

// Earliest is the soonest known deadline of list.
func Earliest(list []Due) (Due, bool) {
	var best Due
	found := false
	for _, d := range list {
		if d.At != nil && (!found || d.At.Before(*best.At)) {
			best, found = d, true
		}
	}
	return best, found
}

func (p *Profiles) due(o Obligation, c Clock, party Party) *time.Time {
	base := c.AwareAt
	if o.Basis == BasisMateriality {
		base = c.MaterialityAt
	}
	if base == nil {
		return nil
	}
	hours := o.Period.Hours
	if h := c.Targets[o.ID]; o.Target && h > 0 {
		hours = h
	}
	if o.Period.FromOrganization {
		hours = party.NotifyWithinHours
	}
	at := p.Deadline(o.Period, hours, *base)
	return &at
}

// Deadline applies a period to the moment base. hours overrides the
// period's own hours (a target or a contract); it is ignored by the other
// kinds of period.
func (p *Profiles) Deadline(pd Period, hours int, base time.Time) time.Time {
	loc := time.UTC
	if pd.Calendar != "" {
		loc = p.Calendars[pd.Calendar].Location()
	}
	if pd.TimeZone != "" {
		loc, _ = time.LoadLocation(pd.TimeZone) // checked by Parse
	}
	b := base.In(loc)
	hh, mm, cutoff := parseCutoff(pd.Cutoff)
	switch {
	case pd.BusinessDays > 0:
		d := p.Calendars[pd.Calendar].AddBusinessDays(civil(b.Date()), pd.BusinessDays)
		if !cutoff {
			// The last day runs to its end: the midnight after it.
			return time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc)
		}
		return time.Date(d.Year(), d.Month(), d.Day(), hh, mm, 0, 0, loc)
	case pd.CalendarDays > 0:
		// AddDate keeps the wall-clock time: across a DST change the
		// period is an hour longer or shorter, as the local days are.
		b = b.AddDate(0, 0, pd.CalendarDays)
	case pd.Months > 0:
		b = addMonths(b, pd.Months)
	default:
		return base.Add(time.Duration(hours) * time.Hour)
	}
	if cutoff {
		b = time.Date(b.Year(), b.Month(), b.Day(), hh, mm, 0, 0, loc)
	}
	return b
}

// parseCutoff reads "HH:MM" (checked by Parse); ok is false for "".
func parseCutoff(s string) (hh, mm int, ok bool) {
	if len(s) != 5 {
		return 0, 0, false
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), int(s[3]-'0')*10 + int(s[4]-'0'), true
}

// addMonths adds n months to t, ending on the last day of the target
// month when it has no day t.Day() (Go's AddDate would run on into the
// next month: 31 January + 1 month = 3 March).
func addMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	last := time.Date(y, m+time.Month(n)+1, 0, 0, 0, 0, 0, time.UTC).Day()
	return time.Date(y, m+time.Month(n), min(d, last), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
}
