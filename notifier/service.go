package notifier

import (
	"context"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/breachnotify/breachnotify/notifier/deadlines"
)

// Store is the persistence the IR use cases need. notifier/store implements
// it on PostgreSQL; every method that writes does so in one transaction,
// together with its audit entry.
type Store interface {
	CreateIncident(ctx context.Context, by Actor, in NewIncident) (Incident, error)
	// Incident finds an incident by numeric id or slug.
	Incident(ctx context.Context, idOrSlug string) (Incident, error)
	Incidents(ctx context.Context, p Page) ([]Incident, error)
	UpdatePolicy(ctx context.Context, by Actor, incidentID int64, patch PolicyPatch) (Incident, error)

	// ImportOrganizations upserts the organizations and contacts file
	// hands over, in constant memory, and commits only when file.Verdict
	// allows: the rows that contradict earlier ones (RowConflict) are given
	// to Verdict, which refuses the whole file listing them.
	ImportOrganizations(ctx context.Context, by Actor, file *OrganizationFile) (OrgImportResult, error)
	// CheckOrganizations reads file and makes the checks
	// ImportOrganizations makes, writing nothing; it returns how many
	// contact rows the import would take, or file.Verdict's refusal.
	CheckOrganizations(ctx context.Context, file *OrganizationFile) (int, error)
	Organizations(ctx context.Context, f OrganizationFilter, p Page) ([]Organization, error)
	Organization(ctx context.Context, idOrRef string) (Organization, error)
	Contacts(ctx context.Context, f ContactFilter, p Page) ([]Contact, error)
	Contact(ctx context.Context, id int64) (Contact, error)
	UpdateContact(ctx context.Context, by Actor, id int64, patch ContactPatch) (Contact, error)
	SetContactStatus(ctx context.Context, by Actor, id int64, status, reason string) (Contact, error)

	// ImportExposures stores a batch as file hands it over, in constant
	// memory, and commits only when file.Verdict allows: rows naming an
	// unknown org_ref, or an item_ref twice with different content, are
	// given to Verdict, which refuses the whole file listing them.
	ImportExposures(ctx context.Context, by Actor, incidentID int64, file *ExposureFile) (ExposureImportResult, error)
	Batches(ctx context.Context, incidentID int64, p Page) ([]Batch, error)
	Batch(ctx context.Context, id int64) (Batch, error)
	Items(ctx context.Context, f ItemFilter, p Page) ([]Item, error)

	// PlanWave records a planned wave with fingerprints of what it would
	// send (its data, and p.Content).
	PlanWave(ctx context.Context, by Actor, p PlanParams) (WavePlan, error)
	ApproveWave(ctx context.Context, by Actor, waveID int64) (Wave, error)
	// LaunchWave writes the wave's notices, deliveries and delivery jobs in
	// one transaction; launching a launched wave changes nothing. A planned
	// wave whose data or content changed since its plan is refused
	// (conflict); the wave is pinned to p.Content's template versions.
	LaunchWave(ctx context.Context, by Actor, p LaunchParams) (Wave, error)
	PauseWave(ctx context.Context, by Actor, waveID int64) (Wave, error)
	// ResumeWave continues a paused wave. One the link firewall paused is
	// pinned again to content's template versions (the ones it was pinned
	// to cannot be sent); under the approval policy that is refused, since
	// new content needs a new approval.
	ResumeWave(ctx context.Context, by Actor, waveID int64, content WaveContent) (Wave, error)
	CancelWave(ctx context.Context, by Actor, waveID int64) (Wave, error)
	Wave(ctx context.Context, waveID int64) (Wave, error)
	Waves(ctx context.Context, f WaveFilter, p Page) ([]Wave, error)

	Notices(ctx context.Context, f NoticeFilter, p Page) ([]Notice, error)
	Notice(ctx context.Context, id int64) (NoticeDetail, error)
	Deliveries(ctx context.Context, f DeliveryFilter, p Page) ([]Delivery, error)
	Delivery(ctx context.Context, id int64) (DeliveryDetail, error)
	// Report hands an incident's proof-of-notification rows to fn, which
	// may be as slow as the client it writes to: no database connection
	// may be held while it runs.
	Report(ctx context.Context, incidentID int64, fn func(ReportRow) error) error

	RecordBounce(ctx context.Context, by Actor, rec BounceRecord) (b Bounce, duplicate bool, err error)
	Bounces(ctx context.Context, kind BounceKind, p Page) ([]Bounce, error)
	UnreachableNotices(ctx context.Context, incidentID int64, p Page) ([]UnreachableNotice, error)
	OrganizationStates(ctx context.Context, incidentID int64, sample int) (OrgStates, error)
	ResendNotice(ctx context.Context, by Actor, noticeID int64, chunkSize int) (Resend, error)

	Audit(ctx context.Context, by Actor, action, targetType, targetID string, details any) error
	AuditEntries(ctx context.Context, f AuditFilter, p Page) ([]AuditEntry, error)
	// WalkAudit feeds the chain oldest first, from the entry with id
	// fromID on (0: from the genesis), to fn until it returns false.
	WalkAudit(ctx context.Context, fromID int64, fn func(AuditEntry) bool) error
	// LatestAuditCheckpoint is the newest stored checkpoint; found is false
	// when none was taken yet.
	LatestAuditCheckpoint(ctx context.Context) (cp AuditCheckpoint, found bool, err error)
	// AddAuditCheckpoint stores a checkpoint (insert-only).
	AddAuditCheckpoint(ctx context.Context, cp AuditCheckpoint, takenBy string) error

	CreateAPIKey(ctx context.Context, by Actor, name string, role Role, prefix string, secretHash []byte) (APIKey, error)
	// APIKeyByPrefix returns a key that is not revoked, with its secret hash.
	APIKeyByPrefix(ctx context.Context, prefix string) (APIKey, []byte, error)
	APIKeys(ctx context.Context) ([]APIKey, error)
	RevokeAPIKey(ctx context.Context, by Actor, id int64) (APIKey, error)

	CapturedMessages(ctx context.Context, limit int, beforeID int64) ([]CapturedMessage, error)
	CapturedMessage(ctx context.Context, id int64) (CapturedMessage, error)

	AckStore
	CampaignStore
	TemplateStore
	Clock
	PortalStore
	PortalMailStore
	StaffStore
	EvidenceLifecycleStore
	DeadlineStore
	ChartStore
}

// Service runs the IR team's use cases: everything the API and CLI do.
// Each checks the caller's role itself, whatever the transport checked.
type Service struct {
	store     Store
	renderer  *Renderer
	clock     Clock
	chunkSize int
	logger    *slog.Logger
	auditKeys *AuditKeys
	deadlines *deadlines.Profiles
	imports   ImportLimits
	bounces   BounceCounter
}

// ServiceConfig configures a Service.
type ServiceConfig struct {
	// ChunkSize is the number of deliveries per delivery job at launch.
	ChunkSize int
	// Renderer renders the sample message of a wave plan.
	Renderer *Renderer
	// Clock is the time for scheduling (the store's database clock when nil).
	Clock  Clock
	Logger *slog.Logger
	// AuditKeys verify the audit chain and sign its checkpoints; the store
	// keys the entries with the same keys. Required.
	AuditKeys *AuditKeys
	// Deadlines are the obligation profiles deadlines are computed with
	// (the embedded ones when nil).
	Deadlines *deadlines.Profiles
	// ImportLimits bound each import file (defaults when zero).
	ImportLimits ImportLimits
	// Bounces counts the bounces taken in (nil counts nothing).
	Bounces BounceCounter
}

// NewService returns a Service over store.
func NewService(store Store, cfg ServiceConfig) *Service {
	if cfg.ChunkSize <= 0 {
		cfg.ChunkSize = 100
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = store
	}
	if cfg.Renderer != nil {
		// A running wave renders with the template versions it was
		// launched with; one this process lacks is read from the store.
		cfg.Renderer.SetLoader(store.TemplateSource)
	}
	if cfg.Deadlines == nil {
		cfg.Deadlines = deadlines.MustBuiltin()
	}
	if cfg.Bounces == nil {
		cfg.Bounces = uncountedBounces{}
	}
	return &Service{store: store, renderer: cfg.Renderer, clock: cfg.Clock, chunkSize: cfg.ChunkSize, logger: cfg.Logger, auditKeys: cfg.AuditKeys,
		deadlines: cfg.Deadlines, imports: cfg.ImportLimits.withDefaults(), bounces: cfg.Bounces}
}

var slugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// CreateIncident validates and stores a new incident.
func (s *Service) CreateIncident(ctx context.Context, by Actor, in NewIncident) (Incident, error) {
	if err := requireRole(by, RoleOperator); err != nil {
		return Incident{}, err
	}
	in.Slug = strings.TrimSpace(in.Slug)
	in.Title = strings.TrimSpace(in.Title)
	in.Summary = strings.TrimSpace(in.Summary)
	var problems []RowError
	switch {
	case !slugPattern.MatchString(in.Slug):
		problems = append(problems, RowError{Field: "slug", Message: "must be 1-63 lowercase letters, digits and hyphens, starting with a letter or digit"})
	case strings.Trim(in.Slug, "0123456789") == "":
		// {incident} in a path is an id or a slug: "12" must mean one thing.
		problems = append(problems, RowError{Field: "slug", Message: "must not be only digits (it would read as an incident id)"})
	}
	if in.Title == "" || utf8.RuneCountInString(in.Title) > 200 || strings.IndexFunc(in.Title, forbiddenRune) >= 0 {
		problems = append(problems, RowError{Field: "title", Message: "is required, one line, at most 200 characters"})
	}
	if utf8.RuneCountInString(in.Summary) > 4000 || !utf8.ValidString(in.Summary) || strings.ContainsFunc(in.Summary, func(r rune) bool { return r != '\n' && forbiddenRune(r) }) {
		problems = append(problems, RowError{Field: "summary", Message: "must be at most 4000 characters of text (line breaks allowed)"})
	}
	if in.Clock != nil {
		c := in.Clock.normalized()
		in.Clock = &c
		now, err := s.clock.Now(ctx)
		if err != nil {
			return Incident{}, err
		}
		problems = append(problems, c.validate(s.deadlines, now)...)
	}
	if len(problems) > 0 {
		return Incident{}, &Error{Code: CodeInvalid, Message: "the incident is not valid", Details: problems}
	}
	return s.store.CreateIncident(ctx, by, in)
}

// Incident returns an incident by id or slug.
func (s *Service) Incident(ctx context.Context, by Actor, idOrSlug string) (Incident, error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return Incident{}, err
	}
	return s.store.Incident(ctx, idOrSlug)
}

// Incidents lists incidents, newest first.
func (s *Service) Incidents(ctx context.Context, by Actor, p Page) (ListResult[Incident], error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return ListResult[Incident]{}, err
	}
	p = p.normalized()
	list, err := s.store.Incidents(ctx, p)
	return pageOf(list, p.Limit, func(i Incident) int64 { return i.ID }), err
}

// UpdatePolicy changes an incident's policy (admin only).
func (s *Service) UpdatePolicy(ctx context.Context, by Actor, incident string, patch PolicyPatch) (Incident, error) {
	if err := requireRole(by, RoleAdmin); err != nil {
		return Incident{}, err
	}
	if problems := patch.Validate(); len(problems) > 0 {
		return Incident{}, &Error{Code: CodeInvalid, Message: "the policy is not valid", Details: problems}
	}
	inc, err := s.store.Incident(ctx, incident)
	if err != nil {
		return Incident{}, err
	}
	return s.store.UpdatePolicy(ctx, by, inc.ID, patch)
}

// ImportOrganizations parses and upserts organizations and their contacts,
// all or nothing, streaming the file.
func (s *Service) ImportOrganizations(ctx context.Context, by Actor, r io.Reader, format Format) (OrgImportResult, error) {
	if err := requireRole(by, RoleOperator); err != nil {
		return OrgImportResult{}, err
	}
	file, err := NewOrganizationFile(r, format, s.imports)
	if err != nil {
		return OrgImportResult{}, err
	}
	return s.store.ImportOrganizations(ctx, by, file)
}

// ImportExposures parses and stores an exposure batch for an incident, all
// or nothing. Items already known for the incident and organization count as
// duplicates and are not stored twice.
func (s *Service) ImportExposures(ctx context.Context, by Actor, incident string, r io.Reader, format Format) (ExposureImportResult, error) {
	if err := requireRole(by, RoleOperator); err != nil {
		return ExposureImportResult{}, err
	}
	inc, err := s.store.Incident(ctx, incident)
	if err != nil {
		return ExposureImportResult{}, err
	}
	file, err := NewExposureFile(r, format, s.imports)
	if err != nil {
		return ExposureImportResult{}, err
	}
	return s.store.ImportExposures(ctx, by, inc.ID, file)
}

// Batches lists an incident's exposure batches.
func (s *Service) Batches(ctx context.Context, by Actor, incident string, p Page) (ListResult[Batch], error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return ListResult[Batch]{}, err
	}
	inc, err := s.store.Incident(ctx, incident)
	if err != nil {
		return ListResult[Batch]{}, err
	}
	p = p.normalized()
	list, err := s.store.Batches(ctx, inc.ID, p)
	return pageOf(list, p.Limit, func(b Batch) int64 { return b.ID }), err
}

// Batch returns one exposure batch.
func (s *Service) Batch(ctx context.Context, by Actor, id int64) (Batch, error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return Batch{}, err
	}
	return s.store.Batch(ctx, id)
}

// Items lists an incident's exposure items.
func (s *Service) Items(ctx context.Context, by Actor, incident string, f ItemFilter, p Page) (ListResult[Item], error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return ListResult[Item]{}, err
	}
	inc, err := s.store.Incident(ctx, incident)
	if err != nil {
		return ListResult[Item]{}, err
	}
	f.IncidentID = inc.ID
	p = p.normalized()
	list, err := s.store.Items(ctx, f, p)
	return pageOf(list, p.Limit, func(i Item) int64 { return i.ID }), err
}

// CapturedMessages lists the embedded mailbox, newest first. Every
// message in it carries live acknowledgement and sign-in links, so only
// admins may list it, and each list is audited (mailbox.list) before it
// is returned.
func (s *Service) CapturedMessages(ctx context.Context, by Actor, p Page) (ListResult[CapturedMessage], error) {
	if err := requireRole(by, RoleAdmin); err != nil {
		return ListResult[CapturedMessage]{}, err
	}
	p = p.normalized()
	list, err := s.store.CapturedMessages(ctx, p.Limit+1, p.After)
	if err != nil {
		return ListResult[CapturedMessage]{}, err
	}
	page := pageOf(list, p.Limit, func(m CapturedMessage) int64 { return m.ID })
	details := map[string]any{"limit": p.Limit, "messages": len(page.Items)}
	if p.After != 0 {
		details["before_id"] = p.After
	}
	if err := s.store.Audit(ctx, by, "mailbox.list", "mailbox", "", details); err != nil {
		return ListResult[CapturedMessage]{}, err
	}
	return page, nil
}

// CapturedMessage returns one captured message with its raw bytes, for
// admins only; the read is audited (mailbox.read, with the message's id)
// before the message is returned.
func (s *Service) CapturedMessage(ctx context.Context, by Actor, id int64) (CapturedMessage, error) {
	if err := requireRole(by, RoleAdmin); err != nil {
		return CapturedMessage{}, err
	}
	m, err := s.store.CapturedMessage(ctx, id)
	if err != nil {
		return CapturedMessage{}, err
	}
	if err := s.store.Audit(ctx, by, "mailbox.read", "mailbox_message", strconv.FormatInt(m.ID, 10), nil); err != nil {
		return CapturedMessage{}, err
	}
	return m, nil
}

// normalized applies the default and maximum page sizes.
func (p Page) normalized() Page {
	if p.Limit <= 0 {
		p.Limit = PageLimitDefault
	}
	p.Limit = min(p.Limit, PageLimitMax)
	return p
}

func requireRole(by Actor, need Role) error {
	if by.KeyID == 0 && by.Role == "" {
		return Errorf(CodeUnauthorized, "an API key is required")
	}
	if !by.Role.Allows(need) {
		return Errorf(CodeForbidden, "this needs the %s role; the key %q is %s", need, by.Name, by.Role)
	}
	return nil
}
