package notifier

// StateSnapshot is the database's state as operations watch it (metrics,
// dashboard).
type StateSnapshot struct {
	// Jobs counts queue jobs by queue and state.
	Jobs []QueueCount
	// OldestAvailable is, per queue, the age in seconds of the oldest job
	// ready to run but not yet taken: how far behind the workers are.
	OldestAvailable map[string]float64
	// NoticesAcknowledged and NoticesUnacknowledged count the notices that
	// wait for acknowledgement (initial and follow-up, sent, not void).
	NoticesAcknowledged   int64
	NoticesUnacknowledged int64
	// OldestUnacknowledged is the age in seconds of the oldest notice sent
	// and not acknowledged (0 when there is none).
	OldestUnacknowledged float64
	// UnreachableOrganizations counts organizations with a notice that
	// reached none of its contacts.
	UnreachableOrganizations int64
	// Bounces counts recorded bounce reports by kind.
	Bounces map[string]int64
	// Waves holds the delivery counts of running waves.
	Waves []WaveProgress
	// AwaitingApproval counts the planned waves that wait for the approval
	// their incident's policy asks for, the service's own (automatic
	// follow-ups) apart from people's.
	AwaitingApproval []ApprovalWait
}

// ApprovalWait counts planned waves waiting for an approval.
type ApprovalWait struct {
	Automatic bool  `json:"automatic"`
	Count     int64 `json:"count"`
	// OldestSeconds is how long the oldest has waited.
	OldestSeconds float64 `json:"oldest_seconds"`
}

// QueueCount is one (queue, state) job count.
type QueueCount struct {
	Queue string `json:"queue"`
	State string `json:"state"`
	Count int64  `json:"count"`
}

// WaveProgress is a running wave's deliveries by status.
type WaveProgress struct {
	WaveID int64            `json:"wave_id"`
	Counts map[string]int64 `json:"counts"`
}
