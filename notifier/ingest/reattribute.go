package ingest

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/evidence"
)

// ReattributeStore is what the unattributed report and re-attribution
// read and write, beside an import's methods (part of Store).
type ReattributeStore interface {
	UnattributedEvidence(ctx context.Context, incidentID int64, after notifier.DomainCursor, limit int) (int64, []notifier.UnattributedDomain, error)
	BeginEvidenceReattribution(ctx context.Context, by notifier.Actor, incidentID int64) (notifier.EvidenceImport, error)
	EvidenceParticipants(ctx context.Context, incidentID int64, after []byte, limit int) ([]notifier.StoredParticipants, error)
	ReattributeEvidence(ctx context.Context, runID, incidentID int64, g notifier.ReattributionGroup) error
}

// Unattributed reports the incident's messages that expose no known
// organization and one page of their participants' domains, the most
// frequent first (viewer role). Each domain says whether it is a free-mail
// provider's (only a known contact there attributes) and whether an
// organization owns it now (a re-attribution would attribute it).
func (im *Importer) Unattributed(ctx context.Context, by notifier.Actor, incidentID int64, page notifier.Page, cursor string) (notifier.UnattributedReport, error) {
	if err := notifier.RequireRole(by, notifier.RoleViewer); err != nil {
		return notifier.UnattributedReport{}, err
	}
	st := im.cfg.Store
	after, err := notifier.DecodeDomainCursor(cursor)
	if err != nil {
		return notifier.UnattributedReport{}, err
	}
	limit := page.Limit
	if limit <= 0 {
		limit = notifier.PageLimitDefault
	}
	limit = min(limit, notifier.PageLimitMax)
	dir, err := im.directory(ctx)
	if err != nil {
		return notifier.UnattributedReport{}, err
	}
	total, domains, err := st.UnattributedEvidence(ctx, incidentID, after, limit+1)
	if err != nil {
		return notifier.UnattributedReport{}, err
	}
	rep := notifier.UnattributedReport{Messages: total, Domains: domains}
	if len(domains) > limit {
		rep.Domains = domains[:limit]
		last := rep.Domains[limit-1]
		rep.NextCursor = notifier.DomainCursor{Messages: last.Messages, Domain: last.Domain}.Encode()
	}
	if rep.Domains == nil {
		rep.Domains = []notifier.UnattributedDomain{}
	}
	for i := range rep.Domains {
		d := &rep.Domains[i]
		d.FreeMail = im.cfg.FreeMail.IsFreeMail(d.Domain)
		if !d.FreeMail {
			_, d.Attributable = evidence.MatchDomain(dir, d.Domain)
		}
	}
	return rep, nil
}

// Reattribute attributes every stored message of the incident again,
// from the participants its import stored, against the organizations'
// domains and contacts as they are now (operator role): an organization
// added since, or a domain or contact added to one, gains the messages it
// is in, the unattributed ones and those already attributed to another
// organization alike. Nothing is decrypted. Pages of GroupSize messages
// are read in key order and committed as they go (memory stays flat);
// the run then closes like an import, with one exposure batch of the new
// attributions, so organizations already notified get a follow-up and
// new ones await their initial notice. Attributions a message had are
// kept; a second run with nothing changed adds nothing. An interrupted
// run leaves its attributions pending: the next run (or import)
// itemizes them.
func (im *Importer) Reattribute(ctx context.Context, by notifier.Actor, incidentID int64) (notifier.EvidenceImport, error) {
	if err := notifier.RequireRole(by, notifier.RoleOperator); err != nil {
		return notifier.EvidenceImport{}, err
	}
	st := im.cfg.Store
	dir, err := im.directory(ctx)
	if err != nil {
		return notifier.EvidenceImport{}, err
	}
	run, err := st.BeginEvidenceReattribution(ctx, by, incidentID)
	if err != nil {
		return run, err
	}
	log := im.cfg.Logger.With("import_id", run.ID, "incident_id", incidentID)
	log.InfoContext(ctx, "evidence re-attribution started")
	var after []byte
	for {
		page, err := st.EvidenceParticipants(ctx, incidentID, after, im.cfg.GroupSize)
		if err != nil {
			return im.fail(ctx, log, run, err)
		}
		if len(page) == 0 {
			break
		}
		g, err := reattributePage(page, dir, im.cfg.FreeMail)
		if err != nil {
			return im.fail(ctx, log, run, err)
		}
		if err := st.ReattributeEvidence(ctx, run.ID, incidentID, g); err != nil {
			return im.fail(ctx, log, run, err)
		}
		after = page[len(page)-1].SHA256
		if err := ctx.Err(); err != nil {
			return im.fail(ctx, log, run, err)
		}
	}
	done, err := im.cfg.Store.FinishEvidenceImport(ctx, by, run.ID, "")
	if err != nil {
		return im.fail(ctx, log, run, err)
	}
	log.InfoContext(ctx, "evidence re-attribution done", "messages", done.Messages, "attributed", done.Attributed,
		"unattributed", done.Unattributed)
	return done, nil
}

// reattributePage attributes each message of a page from its stored
// participants, with the rules of an import (exposures).
func reattributePage(page []notifier.StoredParticipants, dir evidence.Directory, free *evidence.FreeMail) (notifier.ReattributionGroup, error) {
	g := notifier.ReattributionGroup{Messages: int64(len(page))}
	for _, m := range page {
		var msg evidence.Message
		if err := json.Unmarshal(m.Participants, &msg.Participants); err != nil {
			return g, fmt.Errorf("the participants of message %x: %w", m.SHA256, err)
		}
		exps := exposures(msg, dir, free)
		if len(exps) == 0 && m.Unattributed {
			g.StillUnattributed++
		}
		for _, e := range exps {
			g.Exposures = append(g.Exposures, notifier.MessageExposure{SHA256: m.SHA256, EvidenceExposure: e})
		}
	}
	return g, nil
}
