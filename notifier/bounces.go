package notifier

import (
	"context"
	"slices"
	"strconv"
	"strings"
)

// BounceJSON is the simple JSON form of a bounce report, for relays that
// already parse DSNs: status is an enhanced status code such as 5.1.1.
type BounceJSON struct {
	MessageID  string `json:"message_id"`
	Recipient  string `json:"recipient"`
	Status     string `json:"status"`
	Diagnostic string `json:"diagnostic"`
}

// RecordDSN records an RFC 3464 report (a whole message, or its
// multipart/report body with contentType). A report that cannot be parsed
// is kept as unknown and changes nothing.
func (s *Service) RecordDSN(ctx context.Context, by Actor, raw []byte, contentType string) ([]Bounce, error) {
	results, err := s.RecordReport(ctx, by, BounceReport{Source: SourceDSN, Raw: raw, ContentType: contentType})
	out := make([]Bounce, 0, len(results))
	for _, r := range results {
		out = append(out, r.Bounce)
	}
	return out, err
}

// RecordReport records a bounce message as it arrived (a DSN or a feedback
// report), through the same path whatever brought it: the API, the CLI or
// the polled bounce mailbox. A message that cannot be parsed is kept as
// unknown and changes nothing. With a Key, the same message taken in again
// is not recorded twice (its results say Duplicate).
func (s *Service) RecordReport(ctx context.Context, by Actor, in BounceReport) ([]BounceResult, error) {
	if err := requireRole(by, RoleOperator); err != nil {
		return nil, err
	}
	notices, err := ParseDSN(in.Raw, in.ContentType)
	if err != nil {
		s.logger.WarnContext(ctx, "bounce report not understood; kept as unknown", "source", in.Source, "error", err)
		notices = []BounceNotice{{Kind: BounceUnknown, Diagnostic: "not understood: " + err.Error()}}
	}
	records := make([]BounceRecord, len(notices))
	for i, n := range notices {
		records[i] = BounceRecord{Notice: n, Source: in.Source, Raw: in.Raw, Key: noticeKey(in.Key, i, len(notices))}
	}
	return s.recordBounces(ctx, by, records)
}

// RecordProviderBounces records the bounces a sending provider's webhook
// reported, each under the provider's own event id, so a retried webhook
// records nothing twice.
func (s *Service) RecordProviderBounces(ctx context.Context, by Actor, records []BounceRecord) ([]BounceResult, error) {
	if err := requireRole(by, RoleOperator); err != nil {
		return nil, err
	}
	return s.recordBounces(ctx, by, records)
}

func (s *Service) recordBounces(ctx context.Context, by Actor, records []BounceRecord) ([]BounceResult, error) {
	out := make([]BounceResult, 0, len(records))
	for _, rec := range records {
		b, dup, err := s.store.RecordBounce(ctx, by, rec)
		if err != nil {
			return out, err
		}
		r := BounceResult{Bounce: b, Source: rec.Source, Duplicate: dup}
		s.bounces.BounceIngested(rec.Source, r.Outcome())
		out = append(out, r)
	}
	return out, nil
}

// CountRejectedBounce counts a webhook request from source that was refused
// before anything was recorded (a bad signature, an unreadable body).
func (s *Service) CountRejectedBounce(source BounceSource) {
	s.bounces.BounceIngested(source, OutcomeRejected)
}

// noticeKey keys the i-th of n notices of one report: a report naming two
// recipients is two bounces, each recorded once.
func noticeKey(key string, i, n int) string {
	if key == "" || n == 1 {
		return key
	}
	return key + "#" + strconv.Itoa(i+1)
}

// RecordBounceJSON records a bounce given in the simple JSON form.
func (s *Service) RecordBounceJSON(ctx context.Context, by Actor, in BounceJSON) (Bounce, error) {
	if err := requireRole(by, RoleOperator); err != nil {
		return Bounce{}, err
	}
	n := BounceNotice{
		MessageID:  strings.Trim(strings.TrimSpace(in.MessageID), "<>"),
		Recipient:  strings.TrimSpace(in.Recipient),
		Status:     strings.TrimSpace(in.Status),
		Diagnostic: oneLineText(in.Diagnostic, 1000),
	}
	var problems []RowError
	if n.MessageID == "" || len(n.MessageID) > 998 || strings.ContainsFunc(n.MessageID, forbiddenRune) {
		problems = append(problems, RowError{Field: "message_id", Message: "is required: the Message-ID of the notice that bounced"})
	}
	if n.Recipient != "" {
		if n.Recipient = addressField(n.Recipient); n.Recipient == "" {
			problems = append(problems, RowError{Field: "recipient", Message: "is not an email address"})
		}
	}
	if n.Kind = BounceKindFromStatus(n.Status); n.Kind == BounceUnknown {
		problems = append(problems, RowError{Field: "status", Message: "must be an enhanced status code such as 5.1.1 or 4.2.2"})
	}
	if len(problems) > 0 {
		return Bounce{}, &Error{Code: CodeInvalid, Message: "the bounce is not valid", Details: problems}
	}
	n.Action = map[BounceKind]string{BouncePermanent: "failed", BounceDelayed: "delayed", BounceDelivered: "delivered"}[n.Kind]
	b, _, err := s.store.RecordBounce(ctx, by, BounceRecord{Notice: n, Source: SourceJSON})
	return b, err
}

// Bounces lists recorded bounce reports, newest first.
func (s *Service) Bounces(ctx context.Context, by Actor, kind BounceKind, p Page) (ListResult[Bounce], error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return ListResult[Bounce]{}, err
	}
	if kind != "" && !slices.Contains([]BounceKind{BouncePermanent, BounceDelayed, BounceDelivered, BounceComplaint, BounceUnknown}, kind) {
		return ListResult[Bounce]{}, Errorf(CodeBadRequest, "kind must be permanent, delayed, delivered, complaint or unknown")
	}
	p = p.normalized()
	list, err := s.store.Bounces(ctx, kind, p)
	return pageOf(list, p.Limit, func(b Bounce) int64 { return b.ID }), err
}

// UnreachableNotices lists an incident's notices that reached nobody, with
// each contact's last word, so IR staff can add a contact and re-send.
func (s *Service) UnreachableNotices(ctx context.Context, by Actor, incident string, p Page) (ListResult[UnreachableNotice], error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return ListResult[UnreachableNotice]{}, err
	}
	inc, err := s.store.Incident(ctx, incident)
	if err != nil {
		return ListResult[UnreachableNotice]{}, err
	}
	p = p.normalized()
	list, err := s.store.UnreachableNotices(ctx, inc.ID, p)
	return pageOf(list, p.Limit, func(u UnreachableNotice) int64 { return u.NoticeID }), err
}

// ResendNotice sends a notice again to the contacts it has not reached.
func (s *Service) ResendNotice(ctx context.Context, by Actor, noticeID int64) (Resend, error) {
	if err := requireRole(by, RoleOperator); err != nil {
		return Resend{}, err
	}
	return s.store.ResendNotice(ctx, by, noticeID, s.chunkSize)
}
