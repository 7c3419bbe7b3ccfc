package notifier

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/breachnotify/breachnotify/templates"
)

// PlanParams are what planning a wave needs.
type PlanParams struct {
	IncidentID int64
	Kind       templates.Kind
	// UrgentOnly restricts the wave to urgent organizations (see
	// NotLiveSecretTypes).
	UrgentOnly bool
	// Content is the templates and sender a wave of Kind would be sent
	// with now (Renderer.Content).
	Content WaveContent
}

// LaunchParams are what launching a wave needs.
type LaunchParams struct {
	WaveID    int64
	ChunkSize int
	Idem      Idempotency
	// Content is the templates and sender the wave would be sent with now:
	// it must be the one planned, and the wave is pinned to it.
	Content WaveContent
}

// PlanWave records a planned wave and reports what launching it would do:
// the organizations, notices and deliveries, the organizations left out and
// why, and the first message rendered exactly as it would be sent.
func (s *Service) PlanWave(ctx context.Context, by Actor, incident string, kind templates.Kind) (WavePlan, error) {
	return s.PlanWaveWith(ctx, by, incident, kind, WaveOptions{})
}

// WaveOptions narrow whom a planned wave notifies.
type WaveOptions struct {
	// UrgentOnly keeps the organizations with a live secret among their
	// new items (urgent first: plan them, launch, then plan the rest).
	UrgentOnly bool `json:"urgent_only"`
}

// PlanWaveWith is PlanWave narrowed by opts.
func (s *Service) PlanWaveWith(ctx context.Context, by Actor, incident string, kind templates.Kind, opts WaveOptions) (WavePlan, error) {
	if err := requireRole(by, RoleOperator); err != nil {
		return WavePlan{}, err
	}
	if kind != templates.KindInitial && kind != templates.KindFollowUp {
		return WavePlan{}, &Error{Code: CodeInvalid, Message: "the wave is not valid",
			Details: []RowError{{Field: "kind", Message: `must be "initial" or "follow_up"`}}}
	}
	inc, err := s.store.Incident(ctx, incident)
	if err != nil {
		return WavePlan{}, err
	}
	plan, err := s.store.PlanWave(ctx, by, PlanParams{IncidentID: inc.ID, Kind: kind, UrgentOnly: opts.UrgentOnly, Content: s.content(kind)})
	if err != nil {
		return plan, err
	}
	plan.NeedsApproval = inc.Policy.RequireApproval
	if plan.Skipped == nil {
		plan.Skipped = []SkippedOrganization{}
	}
	if plan.SampleSource != nil && s.renderer != nil {
		msg, version, err := s.renderer.Message(*plan.SampleSource)
		if err != nil {
			// The plan stands; the sample shows why sending would fail.
			why := "(render failed: " + err.Error() + ")"
			if be := (*BlockedError)(nil); errors.As(err, &be) {
				why = "(not sendable: " + err.Error() + ")"
			}
			plan.Sample = &SampleMessage{To: plan.SampleSource.Recipient, Subject: why, TemplateVersion: version}
		} else {
			plan.Sample = &SampleMessage{To: msg.To.String(), Subject: msg.Subject, Text: msg.Text, HTML: msg.HTML, TemplateVersion: version}
		}
	}
	return plan, nil
}

// ApproveWave approves a planned wave. The approving key must not be the
// one that planned it.
func (s *Service) ApproveWave(ctx context.Context, by Actor, waveID int64) (Wave, error) {
	if err := requireRole(by, RoleOperator); err != nil {
		return Wave{}, err
	}
	return s.store.ApproveWave(ctx, by, waveID)
}

// content is the templates and sender a wave of kind would go out with
// from this process now.
func (s *Service) content(kind templates.Kind) WaveContent {
	if s.renderer == nil {
		return WaveContent{}
	}
	return s.renderer.Content(kind)
}

// launchContent is content for the wave about to launch (its kind read
// first); an unknown wave gets none, and the launch says it is unknown.
func (s *Service) launchContent(ctx context.Context, waveID int64) WaveContent {
	w, err := s.store.Wave(ctx, waveID)
	if err != nil {
		return WaveContent{}
	}
	return s.content(w.Kind)
}

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 255

// LaunchWave launches a planned (or approved) wave: notices, deliveries and
// jobs at once. idem.Key, when set, makes repeats replay the first reply.
func (s *Service) LaunchWave(ctx context.Context, by Actor, waveID int64, idem Idempotency) (Wave, error) {
	if err := requireRole(by, RoleOperator); err != nil {
		return Wave{}, err
	}
	if idem.Key != "" && (len(idem.Key) > maxIdempotencyKey || !utf8.ValidString(idem.Key) ||
		strings.ContainsFunc(idem.Key, func(r rune) bool { return r < 0x21 || r > 0x7e })) {
		return Wave{}, Errorf(CodeBadRequest, "Idempotency-Key must be 1 to %d printable ASCII characters without spaces", maxIdempotencyKey)
	}
	w, err := s.store.LaunchWave(ctx, by, LaunchParams{WaveID: waveID, ChunkSize: s.chunkSize, Idem: idem, Content: s.launchContent(ctx, waveID)})
	if err == nil {
		s.logger.InfoContext(ctx, "wave launched", "wave_id", w.ID, "status", w.Status, "key_id", by.KeyID)
	}
	return w, err
}

// PauseWave stops a running wave's new sends; sends in flight finish.
func (s *Service) PauseWave(ctx context.Context, by Actor, waveID int64) (Wave, error) {
	if err := requireRole(by, RoleOperator); err != nil {
		return Wave{}, err
	}
	return s.store.PauseWave(ctx, by, waveID)
}

// ResumeWave continues a paused wave. A wave the link firewall paused
// goes on with the template versions in use now: the ones it was launched
// with cannot be sent, and activating a clean version is the fix. Under the
// approval policy that new content would go out unapproved, so such a wave
// must be cancelled and planned again instead.
func (s *Service) ResumeWave(ctx context.Context, by Actor, waveID int64) (Wave, error) {
	if err := requireRole(by, RoleOperator); err != nil {
		return Wave{}, err
	}
	return s.store.ResumeWave(ctx, by, waveID, s.launchContent(ctx, waveID))
}

// CancelWave stops a wave for good; nothing already sent is touched.
func (s *Service) CancelWave(ctx context.Context, by Actor, waveID int64) (Wave, error) {
	if err := requireRole(by, RoleOperator); err != nil {
		return Wave{}, err
	}
	return s.store.CancelWave(ctx, by, waveID)
}

// Wave returns a wave with its delivery counts.
func (s *Service) Wave(ctx context.Context, by Actor, waveID int64) (Wave, error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return Wave{}, err
	}
	return s.store.Wave(ctx, waveID)
}

// Waves lists waves, newest first, optionally of one incident.
func (s *Service) Waves(ctx context.Context, by Actor, incident string, f WaveFilter, p Page) (ListResult[Wave], error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return ListResult[Wave]{}, err
	}
	if incident != "" {
		inc, err := s.store.Incident(ctx, incident)
		if err != nil {
			return ListResult[Wave]{}, err
		}
		f.IncidentID = inc.ID
	}
	p = p.normalized()
	list, err := s.store.Waves(ctx, f, p)
	return pageOf(list, p.Limit, func(w Wave) int64 { return w.ID }), err
}

// Notices lists notices, optionally of one incident.
func (s *Service) Notices(ctx context.Context, by Actor, incident string, f NoticeFilter, p Page) (ListResult[Notice], error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return ListResult[Notice]{}, err
	}
	if incident != "" {
		inc, err := s.store.Incident(ctx, incident)
		if err != nil {
			return ListResult[Notice]{}, err
		}
		f.IncidentID = inc.ID
	}
	p = p.normalized()
	list, err := s.store.Notices(ctx, f, p)
	return pageOf(list, p.Limit, func(n Notice) int64 { return n.ID }), err
}

// Notice returns a notice with its items and deliveries.
func (s *Service) Notice(ctx context.Context, by Actor, id int64) (NoticeDetail, error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return NoticeDetail{}, err
	}
	return s.store.Notice(ctx, id)
}

// Deliveries lists deliveries.
func (s *Service) Deliveries(ctx context.Context, by Actor, f DeliveryFilter, p Page) (ListResult[Delivery], error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return ListResult[Delivery]{}, err
	}
	p = p.normalized()
	list, err := s.store.Deliveries(ctx, f, p)
	return pageOf(list, p.Limit, func(d Delivery) int64 { return d.ID }), err
}

// Delivery returns a delivery with its event timeline.
func (s *Service) Delivery(ctx context.Context, by Actor, id int64) (DeliveryDetail, error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return DeliveryDetail{}, err
	}
	return s.store.Delivery(ctx, id)
}

// Report streams an incident's proof-of-notification rows to fn. The export
// itself is audited first: who took the proof, and when, is part of it.
func (s *Service) Report(ctx context.Context, by Actor, incident, format string, fn func(ReportRow) error) (Incident, error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return Incident{}, err
	}
	inc, err := s.store.Incident(ctx, incident)
	if err != nil {
		return inc, err
	}
	if err := s.store.Audit(ctx, by, "report.export", "incident", inc.Slug, map[string]any{"format": format}); err != nil {
		return inc, err
	}
	board, err := s.deadlineBoard(ctx, inc)
	if err != nil {
		return inc, err
	}
	return inc, s.store.Report(ctx, inc.ID, func(row ReportRow) error {
		if d, ok := board[row.OrgRef]; ok && d.NotifyBy != nil {
			row.NotifyBy, row.DeadlineObligation = d.NotifyBy, d.Obligation
			switch d.State {
			case DeadlineMet, DeadlineLate, DeadlineMissed:
				met := d.State == DeadlineMet
				row.DeadlineMet = &met
			}
		}
		return fn(row)
	})
}
