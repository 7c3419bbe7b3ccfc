package notifier

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/breachnotify/breachnotify/notifier/deadlines"
)

// IncidentClock is what an incident knows of its legal and contractual
// deadlines (see notifier/deadlines).
type IncidentClock struct {
	// AwareAt is when the breach became known: the deadlines run from it.
	AwareAt *time.Time `json:"aware_at"`
	// MaterialityDeterminedAt is when the breach was determined material
	// (SEC Form 8-K Item 1.05 runs from it).
	MaterialityDeterminedAt *time.Time `json:"materiality_determined_at"`
	// Obligations are the ids of the obligation profiles the incident is
	// under. An organization's contract (notify_within) applies without
	// being selected.
	Obligations []string `json:"obligations"`
	// DeadlineTargets replace the default hours of "without undue delay"
	// obligations (marked target), by obligation id.
	DeadlineTargets map[string]int `json:"deadline_targets"`
}

// maxTargetHours bounds a target or contract period: a year.
const maxTargetHours = 8760

// normalized is c with empty lists as [] and times in UTC.
func (c IncidentClock) normalized() IncidentClock {
	if c.Obligations == nil {
		c.Obligations = []string{}
	}
	if c.DeadlineTargets == nil {
		c.DeadlineTargets = map[string]int{}
	}
	for _, t := range []**time.Time{&c.AwareAt, &c.MaterialityDeterminedAt} {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
	return c
}

// validate reports every field of c that the profiles or the calendar
// refuse; now bounds the times (a breach is not known in the future).
func (c IncidentClock) validate(p *deadlines.Profiles, now time.Time) []RowError {
	var problems []RowError
	bad := func(field, msg string) { problems = append(problems, RowError{Field: field, Message: msg}) }
	// Five minutes of slack: "now" typed on a laptop may run ahead of
	// the database clock.
	inRange := func(t *time.Time) bool {
		return t == nil || (t.Year() >= 1970 && !t.After(now.Add(5*time.Minute)))
	}
	if !inRange(c.AwareAt) {
		bad("clock.aware_at", "must be a time since 1970 and not in the future")
	}
	if !inRange(c.MaterialityDeterminedAt) {
		bad("clock.materiality_determined_at", "must be a time since 1970 and not in the future")
	}
	if c.MaterialityDeterminedAt != nil && (c.AwareAt == nil || c.MaterialityDeterminedAt.Before(*c.AwareAt)) {
		bad("clock.materiality_determined_at", "needs aware_at, and must not be before it")
	}
	if len(c.Obligations) > 64 {
		bad("clock.obligations", "lists more than 64 obligations")
	}
	for _, id := range c.Obligations {
		o, ok := p.Obligation(id)
		switch {
		case !ok:
			bad("clock.obligations", "no obligation profile "+quote(id)+"; the profiles are "+strings.Join(p.Selectable(), ", "))
		case o.Period.FromOrganization:
			bad("clock.obligations", quote(id)+" applies to every organization with notify_within: it is not selected")
		}
	}
	for id, hours := range c.DeadlineTargets {
		o, ok := p.Obligation(id)
		switch {
		case !ok || !o.Target:
			bad("clock.deadline_targets", quote(id)+" is not a target obligation (one whose law says \"without undue delay\")")
		case !slices.Contains(c.Obligations, id):
			bad("clock.deadline_targets", quote(id)+" is not among the incident's obligations")
		case hours < 1 || hours > maxTargetHours:
			bad("clock.deadline_targets", quote(id)+" must be between 1 and 8760 hours")
		}
	}
	return problems
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (c IncidentClock) profileClock() deadlines.Clock {
	return deadlines.Clock{AwareAt: c.AwareAt, MaterialityAt: c.MaterialityDeterminedAt, Selected: c.Obligations, Targets: c.DeadlineTargets}
}

// ObligationDue is one obligation's deadline for an incident or an
// organization.
type ObligationDue struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	OwedTo string `json:"owed_to"`
	Source string `json:"source"`
	// Target is true when the law sets no period ("without undue delay")
	// and the deadline is a target.
	Target bool `json:"target"`
	// DueAt is nil while its basis is unknown (no materiality determined).
	DueAt *time.Time `json:"due_at"`
}

// Deadline states of an organization.
const (
	// DeadlineMet: notified (a delivery sent) by its notify-by time.
	DeadlineMet = "met"
	// DeadlineLate: notified, after its notify-by time.
	DeadlineLate = "late"
	// DeadlineOpen: not notified yet, time left.
	DeadlineOpen = "open"
	// DeadlineMissed: not notified, its notify-by time has passed.
	DeadlineMissed = "missed"
	// DeadlineNone: no obligation gives it a time (none applies, or the
	// incident has no aware_at).
	DeadlineNone = "none"
)

// OrganizationDeadline is one affected organization on an incident's
// deadline board.
type OrganizationDeadline struct {
	OrganizationID    int64  `json:"organization_id"`
	OrgRef            string `json:"org_ref"`
	OrgName           string `json:"org_name"`
	Jurisdiction      string `json:"jurisdiction"`
	NotifyWithinHours *int   `json:"notify_within_hours"`
	// NotifyBy is the earliest deadline among Obligations, set by
	// Obligation (its id).
	NotifyBy    *time.Time      `json:"notify_by"`
	Obligation  string          `json:"obligation"`
	Obligations []ObligationDue `json:"obligations"`
	// NotifiedAt is when its first delivery was sent, in wave WaveID.
	NotifiedAt *time.Time `json:"notified_at"`
	WaveID     *int64     `json:"wave_id"`
	State      string     `json:"state"`
	// SecondsLeft until NotifyBy while not notified (negative once missed).
	SecondsLeft *int64 `json:"seconds_left"`
}

// DeadlineParty is what the store knows of an affected organization for
// the board: who it is and when it was first sent a notice.
type DeadlineParty struct {
	OrganizationID    int64
	OrgRef            string
	OrgName           string
	Jurisdiction      string
	NotifyWithinHours *int
	NotifiedAt        *time.Time
	WaveID            *int64
}

// DeadlineBoard is one page of an incident's deadline board, with the
// incident's own filings.
type DeadlineBoard struct {
	Incident string `json:"incident"`
	// ProfilesVersion is the obligation file's version the times were
	// computed with.
	ProfilesVersion string                 `json:"profiles_version"`
	Clock           IncidentClock          `json:"clock"`
	Filings         []ObligationDue        `json:"filings"`
	Now             time.Time              `json:"now"`
	Items           []OrganizationDeadline `json:"items"`
	NextCursor      string                 `json:"next_cursor"`
}

// DeadlineStore is the persistence of the deadline clocks.
type DeadlineStore interface {
	// UpdateClock replaces an incident's clock, audited.
	UpdateClock(ctx context.Context, by Actor, incidentID int64, c IncidentClock) (Incident, error)
	// DeadlineParties lists the organizations with exposure items in the
	// incident, by id.
	DeadlineParties(ctx context.Context, incidentID int64, p Page) ([]DeadlineParty, error)
}

func dues(list []deadlines.Due) []ObligationDue {
	out := make([]ObligationDue, 0, len(list))
	for _, d := range list {
		o := d.Obligation
		out = append(out, ObligationDue{ID: o.ID, Name: o.Name, OwedTo: o.OwedTo, Source: o.Source, Target: o.Target, DueAt: d.At})
	}
	return out
}

// organizationDeadline places one organization on the board at now.
func (s *Service) organizationDeadline(c IncidentClock, p DeadlineParty, now time.Time) OrganizationDeadline {
	party := deadlines.Party{Jurisdiction: p.Jurisdiction}
	if p.NotifyWithinHours != nil {
		party.NotifyWithinHours = *p.NotifyWithinHours
	}
	list := s.deadlines.ForOrganization(c.profileClock(), party)
	d := OrganizationDeadline{OrganizationID: p.OrganizationID, OrgRef: p.OrgRef, OrgName: p.OrgName, Jurisdiction: p.Jurisdiction,
		NotifyWithinHours: p.NotifyWithinHours, Obligations: dues(list), NotifiedAt: p.NotifiedAt, WaveID: p.WaveID, State: DeadlineNone}
	first, ok := deadlines.Earliest(list)
	if !ok {
		return d
	}
	d.NotifyBy, d.Obligation = first.At, first.Obligation.ID
	switch {
	case p.NotifiedAt != nil && !p.NotifiedAt.After(*first.At):
		d.State = DeadlineMet
	case p.NotifiedAt != nil:
		d.State = DeadlineLate
	default:
		left := int64(first.At.Sub(now) / time.Second)
		d.SecondsLeft = &left
		d.State = DeadlineOpen
		if left < 0 {
			d.State = DeadlineMissed
		}
	}
	return d
}

// UpdateClock replaces an incident's clock (admin, like its policy: an
// operator sets it when creating the incident): when the breach
// became known, the materiality determination, the obligations it is
// under and their targets.
func (s *Service) UpdateClock(ctx context.Context, by Actor, incident string, c IncidentClock) (Incident, error) {
	if err := requireRole(by, RoleAdmin); err != nil {
		return Incident{}, err
	}
	c = c.normalized()
	now, err := s.clock.Now(ctx)
	if err != nil {
		return Incident{}, err
	}
	if problems := c.validate(s.deadlines, now); len(problems) > 0 {
		return Incident{}, &Error{Code: CodeInvalid, Message: "the deadline clock is not valid", Details: problems}
	}
	inc, err := s.store.Incident(ctx, incident)
	if err != nil {
		return Incident{}, err
	}
	return s.store.UpdateClock(ctx, by, inc.ID, c)
}

// Deadlines returns a page of the incident's deadline board: per affected
// organization its notify-by time, the obligation that sets it, and the
// wave that met it or the time left; and the incident's own filings.
func (s *Service) Deadlines(ctx context.Context, by Actor, incident string, p Page) (DeadlineBoard, error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return DeadlineBoard{}, err
	}
	inc, err := s.store.Incident(ctx, incident)
	if err != nil {
		return DeadlineBoard{}, err
	}
	p = p.normalized()
	parties, err := s.store.DeadlineParties(ctx, inc.ID, p)
	if err != nil {
		return DeadlineBoard{}, err
	}
	now, err := s.clock.Now(ctx)
	if err != nil {
		return DeadlineBoard{}, err
	}
	page := pageOf(parties, p.Limit, func(d DeadlineParty) int64 { return d.OrganizationID })
	b := DeadlineBoard{Incident: inc.Slug, ProfilesVersion: s.deadlines.Version, Clock: inc.Clock, Now: now,
		Filings: dues(s.deadlines.ForIncident(inc.Clock.profileClock())), Items: []OrganizationDeadline{}, NextCursor: page.NextCursor}
	for _, party := range page.Items {
		b.Items = append(b.Items, s.organizationDeadline(inc.Clock, party, now))
	}
	return b, nil
}

// UnnotifiedGroup is a set of an incident's affected organizations no
// delivery was sent to yet that the obligations see alike.
type UnnotifiedGroup struct {
	Jurisdiction      string `json:"jurisdiction"`
	NotifyWithinHours *int   `json:"notify_within_hours"`
}

// IncidentDeadlineState is what the deadline metric needs of an incident
// whose clock runs: its clock, its organizations not notified yet
// (grouped) and the database's now.
type IncidentDeadlineState struct {
	Slug       string
	Clock      IncidentClock
	Unnotified []UnnotifiedGroup
	Now        time.Time
}

// SecondsRemaining gives, per obligation owed to organizations, the least
// time left (negative: overdue) over the incident's organizations not yet
// notified; obligations without a known deadline are left out.
func SecondsRemaining(p *deadlines.Profiles, s IncidentDeadlineState) map[string]float64 {
	out := map[string]float64{}
	for _, g := range s.Unnotified {
		party := deadlines.Party{Jurisdiction: g.Jurisdiction}
		if g.NotifyWithinHours != nil {
			party.NotifyWithinHours = *g.NotifyWithinHours
		}
		for _, d := range p.ForOrganization(s.Clock.profileClock(), party) {
			if d.At == nil {
				continue
			}
			left := d.At.Sub(s.Now).Seconds()
			if cur, ok := out[d.Obligation.ID]; !ok || left < cur {
				out[d.Obligation.ID] = left
			}
		}
	}
	return out
}

// deadlineBoard places every affected organization of inc on the board,
// by org_ref (one entry per organization: the report needs them all).
func (s *Service) deadlineBoard(ctx context.Context, inc Incident) (map[string]OrganizationDeadline, error) {
	board := map[string]OrganizationDeadline{}
	if inc.Clock.AwareAt == nil {
		return board, nil // no deadline runs
	}
	now, err := s.clock.Now(ctx)
	if err != nil {
		return nil, err
	}
	p := Page{Limit: PageLimitMax}
	for {
		parties, err := s.store.DeadlineParties(ctx, inc.ID, p)
		if err != nil {
			return nil, err
		}
		for _, party := range parties[:min(len(parties), p.Limit)] {
			board[party.OrgRef] = s.organizationDeadline(inc.Clock, party, now)
		}
		if len(parties) <= p.Limit {
			return board, nil
		}
		p.After = parties[p.Limit-1].OrganizationID
	}
}
