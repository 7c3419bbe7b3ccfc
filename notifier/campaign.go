package notifier

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/breachnotify/breachnotify/templates"
)

// Clock tells the time on the database's clock, so that every process, and
// every row they write, agree on it. Tests move it forward.
type Clock interface {
	Now(ctx context.Context) (time.Time, error)
}

// CampaignStore is the persistence of follow-ups and reminders.
type CampaignStore interface {
	// CreateFollowUp writes a follow-up wave for one organization: one
	// notice covering exactly the items no notice covers yet, deliveries to
	// its active contacts and their jobs, and completes the job that asked
	// for it, all in one transaction. ErrNotYetSent when the organization's
	// earlier notice has not reached anyone yet.
	// When the incident's policy asks for approval of automatic
	// follow-ups, it plans an incident-wide follow-up wave instead, which
	// waits for its approval (FollowUp.Planned).
	CreateFollowUp(ctx context.Context, p FollowUpParams) (FollowUp, error)
	// IncidentsWithSilentNotices lists incidents with notices nobody
	// acknowledged.
	IncidentsWithSilentNotices(ctx context.Context) ([]Incident, error)
	// SendReminders writes the reminders and escalations due at now for one
	// incident's unacknowledged notices.
	SendReminders(ctx context.Context, p ReminderParams) (ReminderRun, error)
}

// FollowUpParams are what writing a follow-up needs.
type FollowUpParams struct {
	IncidentID     int64
	OrganizationID int64
	ChunkSize      int
	// Content is the templates and sender it goes out with (pinned).
	Content WaveContent
	// Complete completes the job that asked for it, in the same
	// transaction.
	Complete JobCompleter
}

// ReminderParams are what one incident's reminder pass needs.
type ReminderParams struct {
	Incident  Incident
	Now       time.Time
	ChunkSize int
	// Reminder and Escalation are the templates and sender the reminder
	// and escalation waves go out with (pinned like any wave's).
	Reminder, Escalation WaveContent
}

// FollowUpJob asks for a follow-up to one organization at RunAt.
type FollowUpJob struct {
	IncidentID     int64
	OrganizationID int64
	RunAt          time.Time
}

// ErrNotYetSent says a follow-up must wait: the earlier notice it would
// thread on has not been sent yet.
var ErrNotYetSent = errors.New("the earlier notice has not been sent yet")

// FollowUp is what a follow-up job wrote.
type FollowUp struct {
	WaveID int64 `json:"wave_id"`
	// Planned says the wave was only planned: the incident's policy asks
	// for an approval first.
	Planned    bool  `json:"planned"`
	NoticeID   int64 `json:"notice_id"`
	Items      int   `json:"items"`
	Deliveries int   `json:"deliveries"`
}

// ReminderRun counts what one reminder pass wrote.
type ReminderRun struct {
	Reminded  int `json:"reminded"`
	Escalated int `json:"escalated"`
}

// followUpRetry is how long a follow-up waits for its earlier notice.
const followUpRetry = 5 * time.Minute

// SendFollowUp is the follow-up job's use case: tell an organization about
// exactly the items no notice told it about yet, in reply to its earlier
// notice. The snooze error asks the queue to come back when the earlier
// notice has not been sent yet.
func (s *Service) SendFollowUp(ctx context.Context, incidentID, orgID int64, complete JobCompleter) (FollowUp, error) {
	f, err := s.store.CreateFollowUp(ctx, FollowUpParams{IncidentID: incidentID, OrganizationID: orgID, ChunkSize: s.chunkSize,
		Content: s.content(templates.KindFollowUp), Complete: complete})
	if errors.Is(err, ErrNotYetSent) {
		return f, &SnoozeError{After: followUpRetry, Reason: "earlier notice not sent yet"}
	}
	if err == nil && f.Planned {
		s.logger.InfoContext(ctx, "follow-up planned; it waits for an approval (the incident's policy)", "wave_id", f.WaveID,
			"incident_id", incidentID, "organization_id", orgID)
	}
	if err == nil && f.NoticeID != 0 {
		s.logger.InfoContext(ctx, "follow-up launched", "wave_id", f.WaveID, "notice_id", f.NoticeID,
			"incident_id", incidentID, "organization_id", orgID, "items", f.Items, "deliveries", f.Deliveries)
	}
	return f, err
}

// RunReminders sends every reminder and escalation due now (the periodic
// reminder job): an unacknowledged notice is reminded ReminderAfter after
// it was sent (and after each reminder), up to MaxReminders times, then
// escalated once to the organization's legal and executive contacts.
func (s *Service) RunReminders(ctx context.Context) (ReminderRun, error) {
	var total ReminderRun
	now, err := s.clock.Now(ctx)
	if err != nil {
		return total, fmt.Errorf("reminders: clock: %w", err)
	}
	incidents, err := s.store.IncidentsWithSilentNotices(ctx)
	if err != nil {
		return total, err
	}
	for _, inc := range incidents {
		run, err := s.store.SendReminders(ctx, ReminderParams{Incident: inc, Now: now, ChunkSize: s.chunkSize,
			Reminder: s.content(templates.KindReminder), Escalation: s.content(templates.KindEscalation)})
		if err != nil {
			return total, fmt.Errorf("reminders for incident %s: %w", inc.Slug, err)
		}
		if run.Reminded+run.Escalated > 0 {
			s.logger.InfoContext(ctx, "reminders sent", "incident_id", inc.ID, "reminded", run.Reminded, "escalated", run.Escalated)
		}
		total.Reminded += run.Reminded
		total.Escalated += run.Escalated
	}
	return total, nil
}
