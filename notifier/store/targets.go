package store

import (
	"context"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/templates"
)

// Who a wave notifies depends on its kind. The queries below use named
// arguments (pgx.NamedArgs): @incident, @org to restrict them to one
// organization (0 for all), and @urgent to keep only urgent organizations
// (absent means false). They select the organizations with items no
// notice covers yet and an active contact:
//   - initial: not notified yet (no initial notice; a void one does not count);
//   - follow_up: already told (a notice of theirs was sent).
var (
	uncoveredOrgItems = `
SELECT DISTINCT i.organization_id AS id
FROM exposure_items i
WHERE i.incident_id = @incident AND (@org::bigint = 0 OR i.organization_id = @org::bigint)
  AND NOT EXISTS (SELECT 1 FROM notice_items ni WHERE ni.item_id = i.id)
  AND EXISTS (SELECT 1 FROM contacts c WHERE c.organization_id = i.organization_id AND c.status = 'active' AND ` + isRecipient + `)
  AND (NOT coalesce(@urgent::bool, false) OR ` + orgIs(isUrgent, "i.organization_id") + `)`

	// isUrgent: an item of the organization that no notice covers yet has
	// a live secret (one outside notifier.NotLiveSecretTypes).
	isUrgent = `EXISTS (SELECT 1 FROM exposure_items u WHERE u.incident_id = @incident AND u.organization_id = ORG
	   AND u.secret_types <> '{}' AND NOT (u.secret_types <@ ARRAY[` + sqlList(notifier.NotLiveSecretTypes) + `]::text[])
	   AND NOT EXISTS (SELECT 1 FROM notice_items ni WHERE ni.item_id = u.id))`

	hasInitialNotice = `EXISTS (SELECT 1 FROM notices n WHERE n.incident_id = @incident AND n.organization_id = ORG
	   AND n.kind = ` + sqlString(templates.KindInitial) + ` AND n.voided_at IS NULL)`

	// wasTold: a notice to the organization reached someone.
	wasTold = `EXISTS (SELECT 1 FROM notices n JOIN deliveries d ON d.notice_id = n.id
	   WHERE n.incident_id = @incident AND n.organization_id = ORG AND n.parent_id IS NULL AND n.voided_at IS NULL
	     AND d.status IN (` + wentOutStatuses + `))`
)

// targetsQuery selects the organizations a wave of kind notifies.
func targetsQuery(kind templates.Kind) string {
	if kind == templates.KindFollowUp {
		return uncoveredOrgItems + "\n  AND " + orgIs(wasTold, "i.organization_id")
	}
	return uncoveredOrgItems + "\n  AND NOT " + orgIs(hasInitialNotice, "i.organization_id")
}

// urgentTargets counts the urgent organizations among a wave's targets.
func urgentTargets(kind templates.Kind) string {
	return `SELECT count(*) FROM (` + targetsQuery(kind) + `) AS t WHERE ` + orgIs(isUrgent, "t.id")
}

// targetsDigest fingerprints the data of what a wave of kind would send
// now: the incident's title and summary, its target organizations with
// their names, their active contacts with everything a message to them
// depends on (address, name, role, locale, portal access), and the items
// it would cover with what a message shows of them. A planned wave
// launches only while the fingerprint is the one it was planned with (the
// templates and the sender are compared separately, see WaveContent).
func targetsDigest(kind templates.Kind) string {
	return `
WITH t AS (` + targetsQuery(kind) + `)
SELECT encode(sha256(convert_to(coalesce(string_agg(x, E'\x1f' ORDER BY x), ''), 'UTF8')), 'hex') FROM (
  SELECT 'n' || inc.id || ':' || inc.title || ':' || inc.summary AS x FROM incidents inc WHERE inc.id = @incident
  UNION ALL
  SELECT 'o' || t.id || ':' || o.name FROM t JOIN organizations o ON o.id = t.id
  UNION ALL
  SELECT 'c' || c.id || ':' || lower(c.email) || ':' || c.name || ':' || c.role || ':' || c.locale || ':' || c.portal_access
  FROM contacts c JOIN t ON t.id = c.organization_id WHERE c.status = 'active' AND ` + isRecipient + `
  UNION ALL
  SELECT 'i' || i.id || ':' || i.item_ref || ':' || i.kind || ':' || i.subject || ':' || coalesce(i.occurred_at::text, '') || ':' ||
         array_to_string(i.secret_types, ';')
  FROM exposure_items i JOIN t ON t.id = i.organization_id
  WHERE i.incident_id = @incident AND NOT EXISTS (SELECT 1 FROM notice_items ni WHERE ni.item_id = i.id)
) AS s`
}

// skippedQuery lists the organizations with items in the incident that a
// wave of kind leaves out, with the reason.
func skippedQuery(kind templates.Kind) string {
	reasons := `
    WHEN ` + orgIs(hasInitialNotice, "o.id") + ` THEN '` + notifier.SkipAlreadyNotified + `'`
	if kind == templates.KindFollowUp {
		reasons = `
    WHEN NOT ` + orgIs(hasInitialNotice, "o.id") + ` THEN '` + notifier.SkipNeverNotified + `'
    WHEN NOT ` + orgIs(wasTold, "o.id") + ` THEN '` + notifier.SkipNotSentYet + `'`
	}
	return `
SELECT o.ref, o.name, r.reason
FROM (SELECT DISTINCT organization_id AS id FROM exposure_items WHERE incident_id = @incident) AS orgs
JOIN organizations o ON o.id = orgs.id
CROSS JOIN LATERAL (SELECT CASE` + reasons + `
    WHEN NOT EXISTS (SELECT 1 FROM contacts c WHERE c.organization_id = o.id AND c.status = 'active' AND ` + isRecipient + `) THEN '` + notifier.SkipNoActiveContact + `'
    WHEN NOT EXISTS (SELECT 1 FROM exposure_items i WHERE i.incident_id = @incident AND i.organization_id = o.id
                       AND NOT EXISTS (SELECT 1 FROM notice_items ni WHERE ni.item_id = i.id)) THEN '` + notifier.SkipNothingNew + `'
    WHEN coalesce(@urgent::bool, false) AND NOT ` + orgIs(isUrgent, "o.id") + ` THEN '` + notifier.SkipNotUrgent + `'
  END AS reason) AS r
WHERE r.reason IS NOT NULL
ORDER BY o.ref`
}

// orgIs puts the organization column into a condition (constants only).
func orgIs(cond, col string) string {
	out := ""
	for i := 0; i < len(cond); i++ {
		if i+3 <= len(cond) && cond[i:i+3] == "ORG" {
			out += col
			i += 2
			continue
		}
		out += string(cond[i])
	}
	return out
}

// launchNotices writes the notices of @wave for its targets.
func launchNotices(kind templates.Kind) string {
	return `
INSERT INTO notices (wave_id, incident_id, organization_id, kind, org_name, incident_title, incident_summary, disclosure)
SELECT @wave, @incident, t.id, @kind, o.name, inc.title, inc.summary, @disclosure
FROM (` + targetsQuery(kind) + `) AS t
JOIN organizations o ON o.id = t.id
JOIN incidents inc ON inc.id = @incident
ORDER BY t.id`
}

// PlanWave records a planned wave with the counts it would send now, the
// organizations it leaves out, and the first target's first contact (the
// sample message is rendered from it).
func (s *Store) PlanWave(ctx context.Context, by notifier.Actor, params notifier.PlanParams) (notifier.WavePlan, error) {
	var p notifier.WavePlan
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		p, err = s.plan(ctx, tx, by, params, false)
		return err
	})
	return p, wrap("plan wave", err)
}

// plan writes a planned wave with its fingerprints (see PlanWave);
// automatic marks one the service planned itself.
func (s *Store) plan(ctx context.Context, tx pgx.Tx, by notifier.Actor, params notifier.PlanParams, automatic bool) (notifier.WavePlan, error) {
	incidentID, kind := params.IncidentID, params.Kind
	insert := `
WITH targets AS (` + targetsQuery(kind) + `)
INSERT INTO waves (incident_id, kind, planned_notices, planned_deliveries, planned_by, planned_digest, planned_content, automatic, urgent_only)
SELECT @incident, @kind,
       (SELECT count(*) FROM targets),
       (SELECT count(*) FROM contacts c WHERE c.status = 'active' AND ` + isRecipient + ` AND c.organization_id IN (SELECT id FROM targets)),
       @planned_by, @digest, @content, @automatic, @urgent
RETURNING id, incident_id, kind, status, planned_notices, planned_deliveries, urgent_only`
	var p notifier.WavePlan
	err := func() error {
		// The plan records the disclosure it was made under, and its sample
		// shows it: a launch under another refuses (WaveContent.Diff).
		var policy []byte
		if err := tx.QueryRow(ctx, `SELECT policy FROM incidents WHERE id = $1`, incidentID).Scan(&policy); err != nil {
			return notFound(err, "no incident %d", incidentID)
		}
		var inc notifier.Incident
		if err := unmarshalPolicy(policy, &inc); err != nil {
			return err
		}
		params.Content.Disclosure = inc.Policy.Disclosure.OrFull()
		args := pgx.NamedArgs{"incident": incidentID, "kind": kind, "org": 0, "planned_by": nullableKey(by),
			"content": params.Content, "automatic": automatic, "urgent": params.UrgentOnly}
		var digest string
		if err := tx.QueryRow(ctx, targetsDigest(kind), args).Scan(&digest); err != nil {
			return err
		}
		args["digest"] = digest
		if err := tx.QueryRow(ctx, insert, args).
			Scan(&p.ID, &p.IncidentID, &p.Kind, &p.Status, &p.Notices, &p.Deliveries, &p.UrgentOnly); err != nil {
			return err
		}
		p.Organizations = p.Notices
		if err := tx.QueryRow(ctx, urgentTargets(kind), args).Scan(&p.Urgent); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, skippedQuery(kind), pgx.NamedArgs{"incident": incidentID, "urgent": params.UrgentOnly})
		if err != nil {
			return err
		}
		if p.Skipped, err = pgx.CollectRows(rows, pgx.RowToStructByPos[notifier.SkippedOrganization]); err != nil {
			return err
		}
		if p.SampleSource, err = previewDelivery(ctx, tx, incidentID, kind, params.UrgentOnly); err != nil {
			return err
		}
		if p.SampleSource != nil {
			p.SampleSource.Notice.Disclosure = params.Content.Disclosure
		}
		p.Disclosure = params.Content.Disclosure
		return s.appendAudit(ctx, tx, by, auditEvent{"wave.plan", "wave", strconv.FormatInt(p.ID, 10),
			map[string]any{"incident_id": incidentID, "kind": kind, "notices": p.Notices, "deliveries": p.Deliveries,
				"templates": params.Content.Templates, "automatic": automatic, "urgent_only": params.UrgentOnly,
				"disclosure": params.Content.Disclosure}})
	}()
	return p, err
}

// previewDelivery builds the delivery the first target's first active
// contact would get (security contacts first), or nil when there is none.
func previewDelivery(ctx context.Context, tx pgx.Tx, incidentID int64, kind templates.Kind, urgent bool) (*notifier.OutgoingDelivery, error) {
	q := `
SELECT o.id, c.email, c.name, c.role, c.locale, c.portal_access
FROM (` + targetsQuery(kind) + `) AS t
JOIN organizations o ON o.id = t.id
JOIN LATERAL (SELECT * FROM contacts c WHERE c.organization_id = o.id AND c.status = 'active' AND ` + isRecipient + `
              ORDER BY (c.role = 'security') DESC, c.id LIMIT 1) AS c ON true
ORDER BY o.ref LIMIT 1`
	d := &notifier.OutgoingDelivery{MessageID: "preview@breachnotify.invalid", Reference: "BN-0000-0000-PREV-IEW0"}
	var orgID int64
	err := tx.QueryRow(ctx, q, pgx.NamedArgs{"incident": incidentID, "org": 0, "urgent": urgent}).Scan(&orgID, &d.Recipient, &d.ContactName, &d.ContactRole, &d.ContactLocale, &d.PortalAccess)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	d.Notice = &notifier.NoticeContent{}
	err = tx.QueryRow(ctx, previewContent, incidentID, templatesItemsShown, orgID).Scan(noticeContentDest(d.Notice)...)
	d.Notice.Kind = kind
	d.AckToken = "example-token-shown-in-previews-only-000000"
	return d, err
}
