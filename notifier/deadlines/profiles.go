// Package deadlines computes notification deadlines from obligation
// profiles kept as data (profiles.json, embedded in the binary): each
// obligation names its jurisdictions, the moment it runs from (awareness
// or the materiality determination), its period (hours, calendar days,
// months or business days on a holiday calendar) and its legal source.
// Adding a jurisdiction is adding an entry to that file. It is a tracking
// aid, not legal advice.
package deadlines

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	// The zones the profiles name must resolve on any host, including a
	// container without /usr/share/zoneinfo.
	_ "time/tzdata"
)

//go:embed profiles.json
var builtin []byte

// Basis is the moment an obligation's period runs from.
type Basis string

// The bases.
const (
	// BasisAwareAt runs from when the breach became known.
	BasisAwareAt Basis = "aware_at"
	// BasisMateriality runs from when the breach was determined material
	// (SEC Form 8-K Item 1.05).
	BasisMateriality Basis = "materiality"
)

// Whom an obligation is owed to.
const (
	// OwedToAuthority is a filing of the breached company itself (a
	// supervisory authority, a CSIRT, the SEC): one deadline per incident.
	OwedToAuthority = "authority"
	// OwedToOrganization is a notice to each affected organization the
	// obligation covers: it counts toward that organization's notify-by.
	OwedToOrganization = "organization"
)

// Profiles is a parsed, checked obligation file.
type Profiles struct {
	// Version names the file's revision, shown beside every computed
	// deadline so that a reader knows which rules produced it.
	Version     string               `json:"version"`
	Note        string               `json:"note"`
	Calendars   map[string]*Calendar `json:"calendars"`
	Groups      map[string][]string  `json:"groups"`
	Obligations []Obligation         `json:"obligations"`
}

// Obligation is one deadline a law or contract sets.
type Obligation struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Jurisdictions the obligation covers: ISO 3166-1 countries (DE),
	// ISO 3166-2 subdivisions (US-CO) or a group of the file (EU). A
	// country covers its subdivisions. Empty: wherever it is selected.
	Jurisdictions []string `json:"jurisdictions,omitempty"`
	Basis         Basis    `json:"basis"`
	Period        Period   `json:"period"`
	// Target marks a period the law does not state ("without undue
	// delay"): the file's value is a default an incident may change.
	Target bool   `json:"target,omitempty"`
	OwedTo string `json:"owed_to"`
	Source string `json:"source"`
	Note   string `json:"note,omitempty"`
}

// Period is how long an obligation gives. Exactly one of Hours,
// CalendarDays, Months, BusinessDays and FromOrganization is set.
type Period struct {
	Hours        int `json:"hours,omitempty"`
	CalendarDays int `json:"calendar_days,omitempty"`
	// Months end on the same day of the month, or on the month's last day
	// when it has no such day (one month after 31 January is the end of
	// February), as Regulation (EEC, Euratom) 1182/71 Art. 3(2)(c) counts.
	Months       int    `json:"months,omitempty"`
	BusinessDays int    `json:"business_days,omitempty"`
	Calendar     string `json:"calendar,omitempty"`
	// TimeZone is where days are counted (IANA name); a business-day
	// period defaults to its calendar's zone, others to UTC.
	TimeZone string `json:"time_zone,omitempty"`
	// Cutoff is the time of day ("HH:MM") the last day ends at. Without
	// it a day count ends at the basis's time of day (the earlier
	// reading of "within N days") and a business-day count at midnight.
	Cutoff string `json:"cutoff,omitempty"`
	// FromOrganization takes the hours from the organization's contract
	// (its notify_within); such an obligation is in force for every
	// organization that has one.
	FromOrganization bool `json:"from_organization,omitempty"`
}

var (
	idPattern           = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{0,62}$`)
	cutoffPattern       = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	jurisdictionPattern = regexp.MustCompile(`^[A-Z]{2}(-[A-Z0-9]{1,3})?$`)
)

// Builtin parses the embedded profiles.
func Builtin() (*Profiles, error) { return Parse(builtin) }

// Parse reads and checks an obligation file: every error names the
// obligation and field, so a bad edit fails the build's tests, not a
// deadline.
func Parse(b []byte) (*Profiles, error) {
	var p Profiles
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("obligation profiles: %w", err)
	}
	if p.Version == "" {
		return nil, fmt.Errorf("obligation profiles: version is required")
	}
	for name, c := range p.Calendars {
		if err := c.init(); err != nil {
			return nil, fmt.Errorf("obligation profiles: calendar %s: %w", name, err)
		}
	}
	seen := map[string]bool{}
	for i := range p.Obligations {
		o := &p.Obligations[i]
		if err := p.check(o); err != nil {
			return nil, fmt.Errorf("obligation profiles: obligation %d (%s): %w", i+1, o.ID, err)
		}
		if seen[o.ID] {
			return nil, fmt.Errorf("obligation profiles: obligation id %s appears twice", o.ID)
		}
		seen[o.ID] = true
	}
	return &p, nil
}

func (p *Profiles) check(o *Obligation) error {
	switch {
	case !idPattern.MatchString(o.ID):
		return fmt.Errorf("id: must be lowercase letters, digits, . and -")
	case o.Name == "" || o.Source == "":
		return fmt.Errorf("name and source are required")
	case o.Basis != BasisAwareAt && o.Basis != BasisMateriality:
		return fmt.Errorf("basis: must be %s or %s", BasisAwareAt, BasisMateriality)
	case o.OwedTo != OwedToAuthority && o.OwedTo != OwedToOrganization:
		return fmt.Errorf("owed_to: must be %s or %s", OwedToAuthority, OwedToOrganization)
	case o.Target && o.Period.Hours == 0:
		return fmt.Errorf("target: a target is a number of hours")
	}
	for _, j := range o.Jurisdictions {
		if _, group := p.Groups[j]; !group && !jurisdictionPattern.MatchString(j) {
			return fmt.Errorf("jurisdictions: %q is neither a group nor an ISO 3166 code", j)
		}
	}
	pd := o.Period
	set := 0
	for _, n := range []int{pd.Hours, pd.CalendarDays, pd.Months, pd.BusinessDays} {
		if n < 0 {
			return fmt.Errorf("period: counts must be positive")
		}
		if n > 0 {
			set++
		}
	}
	if pd.FromOrganization {
		set++
		if o.OwedTo != OwedToOrganization {
			return fmt.Errorf("period: from_organization is owed to the organization")
		}
	}
	if set != 1 {
		return fmt.Errorf("period: give exactly one of hours, calendar_days, months, business_days, from_organization")
	}
	if (pd.BusinessDays > 0) != (pd.Calendar != "") {
		return fmt.Errorf("period: business_days needs a calendar, and only it takes one")
	}
	if pd.Calendar != "" && p.Calendars[pd.Calendar] == nil {
		return fmt.Errorf("period: no calendar %q", pd.Calendar)
	}
	if pd.Cutoff != "" && !cutoffPattern.MatchString(pd.Cutoff) {
		return fmt.Errorf("period: cutoff %q is not HH:MM", pd.Cutoff)
	}
	if pd.TimeZone != "" {
		if _, err := time.LoadLocation(pd.TimeZone); err != nil {
			return fmt.Errorf("period: time_zone: %w", err)
		}
	}
	return nil
}

// Obligation finds an obligation by id.
func (p *Profiles) Obligation(id string) (Obligation, bool) {
	for _, o := range p.Obligations {
		if o.ID == id {
			return o, true
		}
	}
	return Obligation{}, false
}

// ValidJurisdiction reports whether j is an ISO 3166-1 alpha-2 country or
// an ISO 3166-2 subdivision code in upper case.
func ValidJurisdiction(j string) bool { return jurisdictionPattern.MatchString(j) }

// Covers reports whether o applies in jurisdiction j (a country or a
// subdivision). An obligation without jurisdictions covers any; an unknown
// jurisdiction ("") is covered only by such.
func (p *Profiles) Covers(o Obligation, j string) bool {
	if len(o.Jurisdictions) == 0 {
		return true
	}
	for _, x := range o.Jurisdictions {
		if p.within(j, x, 0) {
			return true
		}
	}
	return false
}

// within reports whether j is x, in x (a subdivision of country x), or in
// a member of group x. Groups may name groups; depth bounds a cycle.
func (p *Profiles) within(j, x string, depth int) bool {
	if j == "" || depth > 4 {
		return false
	}
	if members, ok := p.Groups[x]; ok {
		for _, m := range members {
			if p.within(j, m, depth+1) {
				return true
			}
		}
		return false
	}
	return j == x || strings.HasPrefix(j, x+"-")
}

// MustBuiltin is Builtin for wiring: the embedded file is checked by this
// package's tests, so an error here is a broken build, not bad input.
func MustBuiltin() *Profiles {
	p, err := Builtin()
	if err != nil {
		panic(err)
	}
	return p
}

// Selectable lists the ids of the obligations an incident may select (a
// contract's applies by itself).
func (p *Profiles) Selectable() []string {
	var ids []string
	for _, o := range p.Obligations {
		if !o.Period.FromOrganization {
			ids = append(ids, o.ID)
		}
	}
	return ids
}
