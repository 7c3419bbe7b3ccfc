package notifier

import (
	"context"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Store is the persistence the IR use cases need. notifier/store implements
// it on PostgreSQL; every method that writes does so in one transaction.
type Store interface {
	CreateIncident(ctx context.Context, by Actor, in NewIncident) (Incident, error)
	// Incident finds an incident by numeric id or slug.
	Incident(ctx context.Context, idOrSlug string) (Incident, error)
	ImportOrganizations(ctx context.Context, by Actor, rows []ContactRow) (OrgImportResult, error)
	// ImportExposures stores a batch; rows naming an unknown org_ref are
	// refused as a whole with an *Error listing them.
	ImportExposures(ctx context.Context, by Actor, incidentID int64, rows []ExposureRow) (ExposureImportResult, error)
	PlanWave(ctx context.Context, by Actor, incidentID int64, kind WaveKind) (WavePlan, error)
	// LaunchWave writes the wave's notices, deliveries and delivery jobs in
	// one transaction; launching a launched wave changes nothing.
	LaunchWave(ctx context.Context, by Actor, waveID int64, chunkSize int) (Wave, error)
	Wave(ctx context.Context, waveID int64) (Wave, error)

	CreateAPIKey(ctx context.Context, name string, role Role, prefix string, secretHash []byte) (APIKey, error)
	// APIKeyByPrefix returns a key that is not revoked, with its secret hash.
	APIKeyByPrefix(ctx context.Context, prefix string) (APIKey, []byte, error)

	CapturedMessages(ctx context.Context, limit int, beforeID int64) ([]CapturedMessage, error)
	CapturedMessage(ctx context.Context, id int64) (CapturedMessage, error)
}

// Service runs the IR team's use cases: everything the API and CLI do.
type Service struct {
	store     Store
	chunkSize int
	logger    *slog.Logger
}

// ServiceConfig configures a Service.
type ServiceConfig struct {
	// ChunkSize is the number of deliveries per delivery job at launch.
	ChunkSize int
	Logger    *slog.Logger
}

// NewService returns a Service over store.
func NewService(store Store, cfg ServiceConfig) *Service {
	if cfg.ChunkSize <= 0 {
		cfg.ChunkSize = 100
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, chunkSize: cfg.ChunkSize, logger: cfg.Logger}
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
	if !slugPattern.MatchString(in.Slug) {
		problems = append(problems, RowError{Field: "slug", Message: "must be 1-63 lowercase letters, digits and hyphens, starting with a letter or digit"})
	}
	if in.Title == "" || utf8.RuneCountInString(in.Title) > 200 || strings.IndexFunc(in.Title, forbiddenRune) >= 0 {
		problems = append(problems, RowError{Field: "title", Message: "is required, one line, at most 200 characters"})
	}
	if utf8.RuneCountInString(in.Summary) > 4000 || !utf8.ValidString(in.Summary) || strings.ContainsFunc(in.Summary, func(r rune) bool { return r != '\n' && forbiddenRune(r) }) {
		problems = append(problems, RowError{Field: "summary", Message: "must be at most 4000 characters of text (line breaks allowed)"})
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

// ImportOrganizations parses and upserts organizations and their contacts,
// all or nothing.
func (s *Service) ImportOrganizations(ctx context.Context, by Actor, r io.Reader, format Format) (OrgImportResult, error) {
	if err := requireRole(by, RoleOperator); err != nil {
		return OrgImportResult{}, err
	}
	rows, err := ParseOrganizations(r, format)
	if err != nil {
		return OrgImportResult{}, err
	}
	return s.store.ImportOrganizations(ctx, by, rows)
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
	rows, err := ParseExposures(r, format)
	if err != nil {
		return ExposureImportResult{}, err
	}
	return s.store.ImportExposures(ctx, by, inc.ID, rows)
}

// PlanWave records a planned wave and counts its targets.
func (s *Service) PlanWave(ctx context.Context, by Actor, incident string, kind WaveKind) (WavePlan, error) {
	if err := requireRole(by, RoleOperator); err != nil {
		return WavePlan{}, err
	}
	if kind != WaveInitial {
		return WavePlan{}, Errorf(CodeInvalid, "kind must be %q", WaveInitial)
	}
	inc, err := s.store.Incident(ctx, incident)
	if err != nil {
		return WavePlan{}, err
	}
	return s.store.PlanWave(ctx, by, inc.ID, kind)
}

// LaunchWave launches a planned wave: notices, deliveries and jobs at once.
func (s *Service) LaunchWave(ctx context.Context, by Actor, waveID int64) (Wave, error) {
	if err := requireRole(by, RoleOperator); err != nil {
		return Wave{}, err
	}
	w, err := s.store.LaunchWave(ctx, by, waveID, s.chunkSize)
	if err == nil {
		s.logger.InfoContext(ctx, "wave launched", "wave_id", w.ID, "status", w.Status, "key_id", by.KeyID)
	}
	return w, err
}

// Wave returns a wave with its delivery counts.
func (s *Service) Wave(ctx context.Context, by Actor, waveID int64) (Wave, error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return Wave{}, err
	}
	return s.store.Wave(ctx, waveID)
}

// CapturedMessages lists the embedded mailbox, newest first.
func (s *Service) CapturedMessages(ctx context.Context, by Actor, limit int, beforeID int64) ([]CapturedMessage, error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	return s.store.CapturedMessages(ctx, limit, beforeID)
}

// CapturedMessage returns one captured message with its raw bytes.
func (s *Service) CapturedMessage(ctx context.Context, by Actor, id int64) (CapturedMessage, error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return CapturedMessage{}, err
	}
	return s.store.CapturedMessage(ctx, id)
}

func requireRole(by Actor, need Role) error {
	if by.KeyID == 0 {
		return Errorf(CodeUnauthorized, "an API key is required")
	}
	if !by.Role.Allows(need) {
		return Errorf(CodeForbidden, "this needs the %s role; the key %q is %s", need, by.Name, by.Role)
	}
	return nil
}
