package notifier

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The end of stolen mail's life (issue 13): purging an incident's evidence
// by destroying its data key (crypto-shredding), on request, with a second
// admin's approval when the policy asks, or when its retention ran out;
// and dismissing the findings IR staff judge false positives.

// Bounds of Policy.EvidenceRetention (0 keeps the evidence until purged).
// The least is a day, well over the longest upload (hours), so an import
// is never purged under its own feet by the retention it just reset.
const (
	MinEvidenceRetention = 24 * time.Hour
	MaxEvidenceRetention = 10 * 365 * 24 * time.Hour
)

// StaleImportAfter is how long an import may stay "running" before the
// retention job takes it for dead (its process was killed, so nothing
// marked it failed) and counts the retention from when it started.
const StaleImportAfter = 7 * 24 * time.Hour

// Purge request statuses (EvidencePurgeRecord.Status).
const (
	PurgeRequested = "requested"
	PurgeCancelled = "cancelled"
	PurgeDone      = "done"
)

// Purge states of an incident's evidence (EvidencePurge.State).
const (
	// EvidenceKept: no purge asked for.
	EvidenceKept = "kept"
	// EvidencePurgeRequested: a request waits for a second admin.
	EvidencePurgeRequested = "requested"
	// EvidencePurging: the data key is destroyed (nothing can be read
	// any more) and deleting the ciphertext rows has not finished; running
	// the purge again, or the maintenance job, finishes it.
	EvidencePurging = "purging"
	// EvidencePurged: the key and the evidence are gone.
	EvidencePurged = "purged"
)

// EvidencePurge is where an incident's evidence stands in its lifecycle.
type EvidencePurge struct {
	IncidentID int64  `json:"incident_id"`
	Incident   string `json:"incident"`
	State      string `json:"state"`
	// NeedsApproval is the incident's policy purge_needs_approval.
	NeedsApproval bool `json:"needs_approval"`
	// Retention is the policy's evidence_retention (0: kept until purged).
	Retention Duration `json:"evidence_retention"`
	// ShreddedAt is when the data key was destroyed.
	ShreddedAt *time.Time `json:"shredded_at,omitempty"`
	// Messages and Blobs are the evidence rows left (stolen messages and
	// ciphertext segments).
	Messages int64 `json:"messages"`
	Blobs    int64 `json:"blobs"`
	// Last is the latest purge or request, if any.
	Last *EvidencePurgeRecord `json:"last,omitempty"`
}

// EvidencePurgeRecord is one purge, or one request for one: who asked,
// who decided and when.
type EvidencePurgeRecord struct {
	ID          int64      `json:"id"`
	Status      string     `json:"status"`
	Reason      string     `json:"reason"`
	RequestedBy string     `json:"requested_by"`
	RequestedAt time.Time  `json:"requested_at"`
	DecidedBy   string     `json:"decided_by,omitempty"`
	DecidedAt   *time.Time `json:"decided_at,omitempty"`
}

// PurgeRequest is the body of a purge or its approval or cancellation.
type PurgeRequest struct {
	// Reason is why, for the audit trail (optional).
	Reason string `json:"reason"`
}

// DismissRequest is the body of a finding's dismissal or restoration.
type DismissRequest struct {
	// Reason is why (required): it goes to the audit trail.
	Reason string `json:"reason"`
}

// PurgeParams are what StartEvidencePurge needs.
type PurgeParams struct {
	IncidentID int64
	By         Actor
	Reason     string
	// Approve carries out the waiting request; the approver must not be
	// its requester.
	Approve bool
	// Automatic is the retention job's purge: the retention the policy
	// set is the decision, so no request waits for an approval.
	Automatic bool
}

// RetentionCandidate is an incident that holds evidence, with what the
// retention rule needs to know about it.
type RetentionCandidate struct {
	IncidentID int64
	Slug       string
	Policy     Policy
	// LastEvidenceAt is when its last evidence import ended (or started,
	// for one still running), or its data key was made if no import ran.
	LastEvidenceAt time.Time
	// RunningSince is the start of its oldest import still running.
	RunningSince *time.Time
}

// RetentionDue reports whether c's evidence is past its retention at now:
// counted from the end of its last import, so evidence added later keeps
// the whole incident for another period, and never while an import runs
// (unless that import is StaleImportAfter old: its process died).
func (c RetentionCandidate) RetentionDue(now time.Time) bool {
	keep := time.Duration(c.Policy.EvidenceRetention)
	if keep <= 0 {
		return false
	}
	if c.RunningSince != nil && now.Sub(*c.RunningSince) < StaleImportAfter {
		return false
	}
	return !now.Before(c.LastEvidenceAt.Add(keep))
}

// EvidenceLifecycleStore is the persistence of purges and findings.
type EvidenceLifecycleStore interface {
	// EvidencePurgeState reads where the incident's evidence stands.
	EvidencePurgeState(ctx context.Context, incidentID int64) (EvidencePurge, error)
	// StartEvidencePurge, in one transaction under the incident's lock,
	// either records a request (the policy asks for a second admin and
	// p is not an approval) or destroys the incident's data key, which
	// makes the evidence unreadable from its commit on. An incident
	// purged before is left as it is (no error).
	StartEvidencePurge(ctx context.Context, p PurgeParams) (EvidencePurge, error)
	// CancelEvidencePurge cancels the waiting request.
	CancelEvidencePurge(ctx context.Context, by Actor, incidentID int64, reason string) (EvidencePurge, error)
	// FinishEvidencePurge deletes the evidence rows of an incident whose
	// key is destroyed, in batches, and returns how many it deleted.
	FinishEvidencePurge(ctx context.Context, by Actor, incidentID int64) (int64, error)
	// EvidenceRetentionCandidates lists the incidents that hold evidence
	// and are not purged.
	EvidenceRetentionCandidates(ctx context.Context) ([]RetentionCandidate, error)
	// UnfinishedPurges lists the incidents whose key is destroyed and
	// evidence rows remain (a purge interrupted midway).
	UnfinishedPurges(ctx context.Context) ([]int64, error)

	// EvidenceFindings lists an incident's findings in id order.
	EvidenceFindings(ctx context.Context, f FindingFilter, limit int) ([]Finding, error)
	// SetFindingDismissed dismisses (or, with dismiss false, restores) a
	// finding and recomputes the secret types of its message and of the
	// message's exposure items no notice holds yet.
	SetFindingDismissed(ctx context.Context, by Actor, incidentID int64, id FindingID, dismiss bool, reason string) (Finding, error)
}

// PurgeEvidence purges an incident's evidence (admin): under the policy's
// purge_needs_approval it only records a request, which a second admin
// approves with ApproveEvidencePurge; otherwise it destroys the data key
// and deletes the evidence. Run again after an interruption, it finishes
// the deletion.
func (s *Service) PurgeEvidence(ctx context.Context, by Actor, incident, reason string) (EvidencePurge, error) {
	return s.purge(ctx, by, incident, reason, false)
}

// ApproveEvidencePurge approves the waiting purge request of an incident
// (admin, not the requester's key) and carries it out.
func (s *Service) ApproveEvidencePurge(ctx context.Context, by Actor, incident, reason string) (EvidencePurge, error) {
	return s.purge(ctx, by, incident, reason, true)
}

func (s *Service) purge(ctx context.Context, by Actor, incident, reason string, approve bool) (EvidencePurge, error) {
	inc, err := s.purgeIncident(ctx, by, incident, reason)
	if err != nil {
		return EvidencePurge{}, err
	}
	st, err := s.store.StartEvidencePurge(ctx, PurgeParams{IncidentID: inc.ID, By: by, Reason: reason, Approve: approve})
	if err != nil || st.State == EvidencePurgeRequested {
		return st, err
	}
	return s.finishPurge(ctx, by, inc.ID)
}

// PurgeStepBudget is how long one call deletes evidence rows before it
// leaves the rest to the next (the maintenance job runs every minute): a
// purge of millions of messages outlasts an API request and a job's
// timeout, and its key is gone from the first step anyway.
const PurgeStepBudget = 30 * time.Second

// finishPurge deletes what is left of a shredded incident's evidence, for
// at most PurgeStepBudget: past it the state says purging, and the
// maintenance job carries on.
func (s *Service) finishPurge(ctx context.Context, by Actor, incidentID int64) (EvidencePurge, error) {
	if err := s.deleteForAWhile(ctx, by, incidentID); err != nil {
		return EvidencePurge{}, err
	}
	return s.store.EvidencePurgeState(ctx, incidentID)
}

// deleteForAWhile runs FinishEvidencePurge for at most PurgeStepBudget;
// running out of that budget is no error.
func (s *Service) deleteForAWhile(ctx context.Context, by Actor, incidentID int64) error {
	step, cancel := context.WithTimeout(ctx, PurgeStepBudget)
	defer cancel()
	n, err := s.store.FinishEvidencePurge(step, by, incidentID)
	if err != nil && step.Err() != nil && ctx.Err() == nil {
		s.logger.InfoContext(ctx, "evidence purge continues in the background", "incident_id", incidentID, "rows_deleted", n)
		return nil
	}
	return err
}

// CancelEvidencePurge cancels an incident's waiting purge request (admin:
// the requester or another).
func (s *Service) CancelEvidencePurge(ctx context.Context, by Actor, incident, reason string) (EvidencePurge, error) {
	inc, err := s.purgeIncident(ctx, by, incident, reason)
	if err != nil {
		return EvidencePurge{}, err
	}
	return s.store.CancelEvidencePurge(ctx, by, inc.ID, reason)
}

// purgeIncident checks what every purge action needs (an admin, a valid
// optional reason) and finds the incident.
func (s *Service) purgeIncident(ctx context.Context, by Actor, incident, reason string) (Incident, error) {
	if err := requireRole(by, RoleAdmin); err != nil {
		return Incident{}, err
	}
	if err := ValidateReason(reason, false); err != nil {
		return Incident{}, err
	}
	return s.store.Incident(ctx, incident)
}

// EvidencePurgeState tells where an incident's evidence stands: kept, a
// purge requested, purging or purged (viewer).
func (s *Service) EvidencePurgeState(ctx context.Context, by Actor, incident string) (EvidencePurge, error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return EvidencePurge{}, err
	}
	inc, err := s.store.Incident(ctx, incident)
	if err != nil {
		return EvidencePurge{}, err
	}
	return s.store.EvidencePurgeState(ctx, inc.ID)
}

// RetentionActor is who the retention job's purges are audited as.
var RetentionActor = Actor{Name: "breachnotify (evidence retention)"}

// RunEvidenceRetention purges the evidence of every incident past its
// retention (Policy.EvidenceRetention) and finishes every purge
// interrupted midway. It is the maintenance job's: several processes may
// run it at once, since a purge already started is left as it is, and
// deleting rows another process deletes too is harmless.
func (s *Service) RunEvidenceRetention(ctx context.Context) error {
	now, err := s.clock.Now(ctx)
	if err != nil {
		return err
	}
	list, err := s.store.EvidenceRetentionCandidates(ctx)
	if err != nil {
		return err
	}
	for _, c := range list {
		if !c.RetentionDue(now) {
			continue
		}
		reason := "evidence_retention " + time.Duration(c.Policy.EvidenceRetention).String() + " passed since " +
			c.LastEvidenceAt.UTC().Format(time.RFC3339)
		if _, err := s.store.StartEvidencePurge(ctx, PurgeParams{IncidentID: c.IncidentID, By: RetentionActor, Reason: reason, Automatic: true}); err != nil {
			return err
		}
		s.logger.InfoContext(ctx, "evidence retention: data key destroyed", "incident_id", c.IncidentID)
	}
	unfinished, err := s.store.UnfinishedPurges(ctx)
	if err != nil {
		return err
	}
	for _, id := range unfinished {
		if err := s.deleteForAWhile(ctx, RetentionActor, id); err != nil {
			return err
		}
	}
	return nil
}

// MaxReasonLength bounds a reason given for a dismissal or a purge.
const MaxReasonLength = 500

// ValidateReason checks a reason typed by IR staff: at most
// MaxReasonLength characters of valid UTF-8 on one line, without control
// characters (it is shown on terminals and in the audit trail); required
// says it may not be blank.
func ValidateReason(reason string, required bool) error {
	switch {
	case required && strings.TrimSpace(reason) == "":
		return Errorf(CodeInvalid, "a reason is required")
	case !utf8.ValidString(reason):
		return Errorf(CodeInvalid, "the reason is not valid UTF-8")
	case utf8.RuneCountInString(reason) > MaxReasonLength:
		return Errorf(CodeInvalid, "the reason is longer than %d characters", MaxReasonLength)
	case strings.ContainsFunc(reason, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }):
		return Errorf(CodeInvalid, "the reason may not hold control or invisible formatting characters (line breaks included)")
	}
	return nil
}

// FindingID names one finding: the hex SHA-256 of its message, a dash,
// and its number within the message ("3f2a…c9-0").
type FindingID struct {
	Message [32]byte
	Seq     int32
}

// String is the finding's id as the API and CLI show it.
func (id FindingID) String() string {
	return hex.EncodeToString(id.Message[:]) + "-" + strconv.FormatInt(int64(id.Seq), 10)
}

// maxFindingID bounds what ParseFindingID reads: 64 hex digits, a dash
// and a 32-bit number.
const maxFindingID = 64 + 1 + 10

// ParseFindingID reads a finding id as String writes it (the hex digits
// in either case).
func ParseFindingID(s string) (FindingID, error) {
	var id FindingID
	bad := Errorf(CodeBadRequest, "a finding id is the message's SHA-256 in hex, a dash and a number (as `evidence findings` lists them)")
	if len(s) > maxFindingID || len(s) < 66 || s[64] != '-' {
		return id, bad
	}
	if _, err := hex.Decode(id.Message[:], []byte(s[:64])); err != nil {
		return id, bad
	}
	num := s[65:]
	if num[0] < '0' || num[0] > '9' || (len(num) > 1 && num[0] == '0') {
		return id, bad
	}
	n, err := strconv.ParseInt(num, 10, 32)
	if err != nil {
		return id, bad
	}
	id.Seq = int32(n)
	return id, nil
}

// Finding is a secret found in a message of an incident, as IR staff
// review it: never the secret, only its masked form.
type Finding struct {
	ID string `json:"id"`
	// Message is the hex SHA-256 of the message; ItemRef the ref of its
	// exposure items (MSG-…).
	Message string `json:"message"`
	ItemRef string `json:"item_ref"`
	Type    string `json:"type"`
	RuleID  string `json:"rule_id"`
	Part    string `json:"part"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Masked  string `json:"masked"`
	// Live says the secret works until rotated (it makes the message's
	// organizations urgent).
	Live      bool              `json:"live"`
	Dismissed *FindingDismissal `json:"dismissed,omitempty"`
}

// FindingDismissal records who judged a finding a false positive, and why.
type FindingDismissal struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Reason string    `json:"reason"`
}

// FindingFilter narrows an incident's findings.
type FindingFilter struct {
	IncidentID int64
	// Type keeps one secret type; Dismissed and Live, when set, keep the
	// findings with that value.
	Type      string
	Dismissed *bool
	Live      *bool
	// After is where the previous page ended.
	After *FindingID
}

// EncodeFindingCursor makes the opaque cursor that continues a list of
// findings after id.
func EncodeFindingCursor(id FindingID) string {
	return base64.RawURLEncoding.EncodeToString([]byte("f1:" + id.String()))
}

// DecodeFindingCursor reads a cursor made by EncodeFindingCursor; "" is
// the first page (nil).
func DecodeFindingCursor(c string) (*FindingID, error) {
	if c == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), "f1:") {
		return nil, Errorf(CodeBadRequest, "the cursor is not one this list returned")
	}
	id, err := ParseFindingID(string(b[3:]))
	if err != nil {
		return nil, Errorf(CodeBadRequest, "the cursor is not one this list returned")
	}
	return &id, nil
}

// Findings lists one page of an incident's findings (operator: reviewing
// them is IR work, and their masked forms hint at the secrets).
func (s *Service) Findings(ctx context.Context, by Actor, incident string, f FindingFilter, limit int) (ListResult[Finding], error) {
	if err := requireRole(by, RoleOperator); err != nil {
		return ListResult[Finding]{}, err
	}
	inc, err := s.store.Incident(ctx, incident)
	if err != nil {
		return ListResult[Finding]{}, err
	}
	if limit <= 0 {
		limit = PageLimitDefault
	}
	limit = min(limit, PageLimitMax)
	f.IncidentID = inc.ID
	list, err := s.store.EvidenceFindings(ctx, f, limit+1)
	if err != nil {
		return ListResult[Finding]{}, err
	}
	res := ListResult[Finding]{Items: list}
	if res.Items == nil {
		res.Items = []Finding{}
	}
	if len(res.Items) > limit {
		res.Items = res.Items[:limit]
		last, err := ParseFindingID(res.Items[limit-1].ID)
		if err != nil {
			return res, err
		}
		res.NextCursor = EncodeFindingCursor(last)
	}
	return res, nil
}

// DismissFinding marks a finding a false positive (operator), with a
// reason: it stops counting for its message and for the message's
// exposure items no notice holds yet (their secret types, so the
// organizations' urgency and the notices still to come). Audited.
func (s *Service) DismissFinding(ctx context.Context, by Actor, incident, finding, reason string) (Finding, error) {
	return s.setDismissed(ctx, by, incident, finding, reason, true)
}

// UndismissFinding restores a dismissed finding (operator), with a reason.
func (s *Service) UndismissFinding(ctx context.Context, by Actor, incident, finding, reason string) (Finding, error) {
	return s.setDismissed(ctx, by, incident, finding, reason, false)
}

func (s *Service) setDismissed(ctx context.Context, by Actor, incident, finding, reason string, dismiss bool) (Finding, error) {
	if err := requireRole(by, RoleOperator); err != nil {
		return Finding{}, err
	}
	id, err := ParseFindingID(finding)
	if err != nil {
		return Finding{}, err
	}
	if err := ValidateReason(reason, true); err != nil {
		return Finding{}, err
	}
	inc, err := s.store.Incident(ctx, incident)
	if err != nil {
		return Finding{}, err
	}
	return s.store.SetFindingDismissed(ctx, by, inc.ID, id, dismiss, reason)
}
