package store

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/templates"
)

// system is the actor of what the service does on its own schedule.
var system = notifier.Actor{Name: "breachnotify (scheduled)"}

// lockFollowUp serialises, per incident and organization, the import that
// schedules a follow-up and the follow-up job that covers the items: the
// job covers whatever an import committed before it, and an import that
// commits after the job started schedules a new one (see ImportExposures).
func lockFollowUp(ctx context.Context, tx pgx.Tx, incidentID, orgID int64) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('follow-up:' || $1::bigint::text || ':' || $2::bigint::text, 0))`, incidentID, orgID)
	return err
}

// scheduleFollowUps runs inside an exposure import: for each organization
// the batch added items to, it schedules a follow-up when the organization
// has been notified (and the policy allows), and otherwise reports it as
// awaiting an initial notice.
func (s *Store) scheduleFollowUps(ctx context.Context, tx pgx.Tx, incidentID, batchID int64, res *notifier.ExposureImportResult) error {
	// The window counts from the database's clock, which River's
	// scheduled_at is compared with, not this host's.
	var policyJSON []byte
	var now time.Time
	if err := tx.QueryRow(ctx, `SELECT policy, now() FROM incidents WHERE id = $1`, incidentID).Scan(&policyJSON, &now); err != nil {
		return err
	}
	inc := notifier.Incident{}
	if err := unmarshalPolicy(policyJSON, &inc); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `
SELECT o.id, o.ref,
       EXISTS (SELECT 1 FROM notices n WHERE n.incident_id = $1 AND n.organization_id = o.id
                 AND n.parent_id IS NULL AND n.voided_at IS NULL)
FROM organizations o
WHERE o.id IN (SELECT organization_id FROM exposure_items WHERE batch_id = $2)
ORDER BY o.ref`, incidentID, batchID)
	if err != nil {
		return err
	}
	type org struct {
		id       int64
		ref      string
		notified bool
	}
	var orgs []org
	var o org
	if _, err := pgx.ForEachRow(rows, []any{&o.id, &o.ref, &o.notified}, func() error {
		orgs = append(orgs, o)
		return nil
	}); err != nil {
		return err
	}
	res.FollowUps, res.AwaitingInitial = []string{}, []string{}
	var jobs []notifier.FollowUpJob
	runAt := now.Add(time.Duration(inc.Policy.FollowUpWindow))
	for _, o := range orgs {
		switch {
		case !o.notified:
			res.AwaitingInitial = append(res.AwaitingInitial, o.ref)
		case inc.Policy.AutoFollowUp:
			if err := lockFollowUp(ctx, tx, incidentID, o.id); err != nil {
				return err
			}
			jobs = append(jobs, notifier.FollowUpJob{IncidentID: incidentID, OrganizationID: o.id, RunAt: runAt})
			res.FollowUps = append(res.FollowUps, o.ref)
		}
	}
	return s.jobs.EnqueueFollowUpsTx(ctx, tx, jobs)
}

// CreateFollowUp implements notifier.CampaignStore.
func (s *Store) CreateFollowUp(ctx context.Context, p notifier.FollowUpParams) (notifier.FollowUp, error) {
	incidentID, orgID, complete := p.IncidentID, p.OrganizationID, p.Complete
	var f notifier.FollowUp
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// The incident lock keeps a launch from choosing the same items.
		// It comes before the follow-up lock: an import holds the incident
		// row key-share locked (its batch row refers to it) when it takes
		// the follow-up lock, so the other order deadlocks with it.
		var pol notifier.Policy
		if err := tx.QueryRow(ctx, `SELECT policy FROM incidents WHERE id = $1 FOR UPDATE`, incidentID).Scan(&pol); err != nil {
			return err
		}
		if err := lockFollowUp(ctx, tx, incidentID, orgID); err != nil {
			return err
		}
		var notified, told, pending bool
		if err := tx.QueryRow(ctx, `SELECT `+orgIs(hasInitialNotice, "@org::bigint")+`, `+orgIs(wasTold, "@org::bigint")+`,
			EXISTS (`+targetsQuery(templates.KindFollowUp)+`)`, pgx.NamedArgs{"incident": incidentID, "org": orgID}).
			Scan(&notified, &told, &pending); err != nil {
			return err
		}
		switch {
		case notified && !told:
			return notifier.ErrNotYetSent
		case !pending:
			// Nothing to say (covered by a manual follow-up wave, or never
			// notified: the next initial wave takes it).
			return complete(ctx, tx)
		case pol.FollowUpsNeedApproval():
			// A waiting plan still current keeps its place only under the
			// same disclosure (WaveContent.Diff).
			p.Content.Disclosure = pol.Disclosure.OrFull()
			var err error
			if f.WaveID, err = s.planAutomaticFollowUp(ctx, tx, p); err != nil {
				return err
			}
			f.Planned = true
			return complete(ctx, tx)
		}
		var waveID int64
		if err := tx.QueryRow(ctx, `INSERT INTO waves (incident_id, kind, status, launched_at) VALUES ($1, `+sqlString(templates.KindFollowUp)+`, 'running', now()) RETURNING id`,
			incidentID).Scan(&waveID); err != nil {
			return err
		}
		if err := pinTemplates(ctx, tx, waveID, p.Content); err != nil {
			return err
		}
		queued, err := s.writeNotices(ctx, tx, incidentID, waveID, templates.KindFollowUp, targets{org: orgID, disclosure: pol.Disclosure}, p.ChunkSize, 0) // one organization's contacts: SQL draws their keys
		if err != nil {
			return err
		}
		f.WaveID, f.Deliveries = waveID, queued
		if err := tx.QueryRow(ctx, `SELECT n.id, (SELECT count(*) FROM notice_items ni WHERE ni.notice_id = n.id)
			FROM notices n WHERE n.wave_id = $1`, waveID).Scan(&f.NoticeID, &f.Items); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE waves SET planned_notices = 1, planned_deliveries = $2,
			status = CASE WHEN $2 = 0 THEN 'completed' ELSE 'running' END,
			completed_at = CASE WHEN $2 = 0 THEN now() END WHERE id = $1`, waveID, queued); err != nil {
			return err
		}
		if err := s.appendAudit(ctx, tx, system, auditEvent{"follow_up.launch", "wave", strconv.FormatInt(waveID, 10),
			map[string]any{"incident_id": incidentID, "organization_id": orgID, "notice_id": f.NoticeID, "items": f.Items}}); err != nil {
			return err
		}
		return complete(ctx, tx)
	})
	return f, wrap("follow-up", err)
}

// planAutomaticFollowUp plans, as the service, a follow-up wave for every
// organization of the incident with news to tell, to wait for an approval
// like any wave. An automatic plan still waiting and still current is
// kept; one made stale by this batch is superseded (cancelled) by the new
// plan, so there is one to approve. It returns the plan's wave id.
func (s *Store) planAutomaticFollowUp(ctx context.Context, tx pgx.Tx, p notifier.FollowUpParams) (int64, error) {
	var digest string
	if err := tx.QueryRow(ctx, targetsDigest(templates.KindFollowUp), pgx.NamedArgs{"incident": p.IncidentID, "org": 0}).Scan(&digest); err != nil {
		return 0, err
	}
	rows, err := tx.Query(ctx, `SELECT id, planned_digest, planned_content FROM waves
		WHERE incident_id = $1 AND kind = `+sqlString(templates.KindFollowUp)+` AND automatic AND status = 'planned' ORDER BY id FOR UPDATE`, p.IncidentID)
	if err != nil {
		return 0, err
	}
	type waiting struct {
		ID      int64
		Digest  *string
		Content *notifier.WaveContent
	}
	plans, err := pgx.CollectRows(rows, pgx.RowToStructByPos[waiting])
	if err != nil {
		return 0, err
	}
	var superseded []int64
	for _, w := range plans {
		if w.Digest != nil && *w.Digest == digest && w.Content != nil && w.Content.Diff(p.Content) == "" {
			return w.ID, nil // already planned, waiting for its approval
		}
		superseded = append(superseded, w.ID)
	}
	plan, err := s.plan(ctx, tx, system, notifier.PlanParams{IncidentID: p.IncidentID, Kind: templates.KindFollowUp, Content: p.Content}, true)
	if err != nil {
		return 0, err
	}
	for _, id := range superseded {
		if _, err := tx.Exec(ctx, `UPDATE waves SET status = 'cancelled', cancelled_at = now() WHERE id = $1`, id); err != nil {
			return 0, err
		}
		if err := s.appendAudit(ctx, tx, system, auditEvent{"wave.supersede", "wave", strconv.FormatInt(id, 10),
			map[string]any{"superseded_by": plan.ID, "reason": "a new exposure batch changed what the follow-up would say"}}); err != nil {
			return 0, err
		}
	}
	return plan.ID, nil
}

// IncidentsWithSilentNotices implements notifier.CampaignStore.
func (s *Store) IncidentsWithSilentNotices(ctx context.Context) ([]notifier.Incident, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+incidentColumns+` FROM incidents i WHERE EXISTS (
		SELECT 1 FROM notices n WHERE n.incident_id = i.id AND n.acknowledged_at IS NULL AND n.parent_id IS NULL AND n.voided_at IS NULL)
		ORDER BY id`)
	if err != nil {
		return nil, wrap("incidents with silent notices", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notifier.Incident, error) { return scanIncident(r) })
	return list, wrap("incidents with silent notices", err)
}

// dueNotices selects an incident's unacknowledged notices whose next step
// is due: a reminder (fewer than @max so far) or the escalation (all
// reminders sent, none escalated), @after since the notice was first sent
// or last reminded, on the clock @now.
const dueNotices = `
SELECT n.id
FROM notices n
CROSS JOIN LATERAL (SELECT min(d.sent_at) AS first_sent FROM deliveries d WHERE d.notice_id = n.id) AS f
WHERE n.incident_id = @incident AND n.parent_id IS NULL AND n.voided_at IS NULL AND n.acknowledged_at IS NULL
  AND f.first_sent IS NOT NULL
  AND coalesce(n.last_reminded_at, f.first_sent) <= @now::timestamptz - make_interval(secs => @after)
  AND CASE WHEN @escalate THEN n.reminders_sent >= @max AND n.escalated_at IS NULL
           ELSE n.reminders_sent < @max END
ORDER BY n.id`

// SendReminders implements notifier.CampaignStore: one wave of reminders
// and one of escalations per pass, each notice chasing its parent, written
// with their deliveries and jobs in one transaction.
func (s *Store) SendReminders(ctx context.Context, p notifier.ReminderParams) (notifier.ReminderRun, error) {
	inc, now := p.Incident, p.Now
	var run notifier.ReminderRun
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// The audit entries are written last: the audit chain's lock is
		// held until commit, and an acknowledgement holds its notice's row
		// while it waits for that lock, so taking the lock before the
		// escalation pass updates notices could deadlock with one.
		var audits []auditEvent
		// One pass per incident at a time, whichever process runs it.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('reminders:' || $1::bigint::text, 0))`, inc.ID); err != nil {
			return err
		}
		for _, kind := range notifier.ChaseKinds {
			args := pgx.NamedArgs{"incident": inc.ID, "now": now, "after": time.Duration(inc.Policy.ReminderAfter).Seconds(),
				"max": inc.Policy.MaxReminders, "escalate": kind == templates.KindEscalation}
			rows, err := tx.Query(ctx, dueNotices, args)
			if err != nil {
				return err
			}
			due, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil || len(due) == 0 {
				if err != nil {
					return err
				}
				continue
			}
			content := p.Reminder
			if kind == templates.KindEscalation {
				content = p.Escalation
			}
			audit, err := s.writeChase(ctx, tx, chase{incidentID: inc.ID, kind: kind, due: due, now: now, chunkSize: p.ChunkSize, content: content})
			if err != nil {
				return err
			}
			audits = append(audits, audit)
			if kind == templates.KindReminder {
				run.Reminded = len(due)
			} else {
				run.Escalated = len(due)
			}
		}
		for _, a := range audits {
			if err := s.appendAudit(ctx, tx, system, a); err != nil {
				return err
			}
		}
		return nil
	})
	return run, wrap("reminders", err)
}

// chase is one reminder or escalation wave to write.
type chase struct {
	incidentID int64
	kind       templates.Kind
	due        []int64
	now        time.Time
	chunkSize  int
	content    notifier.WaveContent
}

// writeChase writes a reminder or escalation wave for the due notices and
// returns its audit entry, for the caller to write.
func (s *Store) writeChase(ctx context.Context, tx pgx.Tx, c chase) (auditEvent, error) {
	incidentID, kind, due, now := c.incidentID, c.kind, c.due, c.now
	var waveID int64
	if err := tx.QueryRow(ctx, `INSERT INTO waves (incident_id, kind, status, launched_at, planned_notices) VALUES ($1, $2, 'running', now(), $3) RETURNING id`,
		incidentID, kind, len(due)).Scan(&waveID); err != nil {
		return auditEvent{}, err
	}
	if err := pinTemplates(ctx, tx, waveID, c.content); err != nil {
		return auditEvent{}, err
	}
	// A reminder or escalation tells what the notice it chases told.
	if _, err := tx.Exec(ctx, `INSERT INTO notices (wave_id, incident_id, organization_id, kind, parent_id, org_name, incident_title, incident_summary, disclosure)
		SELECT $1, p.incident_id, p.organization_id, $2, p.id, coalesce(p.org_name, o.name), coalesce(p.incident_title, inc.title),
		       coalesce(p.incident_summary, inc.summary), p.disclosure
		FROM notices p JOIN organizations o ON o.id = p.organization_id JOIN incidents inc ON inc.id = p.incident_id
		WHERE p.id = ANY($3) ORDER BY p.id`, waveID, kind, due); err != nil {
		return auditEvent{}, err
	}
	queued, err := s.writeDeliveries(ctx, tx, waveID, kind, c.chunkSize, 0) // a few due notices: SQL draws their keys
	if err != nil {
		return auditEvent{}, err
	}
	update := `UPDATE notices SET reminders_sent = reminders_sent + 1, last_reminded_at = $2 WHERE id = ANY($1)`
	if kind == templates.KindEscalation {
		update = `UPDATE notices SET escalated_at = $2 WHERE id = ANY($1)`
	}
	if _, err := tx.Exec(ctx, update, due, now); err != nil {
		return auditEvent{}, err
	}
	if _, err := tx.Exec(ctx, `UPDATE waves SET planned_deliveries = $2,
		status = CASE WHEN $2 = 0 THEN 'completed' ELSE 'running' END,
		completed_at = CASE WHEN $2 = 0 THEN now() END WHERE id = $1`, waveID, queued); err != nil {
		return auditEvent{}, err
	}
	return auditEvent{string(kind) + ".launch", "wave", strconv.FormatInt(waveID, 10),
		map[string]any{"incident_id": incidentID, "notices": due, "deliveries": queued}}, nil
}
