package admin

import (
	"context"
	"html/template"
	"slices"
	"time"

	"github.com/breachnotify/breachnotify/notifier"
)

// atRiskWithin is how close a deadline must be for the banner to warn, the
// same 12 hours as the BreachnotifyDeadlineAtRisk alert.
const atRiskWithin = 12 * time.Hour

// deadlineRows bounds the organizations the incident page lists.
const deadlineRows = 50

// deadlineView is the incident page's deadline section: a banner for the
// organizations missed or at risk, counts, and those not notified yet,
// soonest deadline first.
type deadlineView struct {
	Missed, AtRisk, Open, Met, Late int
	Rows                            []notifier.OrganizationDeadline
	// Partial is true when the incident has more organizations than one
	// page of the board: the counts cover the first page only.
	Partial bool
	// Chart draws the time left of the first Rows.
	Chart template.HTML
}

// deadlines reads the first page of the incident's board; nil when its
// clock has not started.
func (s *Server) deadlines(ctx context.Context, by notifier.Actor, inc notifier.Incident) (*deadlineView, error) {
	if inc.Clock.AwareAt == nil {
		return nil, nil
	}
	board, err := s.svc.Deadlines(ctx, by, inc.Slug, notifier.Page{Limit: notifier.PageLimitMax})
	if err != nil {
		return nil, err
	}
	v := &deadlineView{Partial: board.NextCursor != ""}
	for _, d := range board.Items {
		switch d.State {
		case notifier.DeadlineMissed:
			v.Missed++
		case notifier.DeadlineOpen:
			v.Open++
			if time.Duration(*d.SecondsLeft)*time.Second < atRiskWithin {
				v.AtRisk++
			}
		case notifier.DeadlineMet:
			v.Met++
		case notifier.DeadlineLate:
			v.Late++
		default:
			continue
		}
		if d.State == notifier.DeadlineMissed || d.State == notifier.DeadlineOpen {
			v.Rows = append(v.Rows, d)
		}
	}
	slices.SortFunc(v.Rows, func(a, b notifier.OrganizationDeadline) int { return a.NotifyBy.Compare(*b.NotifyBy) })
	v.Rows = v.Rows[:min(len(v.Rows), deadlineRows)]
	v.Chart, err = deadlineChart(v.Rows, time.Now())
	return v, err
}
