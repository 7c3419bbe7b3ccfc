package notifier

import "context"

// OrgStateSample bounds the organizations named per state: the console shows
// a short list and the counts; the full lists are the API's (notices,
// unreachable notices) or the deadline board.
const OrgStateSample = 20

// OrgState is how many of an incident's affected organizations are in one
// state, with the first OrgStateSample of them (refs, in ref order).
type OrgState struct {
	Count int      `json:"count"`
	First []string `json:"first"`
}

// OrgStates are an incident's affected organizations (those with exposure
// items) by state. The states overlap: an urgent organization may be
// awaiting its initial notice, a notified one may be unreachable by a
// later notice.
type OrgStates struct {
	// Notified: a notice to the organization reached someone.
	Notified OrgState `json:"notified"`
	// Acknowledged: someone acknowledged a notice.
	Acknowledged OrgState `json:"acknowledged"`
	// Unreachable: a notice of theirs reached nobody and nothing is pending.
	Unreachable OrgState `json:"unreachable"`
	// AwaitingInitial: no initial notice yet (a void one does not count).
	AwaitingInitial OrgState `json:"awaiting_initial"`
	// Urgent: an item no notice covers yet holds a live secret.
	Urgent OrgState `json:"urgent"`
}

// OrganizationStates counts an incident's organizations by state for the
// console's incident page.
func (s *Service) OrganizationStates(ctx context.Context, by Actor, incident string) (OrgStates, error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return OrgStates{}, err
	}
	inc, err := s.store.Incident(ctx, incident)
	if err != nil {
		return OrgStates{}, err
	}
	return s.store.OrganizationStates(ctx, inc.ID, OrgStateSample)
}
