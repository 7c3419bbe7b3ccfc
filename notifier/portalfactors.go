package notifier

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"time"
)

// FactorMaxAge is how long a verified second factor opens the stolen mail
// before the member proves it is them again.
const FactorMaxAge = 12 * time.Hour

// RecoveryCodeCount is how many recovery codes an enrolment gives.
const RecoveryCodeCount = 10

// PortalTOTP is a contact's authenticator-app factor as stored.
type PortalTOTP struct {
	// Sealed is the secret, encrypted by the portal (never in clear).
	Sealed    []byte
	Confirmed bool
	// LastStep is the last 30-second step accepted.
	LastStep int64
}

// FactorUse is one verification attempt that passed the code check: a
// TOTP step, or a recovery code's hash. The store accepts it once.
type FactorUse struct {
	Step         int64
	RecoveryHash []byte
	// Passkey marks a failed passkey ceremony (audited as such; a
	// passkey's success goes through UsePasskey).
	Passkey bool
}

// Kind names the factor in the audit trail.
func (f FactorUse) Kind() string {
	switch {
	case f.RecoveryHash != nil:
		return "recovery_code"
	case f.Passkey:
		return "passkey"
	}
	return "totp"
}

// Passkey is a WebAuthn credential as stored: the columns an operator
// may read, and Record, the library's whole credential as JSON.
type Passkey struct {
	ID, PublicKey, AAGUID []byte
	SignCount             uint32
	Record                []byte
}

// FactorReset is what a reset of a contact's factors removed.
type FactorReset struct {
	ContactID int64     `json:"contact_id"`
	TOTP      int       `json:"totp"`
	Passkeys  int       `json:"passkeys"`
	Sessions  int       `json:"sessions"`
	At        time.Time `json:"reset_at"`
}

// PortalFactorStore keeps portal members' second factors.
type PortalFactorStore interface {
	// SavePendingTOTP starts an enrolment with a sealed secret; a
	// confirmed factor is kept.
	SavePendingTOTP(ctx context.Context, contactID int64, sealed []byte) error
	// PortalTOTP is not_found when the contact has none.
	PortalTOTP(ctx context.Context, contactID int64) (PortalTOTP, error)
	// ConfirmTOTP confirms the pending secret sealed, stores the recovery
	// codes' hashes, marks the session verified and audits, in one
	// transaction; conflict when the pending secret was replaced.
	ConfirmTOTP(ctx context.Context, sess PortalSession, sealed []byte, step int64, codeHashes [][]byte) error
	// VerifyPortalFactor spends the use (a step not accepted before, an
	// unused recovery code) and marks the session verified; it audits
	// success and failure alike. A zero use is a failure.
	VerifyPortalFactor(ctx context.Context, sess PortalSession, use FactorUse) (bool, error)
	RecoveryCodesLeft(ctx context.Context, contactID int64) (int, error)
	// SavePasskeyCeremony keeps a passkey ceremony's state on the session;
	// TakePasskeyCeremony takes it once (not_found when none).
	SavePasskeyCeremony(ctx context.Context, sessionHash, state []byte) error
	TakePasskeyCeremony(ctx context.Context, sessionHash []byte) ([]byte, error)
	// PortalPasskeys are the contact's passkeys' records.
	PortalPasskeys(ctx context.Context, contactID int64) ([][]byte, error)
	// AddPasskey stores a new passkey, marks the session verified and
	// audits; UsePasskey records a login with it (its sign count), the
	// same way.
	AddPasskey(ctx context.Context, sess PortalSession, p Passkey) error
	UsePasskey(ctx context.Context, sess PortalSession, p Passkey) error
	// ResetPortalFactors removes every factor of the contact and the
	// verification of its sessions, audited.
	ResetPortalFactors(ctx context.Context, by Actor, contactID int64, reason string) (FactorReset, error)
}

// FactorFresh says whether the session verified a second factor within
// FactorMaxAge of now.
func (p PortalSession) FactorFresh(now time.Time) bool {
	return p.FactorVerifiedAt != nil && now.Sub(*p.FactorVerifiedAt) < FactorMaxAge && !p.FactorVerifiedAt.After(now.Add(time.Minute))
}

// recoveryAlphabet has no look-alikes (no 0/O, 1/I/L).
const recoveryAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// NewRecoveryCodes returns RecoveryCodeCount codes to show once (as
// XXXXX-XXXXX, about 49 bits each) and their hashes to store.
func NewRecoveryCodes() (codes []string, hashes [][]byte) {
	for range RecoveryCodeCount {
		b := make([]byte, 10)
		for i := range b {
			b[i] = recoveryAlphabet[randIndex(len(recoveryAlphabet))]
		}
		code := string(b[:5]) + "-" + string(b[5:])
		codes = append(codes, code)
		hashes = append(hashes, HashRecoveryCode(code))
	}
	return codes, hashes
}

func randIndex(n int) int {
	// Rejection sampling keeps every character equally likely.
	var b [1]byte
	for {
		_, _ = rand.Read(b[:])
		if int(b[0]) < 256-256%n {
			return int(b[0]) % n
		}
	}
}

// HashRecoveryCode hashes a typed recovery code the way it is stored:
// case, spaces and dashes do not matter. Codes are random, so a plain
// SHA-256 is as strong as the code.
func HashRecoveryCode(typed string) []byte {
	norm := NormalizeRecoveryCode(typed)
	sum := sha256.Sum256([]byte("breachnotify recovery code v1\x00" + norm))
	return sum[:]
}

// NormalizeRecoveryCode is the code's ten characters, upper case, or ""
// when typed cannot be a recovery code.
func NormalizeRecoveryCode(typed string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(typed) {
		switch {
		case r == '-' || r == ' ':
		case strings.ContainsRune(recoveryAlphabet, r):
			b.WriteRune(r)
		default:
			return ""
		}
	}
	if b.Len() != 10 {
		return ""
	}
	return b.String()
}

// SavePendingTOTP starts an authenticator-app enrolment (see PortalFactorStore).
func (s *Service) SavePendingTOTP(ctx context.Context, sess PortalSession, sealed []byte) error {
	return s.store.SavePendingTOTP(ctx, sess.ContactID, sealed)
}

// PortalTOTP returns the session's contact's authenticator-app factor.
func (s *Service) PortalTOTP(ctx context.Context, sess PortalSession) (PortalTOTP, error) {
	return s.store.PortalTOTP(ctx, sess.ContactID)
}

// ConfirmTOTP finishes an enrolment (see PortalFactorStore).
func (s *Service) ConfirmTOTP(ctx context.Context, sess PortalSession, sealed []byte, step int64, codeHashes [][]byte) error {
	return s.store.ConfirmTOTP(ctx, sess, sealed, step, codeHashes)
}

// VerifyPortalFactor spends a checked code (see PortalFactorStore).
func (s *Service) VerifyPortalFactor(ctx context.Context, sess PortalSession, use FactorUse) (bool, error) {
	return s.store.VerifyPortalFactor(ctx, sess, use)
}

// RecoveryCodesLeft counts the session's contact's unused recovery codes.
func (s *Service) RecoveryCodesLeft(ctx context.Context, sess PortalSession) (int, error) {
	return s.store.RecoveryCodesLeft(ctx, sess.ContactID)
}

// ResetContactFactors removes a contact's second factors (IR staff,
// admin role): its sessions can no longer read stolen mail until the
// member enrols again. Organization approvers will call the store's
// reset with their own actor after their own check (issue 14).
func (s *Service) ResetContactFactors(ctx context.Context, by Actor, contactID int64, reason string) (FactorReset, error) {
	if err := requireRole(by, RoleAdmin); err != nil {
		return FactorReset{}, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" || len([]rune(reason)) > 500 || strings.IndexFunc(reason, forbiddenRune) >= 0 {
		return FactorReset{}, &Error{Code: CodeInvalid, Message: "a reason is required",
			Details: []RowError{{Field: "reason", Message: "is required: one line of at most 500 characters"}}}
	}
	return s.store.ResetPortalFactors(ctx, by, contactID, reason)
}

// SavePasskeyCeremony keeps a passkey ceremony's state (see PortalFactorStore).
func (s *Service) SavePasskeyCeremony(ctx context.Context, sess PortalSession, state []byte) error {
	return s.store.SavePasskeyCeremony(ctx, sess.IDHash, state)
}

// TakePasskeyCeremony takes the session's passkey ceremony once.
func (s *Service) TakePasskeyCeremony(ctx context.Context, sess PortalSession) ([]byte, error) {
	return s.store.TakePasskeyCeremony(ctx, sess.IDHash)
}

// PortalPasskeys returns the session's contact's passkeys' records.
func (s *Service) PortalPasskeys(ctx context.Context, sess PortalSession) ([][]byte, error) {
	return s.store.PortalPasskeys(ctx, sess.ContactID)
}

// AddPasskey stores a passkey just created (see PortalFactorStore).
func (s *Service) AddPasskey(ctx context.Context, sess PortalSession, p Passkey) error {
	return s.store.AddPasskey(ctx, sess, p)
}

// UsePasskey records a verified passkey login (see PortalFactorStore).
func (s *Service) UsePasskey(ctx context.Context, sess PortalSession, p Passkey) error {
	return s.store.UsePasskey(ctx, sess, p)
}
