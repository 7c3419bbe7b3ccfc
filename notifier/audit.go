package notifier

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
)

// AuditGenesis is the prev_hash of the first audit entry.
var AuditGenesis = make([]byte, sha256.Size)

// AuditHash is SHA-256 over the previous entry's hash and this entry's
// fields, each length-prefixed so no two different entries share a
// canonical form. Changing or removing any entry breaks every later hash.
func AuditHash(e AuditEntry) []byte {
	h := sha256.New()
	h.Write(e.PrevHash)
	key := ""
	if e.ActorKey != nil {
		key = strconv.FormatInt(*e.ActorKey, 10)
	}
	for _, f := range []string{e.At.UTC().Format(time.RFC3339Nano), key, e.ActorName, e.Action, e.TargetType, e.TargetID, e.RequestID, e.Details} {
		fmt.Fprintf(h, "%d:%s", len(f), f)
	}
	return h.Sum(nil)
}

// AuditVerification is the result of checking the chain.
type AuditVerification struct {
	OK      bool   `json:"ok"`
	Entries int    `json:"entries"`
	Head    string `json:"head"`
	// BrokenAt is the first entry that fails, with why.
	BrokenAt int64  `json:"broken_at,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// ChainVerifier checks audit entries fed to it oldest first.
type ChainVerifier struct {
	prev []byte
	res  AuditVerification
}

// NewChainVerifier starts a check at the genesis.
func NewChainVerifier() *ChainVerifier {
	return &ChainVerifier{prev: AuditGenesis, res: AuditVerification{OK: true}}
}

// Add checks the next entry; it returns false once the chain is broken.
func (v *ChainVerifier) Add(e AuditEntry) bool {
	if !v.res.OK {
		return false
	}
	v.res.Entries++
	switch {
	case !bytes.Equal(e.PrevHash, v.prev):
		v.res.OK, v.res.BrokenAt, v.res.Reason = false, e.ID, "does not follow the entry before it: an entry was removed, inserted or changed"
	case !bytes.Equal(AuditHash(e), e.Hash):
		v.res.OK, v.res.BrokenAt, v.res.Reason = false, e.ID, "its content does not match its hash: it was changed"
	default:
		v.prev = e.Hash
	}
	return v.res.OK
}

// Result returns the verification so far; Head is the last good hash,
// worth recording outside the database to detect a truncated tail.
func (v *ChainVerifier) Result() AuditVerification {
	r := v.res
	r.Head = hex.EncodeToString(v.prev)
	return r
}

// VerifyAudit checks the whole audit chain on the server.
func (s *Service) VerifyAudit(ctx context.Context, by Actor) (AuditVerification, error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return AuditVerification{}, err
	}
	v := NewChainVerifier()
	err := s.store.WalkAudit(ctx, v.Add)
	return v.Result(), err
}
