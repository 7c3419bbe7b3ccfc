package notifier

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// AuditCheckpoint is a signed record of the audit chain's head: the last
// entry's id and hash and how many entries led to it, at a time, with a
// MAC under the audit key. Kept outside the database (each one is logged),
// it shows a later chain that lost its tail: the chain alone cannot, since
// a chain cut short is still a valid chain.
type AuditCheckpoint struct {
	// EntryID is the id of the head entry.
	EntryID int64
	// Entries is the number of entries from the genesis to the head.
	Entries int64
	// Hash is the head entry's hash.
	Hash []byte
	// At is when the checkpoint was taken, to the second.
	At time.Time
	// MAC is HMAC-SHA256 under an audit key over the rest.
	MAC []byte
}

// auditCheckpointPrefix names the checkpoint format and its version.
const auditCheckpointPrefix = "bnaudit1"

// auditCheckpointMaxLen bounds what ParseAuditCheckpoint reads: the longest
// valid checkpoint is well under it.
const auditCheckpointMaxLen = 256

// payload is what the MAC covers: every field but the MAC, as printed.
func (c AuditCheckpoint) payload() string {
	return fmt.Sprintf("%s:%d:%d:%s:%d", auditCheckpointPrefix, c.EntryID, c.Entries, hex.EncodeToString(c.Hash), c.At.Unix())
}

// String is the checkpoint as printed and logged:
// bnaudit1:<entry id>:<entries>:<hex hash>:<unix time>:<hex MAC>.
func (c AuditCheckpoint) String() string {
	return c.payload() + ":" + hex.EncodeToString(c.MAC)
}

// ParseAuditCheckpoint reads a checkpoint as String writes it (surrounding
// white space aside). It checks the form only: VerifyCheckpoint checks the
// MAC. Only the canonical form is accepted, so one checkpoint has one text.
func ParseAuditCheckpoint(s string) (AuditCheckpoint, error) {
	s = strings.TrimSpace(s)
	if len(s) > auditCheckpointMaxLen {
		return AuditCheckpoint{}, fmt.Errorf("is %d characters long; a checkpoint has at most %d", len(s), auditCheckpointMaxLen)
	}
	parts := strings.Split(s, ":")
	if len(parts) != 6 || parts[0] != auditCheckpointPrefix {
		return AuditCheckpoint{}, errors.New("is not an audit checkpoint: want bnaudit1:<entry id>:<entries>:<hash>:<unix time>:<mac>, as `audit verify` prints and the log shows")
	}
	var c AuditCheckpoint
	var err error
	if c.EntryID, err = positive(parts[1]); err != nil {
		return AuditCheckpoint{}, fmt.Errorf("entry id %w", err)
	}
	if c.Entries, err = positive(parts[2]); err != nil {
		return AuditCheckpoint{}, fmt.Errorf("entry count %w", err)
	}
	if c.Hash, err = hexHash(parts[3]); err != nil {
		return AuditCheckpoint{}, fmt.Errorf("hash %w", err)
	}
	unix, err := positive(parts[4])
	if err != nil {
		return AuditCheckpoint{}, fmt.Errorf("time %w", err)
	}
	c.At = time.Unix(unix, 0).UTC()
	if c.MAC, err = hexHash(parts[5]); err != nil {
		return AuditCheckpoint{}, fmt.Errorf("MAC %w", err)
	}
	if c.String() != s {
		return AuditCheckpoint{}, errors.New("is not in canonical form (decimal numbers without leading zeros or signs, lowercase hex)")
	}
	return c, nil
}

// positive reads a decimal number above zero.
func positive(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, errors.New("must be a positive decimal number")
	}
	return n, nil
}

// hexHash reads a SHA-256-sized value in lowercase hex.
func hexHash(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("must be %d hex digits", 2*sha256.Size)
	}
	return b, nil
}

// SignCheckpoint returns c, its time cut to the second, with a MAC under
// the current key.
func (k *AuditKeys) SignCheckpoint(c AuditCheckpoint) AuditCheckpoint {
	c.At = time.Unix(c.At.Unix(), 0).UTC()
	c.MAC = checkpointMAC(k.keys[0].Secret, c)
	return c
}

// VerifyCheckpoint reports whether c's MAC was made with one of the keys.
func (k *AuditKeys) VerifyCheckpoint(c AuditCheckpoint) bool {
	_, ok := k.signer(c)
	return ok
}

// reliesOn reports whether a stored checkpoint can stand for the entries
// before it: signed with one of the keys, and with a key kept outside the
// database unless the current key is kept there too (anyone who can write
// the checkpoint table could otherwise sign one).
func (k *AuditKeys) reliesOn(c AuditCheckpoint) bool {
	key, ok := k.signer(c)
	return ok && (!key.InDatabase || k.keys[0].InDatabase)
}

func (k *AuditKeys) signer(c AuditCheckpoint) (auditKey, bool) {
	for _, key := range k.keys {
		if hmac.Equal(checkpointMAC(key.Secret, c), c.MAC) {
			return key, true
		}
	}
	return auditKey{}, false
}

// checkpointMAC is HMAC-SHA256 over the printed payload. An entry's MAC
// input starts with a length prefix ("11:hmac-sha256"), a checkpoint's
// with "bnaudit1:", so one can never pass for the other.
func checkpointMAC(key []byte, c AuditCheckpoint) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(c.payload()))
	return m.Sum(nil)
}
