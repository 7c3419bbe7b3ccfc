package notifier

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/hex"
	"fmt"
	"time"
)

// AuditVerification is the result of checking the chain.
type AuditVerification struct {
	OK bool `json:"ok"`
	// Entries is how many entries were checked.
	Entries int `json:"entries"`
	// Head is the hash of the last good entry, HeadID its id.
	Head   string `json:"head"`
	HeadID int64  `json:"head_id,omitempty"`
	// LegacyEntries counts the unkeyed entries from before the chain was
	// keyed: consistent with each other, but anyone could have made them.
	LegacyEntries int `json:"legacy_entries,omitempty"`
	// UncheckedMACs counts keyed entries whose MAC was not checked, because
	// the check ran without their key (only their links were).
	UncheckedMACs int `json:"unchecked_macs,omitempty"`
	// BrokenAt is the first entry that fails, with why; a chain that lost
	// its tail has no failing entry left (BrokenAt 0), only a Reason.
	BrokenAt int64  `json:"broken_at,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// CheckedAgainst is the checkpoint the chain was compared with: the one
	// asked for, or else the newest stored one.
	CheckedAgainst string `json:"checked_against,omitempty"`
	// Checkpoint is the checkpoint taken of the head after an intact check:
	// keep it outside this system.
	Checkpoint string `json:"checkpoint,omitempty"`
}

// ChainVerifier checks audit entries fed to it oldest first: each must
// follow the one before, carry a valid hash (a MAC under the audit key
// once the chain is keyed), and agree with the checkpoint it is held to.
type ChainVerifier struct {
	// keys verify the MACs; nil checks only the links and legacy hashes.
	keys *AuditKeys
	prev []byte
	// keyed is set by the first keyed entry: every later one must be too.
	keyed bool
	// keyedOutside is set by the first entry keyed with a key kept outside
	// the database: no later one may be keyed with the database's.
	keyedOutside bool
	// allowMissing counts entries keyed with an unknown key as unchecked.
	allowMissing bool
	// from, when set, is where the check starts instead of the genesis.
	from *AuditCheckpoint
	// expect is the checkpoint the chain must pass through.
	expect     *AuditCheckpoint
	expectSeen bool
	res        AuditVerification
}

// NewChainVerifier starts a check at the genesis. With nil keys it checks
// the links between entries and the hashes of legacy entries, and counts
// the keyed entries it could not check.
func NewChainVerifier(keys *AuditKeys) *ChainVerifier {
	return &ChainVerifier{keys: keys, prev: AuditGenesis, res: AuditVerification{OK: true}}
}

// Against holds the chain to a checkpoint: the entry it names must be
// there with its hash and as many entries before it, and the chain must
// not end before it. The caller checks the checkpoint's MAC.
func (v *ChainVerifier) Against(cp AuditCheckpoint) {
	v.expect = &cp
	v.res.CheckedAgainst = cp.String()
}

// From starts the check at a checkpoint's entry instead of the genesis (the
// entries before it were checked when the checkpoint was taken), and holds
// the chain to it. Feed the entries from that one on.
func (v *ChainVerifier) From(cp AuditCheckpoint) {
	v.from = &cp
	v.prev = nil
	v.res.Entries = int(cp.Entries) - 1
	v.Against(cp)
}

// Add checks the next entry; it returns false once the chain is broken.
func (v *ChainVerifier) Add(e AuditEntry) bool {
	if !v.res.OK {
		return false
	}
	v.res.Entries++
	if reason := v.check(e); reason != "" {
		v.res.OK, v.res.BrokenAt, v.res.Reason = false, e.ID, reason
		return false
	}
	v.prev, v.res.HeadID = e.Hash, e.ID
	return true
}

// check returns why e breaks the chain, or "".
func (v *ChainVerifier) check(e AuditEntry) string {
	if v.prev == nil { // the first entry after From
		if e.ID != v.from.EntryID || !bytes.Equal(e.Hash, v.from.Hash) {
			return fmt.Sprintf("is not entry %d with the hash the checkpoint of %s saw: the chain was rewritten", v.from.EntryID, stamp(v.from.At))
		}
		v.prev = e.PrevHash
	}
	if !bytes.Equal(e.PrevHash, v.prev) {
		return "does not follow the entry before it: an entry was removed, inserted or changed"
	}
	switch e.Scheme {
	case AuditSchemeSHA256:
		if v.keyed {
			return "is not keyed although an entry before it is: an unkeyed entry cannot follow a keyed one (it was rewritten without the key, or written by an old binary)"
		}
		if !bytes.Equal(LegacyAuditHash(e), e.Hash) {
			return "its content does not match its hash: it was changed"
		}
		v.res.LegacyEntries++
	case AuditSchemeHMAC:
		v.keyed = true
		if reason := v.checkMAC(e); reason != "" {
			return reason
		}
	default:
		return fmt.Sprintf("has an unknown scheme %q", e.Scheme)
	}
	if cp := v.expect; cp != nil {
		switch {
		case e.ID == cp.EntryID:
			v.expectSeen = true
			if !bytes.Equal(e.Hash, cp.Hash) {
				return fmt.Sprintf("does not have the hash the checkpoint of %s saw: the chain was rewritten up to here", stamp(cp.At))
			}
			if int64(v.res.Entries) != cp.Entries {
				return fmt.Sprintf("is entry number %d of the chain, but the checkpoint of %s saw it as number %d: entries before it were removed or added", v.res.Entries, stamp(cp.At), cp.Entries)
			}
		case e.ID > cp.EntryID && !v.expectSeen:
			return fmt.Sprintf("comes where entry %d should be, which the checkpoint of %s saw: that entry was removed", cp.EntryID, stamp(cp.At))
		}
	}
	return ""
}

// checkMAC checks a keyed entry's MAC, and that no entry keyed with the
// key kept in the database follows one keyed with a key kept outside.
func (v *ChainVerifier) checkMAC(e AuditEntry) string {
	var key auditKey
	ok := false
	if v.keys != nil {
		key, ok = v.keys.byID(e.KeyID)
	}
	switch {
	case !ok && (v.keys == nil || v.allowMissing):
		v.res.UncheckedMACs++
		return ""
	case !ok:
		return fmt.Sprintf("is keyed with key %s, which is not among the audit keys (%v): was the key changed? Keep old keys after the new one in BREACHNOTIFY_AUDIT_KEY_FILE", e.KeyID, v.keys.IDs())
	case key.InDatabase && v.keyedOutside:
		return "is keyed with the key derived from the secret in the database although an entry before it is keyed with a key kept outside: it was rewritten by someone with access to the database"
	case !hmac.Equal(AuditMAC(key.Secret, e), e.Hash):
		return "its content does not match its MAC: it was changed, or moved without the key"
	}
	if !key.InDatabase {
		v.keyedOutside = true
	}
	return ""
}

// AllowMissingKeys makes entries keyed with a key the verifier lacks count
// in UncheckedMACs instead of breaking the chain: for a check away from
// the server, which may lack the key derived from the secret the database
// keeps. The server's own check allows no missing key.
func (v *ChainVerifier) AllowMissingKeys() { v.allowMissing = true }

// Result returns the verification so far: Head is the last good hash. A
// chain that ends before the checkpoint it is held to lost its tail.
func (v *ChainVerifier) Result() AuditVerification {
	r := v.res
	if v.prev != nil {
		r.Head = hex.EncodeToString(v.prev)
	}
	if cp := v.expect; r.OK && cp != nil && !v.expectSeen {
		r.OK = false
		lost := fmt.Sprintf("entries after %d were removed", r.HeadID)
		switch {
		case r.HeadID == 0 && v.from != nil:
			lost = fmt.Sprintf("entry %d and those after it were removed", cp.EntryID)
		case r.HeadID == 0:
			lost = "every entry was removed"
		}
		r.Reason = fmt.Sprintf("%s: the checkpoint of %s saw entry %d", lost, stamp(cp.At), cp.EntryID)
	}
	return r
}

// head is the checkpoint to take of what was checked; ok is false when
// nothing was.
func (v *ChainVerifier) head() (AuditCheckpoint, bool) {
	if !v.res.OK || v.res.HeadID == 0 {
		return AuditCheckpoint{}, false
	}
	return AuditCheckpoint{EntryID: v.res.HeadID, Entries: int64(v.res.Entries), Hash: v.prev}, true
}

// stamp is how a checkpoint's time reads in a reason.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// VerifyAudit checks the whole audit chain with the audit key, held to a
// checkpoint: the one given (as printed by an earlier verify or found in
// the log) or else the newest stored one. An intact chain gets a new
// checkpoint of its head, stored, logged and returned.
func (s *Service) VerifyAudit(ctx context.Context, by Actor, checkpoint string) (AuditVerification, error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return AuditVerification{}, err
	}
	v := NewChainVerifier(s.auditKeys)
	var forged *AuditCheckpoint
	if checkpoint != "" {
		cp, err := ParseAuditCheckpoint(checkpoint)
		if err != nil {
			return AuditVerification{}, Errorf(CodeBadRequest, "checkpoint %v", err)
		}
		if !s.auditKeys.VerifyCheckpoint(cp) {
			return AuditVerification{}, Errorf(CodeBadRequest, "checkpoint: its MAC does not match the audit key; it was altered, comes from another installation, or the key changed (keep the old key after the new one in BREACHNOTIFY_AUDIT_KEY_FILE)")
		}
		v.Against(cp)
	} else {
		cp, found, err := s.store.LatestAuditCheckpoint(ctx)
		if err != nil {
			return AuditVerification{}, err
		}
		switch {
		case found && s.auditKeys.reliesOn(cp):
			v.Against(cp)
		case found && !s.auditKeys.VerifyCheckpoint(cp):
			forged = &cp
		}
		// A checkpoint signed with the key the database keeps, now that the
		// key is kept outside, proves nothing: the next one will.
	}
	if err := s.store.WalkAudit(ctx, 0, v.Add); err != nil {
		return AuditVerification{}, err
	}
	res := v.Result()
	if res.OK && forged != nil {
		res.OK, res.Reason = false, fmt.Sprintf("the newest stored checkpoint (of %s, entry %d) does not verify with the audit key: someone wrote to audit_checkpoints, or the key changed", stamp(forged.At), forged.EntryID)
	}
	if !res.OK {
		s.logger.ErrorContext(ctx, "audit chain broken", "broken_at", res.BrokenAt, "reason", res.Reason, "checked_by", by.Name)
		return res, nil
	}
	if head, ok := v.head(); ok {
		cp, err := s.takeCheckpoint(ctx, head, by.Name)
		if err != nil {
			return res, err
		}
		res.Checkpoint = cp.String()
	}
	return res, nil
}

// CheckpointAudit takes a checkpoint of the chain's head when it moved
// since the newest stored checkpoint, after checking the entries since
// that one (the periodic job runs it). It returns false when the head had
// not moved, and an error when the chain is broken: no checkpoint then
// vouches for a damaged chain.
func (s *Service) CheckpointAudit(ctx context.Context) (AuditCheckpoint, bool, error) {
	last, found, err := s.store.LatestAuditCheckpoint(ctx)
	if err != nil {
		return AuditCheckpoint{}, false, err
	}
	v := NewChainVerifier(s.auditKeys)
	var from int64
	if found && !s.auditKeys.VerifyCheckpoint(last) {
		err := fmt.Errorf("audit checkpoint: the newest stored checkpoint (of %s, entry %d) does not verify with the audit key: someone wrote to audit_checkpoints, or the key changed", stamp(last.At), last.EntryID)
		s.logger.ErrorContext(ctx, "audit chain broken", "error", err)
		return AuditCheckpoint{}, false, err
	}
	// Resume from the last checkpoint when it can stand for the entries
	// before it; otherwise check the whole chain.
	if found && s.auditKeys.reliesOn(last) {
		v.From(last)
		from = last.EntryID
	}
	if err := s.store.WalkAudit(ctx, from, v.Add); err != nil {
		return AuditCheckpoint{}, false, err
	}
	if res := v.Result(); !res.OK {
		s.logger.ErrorContext(ctx, "audit chain broken", "broken_at", res.BrokenAt, "reason", res.Reason)
		return AuditCheckpoint{}, false, fmt.Errorf("audit checkpoint: the chain is broken at entry %d: %s", res.BrokenAt, res.Reason)
	}
	head, ok := v.head()
	if !ok || (found && head.EntryID == last.EntryID) {
		return AuditCheckpoint{}, false, nil
	}
	cp, err := s.takeCheckpoint(ctx, head, "checkpoint job")
	return cp, err == nil, err
}

// takeCheckpoint signs head at the database's time, stores it and logs it,
// so it also reaches the log system, outside the database.
func (s *Service) takeCheckpoint(ctx context.Context, head AuditCheckpoint, takenBy string) (AuditCheckpoint, error) {
	now, err := s.store.Now(ctx)
	if err != nil {
		return AuditCheckpoint{}, err
	}
	head.At = now
	cp := s.auditKeys.SignCheckpoint(head)
	if err := s.store.AddAuditCheckpoint(ctx, cp, takenBy); err != nil {
		return AuditCheckpoint{}, err
	}
	s.logger.InfoContext(ctx, "audit checkpoint", "checkpoint", cp.String(), "entry_id", cp.EntryID, "entries", cp.Entries, "taken_by", takenBy)
	return cp, nil
}

// AuditEntries lists the audit trail, newest first.
func (s *Service) AuditEntries(ctx context.Context, by Actor, f AuditFilter, p Page) (ListResult[AuditEntry], error) {
	if err := requireRole(by, RoleViewer); err != nil {
		return ListResult[AuditEntry]{}, err
	}
	p = p.normalized()
	list, err := s.store.AuditEntries(ctx, f, p)
	return pageOf(list, p.Limit, func(e AuditEntry) int64 { return e.ID }), err
}
