package notifier

import (
	"encoding/json"
	"time"
)

// EvidenceImport is one run of importing stolen mail into an incident
// (issue 13): its progress while it runs, and the exposure batch it made
// when it finished.
type EvidenceImport struct {
	ID         int64  `json:"id"`
	IncidentID int64  `json:"incident_id"`
	Name       string `json:"name"`
	// Kind is EvidenceRunImport, or EvidenceRunReattribution for a run
	// that attributed the stored messages again.
	Kind       string     `json:"kind"`
	Status     string     `json:"status"` // running, done or failed
	Error      string     `json:"error,omitempty"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// Messages read so far and their bytes; of them, Stored were new,
	// Known were stored before (by this incident's earlier imports),
	// Unparseable could not be read as MIME (kept raw all the same) and
	// Unattributed expose no known organization.
	Messages     int64 `json:"messages"`
	Bytes        int64 `json:"bytes"`
	Stored       int64 `json:"stored"`
	Known        int64 `json:"known"`
	Unparseable  int64 `json:"unparseable"`
	Unattributed int64 `json:"unattributed"`
	// Attributed counts, in a re-attribution, the messages that gained an
	// organization (Messages are those it looked at, Unattributed those
	// still without one).
	Attributed int64 `json:"attributed"`
	// Batch is the exposure batch the import made, once done.
	Batch *ExposureImportResult `json:"batch,omitempty"`
}

// Evidence import statuses.
const (
	EvidenceImportRunning = "running"
	EvidenceImportDone    = "done"
	EvidenceImportFailed  = "failed"
)

// Kinds of evidence runs (EvidenceImport.Kind).
const (
	EvidenceRunImport        = "import"
	EvidenceRunReattribution = "reattribution"
)

// StoredEvidence is one new message of an import as the store writes it:
// what the message says about itself, its encrypted bytes and whom it
// exposes.
type StoredEvidence struct {
	SHA256       [32]byte
	Source       string
	Size         int64
	MessageID    string
	InReplyTo    string
	Subject      string
	SentAt       *time.Time
	From         string
	Participants json.RawMessage
	Attachments  json.RawMessage
	Problems     []string
	// Unparseable says why the MIME structure could not be read; empty
	// when it could.
	Unparseable string
	// Ciphertext is the raw message encrypted under the incident's data
	// key (notifier/vault).
	Ciphertext []byte
	Exposures  []EvidenceExposure
	// SecretTypes are the types of Findings, sorted, each once: the
	// message's exposure items carry them to the notices.
	SecretTypes []string
	Findings    []EvidenceFinding
}

// EvidenceFinding is a secret found in a message: where, what, and how to
// recognise it again, never the secret itself.
type EvidenceFinding struct {
	Type, RuleID, Part  string
	Line, Column        int
	Fingerprint, Masked string
	// Live says the secret works until it is rotated.
	Live bool
}

// EvidenceExposure is an organization a message exposes, and its own
// people among the message's participants.
type EvidenceExposure struct {
	OrganizationID int64
	Participants   []string
}

// EvidenceGroup is what an import commits at once: its new messages and
// the progress counters that grew since the last group.
type EvidenceGroup struct {
	Messages []StoredEvidence
	// Read, Bytes, Known and Unparseable are the counts of this group
	// (added to the import's totals); Unattributed is counted by the store
	// from the messages without exposures.
	Read, Bytes, Known, Unparseable int64
}

// RequireRole refuses an actor whose role does not allow need, with the
// errors every use case gives (unauthorized without a key, forbidden with
// a weaker role). For use cases outside this package.
func RequireRole(by Actor, need Role) error { return requireRole(by, need) }
