package notifier

import (
	"context"
	"encoding/json"
	"time"
)

// The staff dashboard's session limits. The dashboard refreshes its live
// parts every few seconds, which keeps an open tab's session in use, so
// the absolute lifetime is what bounds a forgotten tab.
const (
	// StaffSessionIdle ends a dashboard session nobody used for this long.
	StaffSessionIdle = time.Hour
	// StaffSessionLifetime ends every dashboard session this long after
	// sign-in: a working day.
	StaffSessionLifetime = 12 * time.Hour
	// RecentFailuresMax bounds the dashboard's list of recent failures.
	RecentFailuresMax = 200
)

// StaffSession is a staff member signed in to the dashboard with an API
// key. It acts as that key: its actions are audited under the key's name,
// and it ends when the key is revoked.
type StaffSession struct {
	// IDHash identifies the session (the SHA-256 of the cookie's id).
	IDHash    []byte
	KeyID     int64
	KeyName   string
	Role      Role
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Actor is the API key the session acts as.
func (s StaffSession) Actor() Actor { return Actor{KeyID: s.KeyID, Name: s.KeyName, Role: s.Role} }

// FailedDelivery is a delivery that failed or bounced, with where it
// belongs, for the dashboard's list of recent failures.
type FailedDelivery struct {
	Delivery
	OrgRef        string
	OrgName       string
	IncidentID    int64
	IncidentTitle string
}

// StaffStore is the persistence the staff dashboard needs.
type StaffStore interface {
	// StartStaffSession stores a new session of the actor's key, in one
	// transaction with its audit entry.
	StartStaffSession(ctx context.Context, by Actor, idHash []byte, req AckRequest) (StaffSession, error)
	// StaffSession returns a live session and notes its use; not_found when
	// it is unknown, signed out, idle or expired, or its key was revoked.
	StaffSession(ctx context.Context, idHash []byte) (StaffSession, error)
	// EndStaffSession signs the session out (audited).
	EndStaffSession(ctx context.Context, sess StaffSession) error
	// RecentFailures lists failed and bounced deliveries, the latest
	// failure first.
	RecentFailures(ctx context.Context, limit int) ([]FailedDelivery, error)
	// StateSnapshot reads the queue and campaign gauges.
	StateSnapshot(ctx context.Context) (StateSnapshot, error)
}

// StartStaffSession signs a staff member in to the dashboard with an API
// key of any role, and returns a new random session id for the cookie. A
// malformed, unknown or revoked key is CodeUnauthorized, whichever it was.
func (s *Service) StartStaffSession(ctx context.Context, key string, req AckRequest) (string, StaffSession, error) {
	by, err := s.Authenticate(ctx, key)
	if err != nil {
		return "", StaffSession{}, err
	}
	if err := requireRole(by, RoleViewer); err != nil {
		return "", StaffSession{}, err
	}
	id, hash := NewAckToken()
	req.IP = oneLineText(req.IP, 64)
	req.UserAgent = oneLineText(req.UserAgent, 500)
	sess, err := s.store.StartStaffSession(ctx, by, hash, req)
	if err != nil {
		return "", StaffSession{}, err
	}
	s.logger.InfoContext(ctx, "staff session started", "key_id", sess.KeyID, "role", sess.Role)
	return id, sess, nil
}

// StaffSession returns the live session a cookie names.
func (s *Service) StaffSession(ctx context.Context, id string) (StaffSession, error) {
	hash, ok := ParseAckToken(id)
	if !ok {
		return StaffSession{}, Errorf(CodeNotFound, "this session is not valid")
	}
	return s.store.StaffSession(ctx, hash)
}

// EndStaffSession signs a session out on the server: the cookie no longer
// works even if it was copied.
func (s *Service) EndStaffSession(ctx context.Context, sess StaffSession) error {
	return s.store.EndStaffSession(ctx, sess)
}

// StateSnapshot returns the queue and campaign figures operations watch.
func (s *Service) StateSnapshot(ctx context.Context, by Actor) (StateSnapshot, error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return StateSnapshot{}, err
	}
	return s.store.StateSnapshot(ctx)
}

// RecentFailures lists the latest failed and bounced deliveries, with the
// relay's reply to each, newest failure first.
func (s *Service) RecentFailures(ctx context.Context, by Actor, limit int) ([]FailedDelivery, error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > RecentFailuresMax {
		limit = RecentFailuresMax
	}
	list, err := s.store.RecentFailures(ctx, limit)
	if list == nil {
		list = []FailedDelivery{}
	}
	return list, err
}

// AuditQueueUIAction records a request that may change the job queue
// through the River UI (cancel, retry or delete jobs, pause a queue)
// before it is let through: the UI is River's own, so no use case of ours
// records it otherwise. body is the request's JSON (job ids, queue
// settings); anything else is recorded by its size only. Only admins may
// use the UI.
func (s *Service) AuditQueueUIAction(ctx context.Context, by Actor, method, path string, body []byte) error {
	if err := requireRole(by, RoleAdmin); err != nil {
		return err
	}
	path = oneLineText(path, 200)
	details := map[string]any{"method": oneLineText(method, 10), "path": path}
	if len(body) > 0 && json.Valid(body) {
		details["body"] = json.RawMessage(body)
	} else if len(body) > 0 {
		details["body_bytes"] = len(body)
	}
	return s.store.Audit(ctx, by, "riverui.request", "queue_ui", path, details)
}
