package store

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
	"github.com/breachnotify/breachnotify/notifier/vault"
)

// EvidenceSegmentSize is the most ciphertext one evidence_blobs row holds.
// A reader fetches one row per query, so a slow reader of a large message
// holds no connection between rows (issue 11's slow readers).
const EvidenceSegmentSize = 256 << 10

// ErrEvidenceShredded is returned for an incident whose evidence key was
// destroyed: its evidence is gone for good, and none can be added.
var ErrEvidenceShredded = notifier.Errorf(notifier.CodeConflict, "the incident's evidence was purged: it can no longer be read or added to")

// IncidentKey returns the incident's wrapped data key; found is false
// when it has none yet.
func (s *Store) IncidentKey(ctx context.Context, incidentID int64) (w vault.WrappedKey, found bool, err error) {
	var shredded bool
	err = s.pool.QueryRow(ctx, `SELECT coalesce(k.master_id, ''), k.sealed, i.evidence_shredded_at IS NOT NULL
		FROM incidents i LEFT JOIN incident_keys k ON k.incident_id = i.id WHERE i.id = $1`, incidentID).
		Scan(&w.MasterID, &w.Sealed, &shredded)
	if err != nil {
		return w, false, notFound(err, "no incident %d", incidentID)
	}
	if shredded {
		return w, false, ErrEvidenceShredded
	}
	return w, w.Sealed != nil, nil
}

// CreateIncidentKey stores a new wrapped data key for the incident unless
// one exists, and returns the stored one: when two imports race, both use
// the key of whichever committed first.
func (s *Store) CreateIncidentKey(ctx context.Context, incidentID int64, w vault.WrappedKey) (vault.WrappedKey, error) {
	var stored vault.WrappedKey
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var shredded bool
		if err := tx.QueryRow(ctx, `SELECT evidence_shredded_at IS NOT NULL FROM incidents WHERE id = $1 FOR SHARE`, incidentID).Scan(&shredded); err != nil {
			return notFound(err, "no incident %d", incidentID)
		}
		if shredded {
			return ErrEvidenceShredded
		}
		if _, err := tx.Exec(ctx, `INSERT INTO incident_keys (incident_id, master_id, sealed) VALUES ($1, $2, $3)
			ON CONFLICT (incident_id) DO NOTHING`, incidentID, w.MasterID, w.Sealed); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT master_id, sealed FROM incident_keys WHERE incident_id = $1`, incidentID).
			Scan(&stored.MasterID, &stored.Sealed)
	})
	return stored, wrap("create incident key", err)
}

// RewrapIncidentKeys rewraps every incident's data key with the keyring's
// current master key (a master key rotation), records it in the audit
// trail, and returns how many it changed. Evidence is not touched. Each key
// is swapped only if it is still the one read, so a concurrent rotation
// cannot lose a key; run again after a failure, it carries on.
func (s *Store) RewrapIncidentKeys(ctx context.Context, by notifier.Actor, ring *vault.Keyring, scope func(incidentID int64) string) (int, error) {
	return s.rewrapKeys(ctx, by, ring, wrappedKeys{
		what:  "incident keys",
		one:   "the key of incident %d",
		old:   `SELECT incident_id, master_id, sealed FROM incident_keys WHERE master_id <> $1 ORDER BY incident_id`,
		swap:  `UPDATE incident_keys SET master_id = $2, sealed = $3, rewrapped_at = now() WHERE incident_id = $1 AND master_id = $4 AND sealed = $5`,
		scope: scope, action: "evidence.keys.rewrap",
	})
}

// wrappedKeys is a table of data keys wrapped by the master key, for
// rewrapKeys: old selects id, master id and wrapped key of those not under
// master $1; swap sets row $1's to master $2 and key $3 if still master $4
// and key $5.
type wrappedKeys struct {
	what, one string // in errors: all of them, one of them (with its id)
	old, swap string
	scope     func(id int64) string
	action    string // the audit trail's action
}

// rewrapKeys wraps every key of k not under the keyring's current master
// key again with it (a master key rotation), records it in the audit trail,
// and returns how many it changed. Each key is swapped only if it is still
// the one read, so a concurrent rotation cannot lose a key; run again after
// a failure, it carries on.
func (s *Store) rewrapKeys(ctx context.Context, by notifier.Actor, ring *vault.Keyring, k wrappedKeys) (int, error) {
	rows, err := s.pool.Query(ctx, k.old, ring.CurrentID())
	if err != nil {
		return 0, wrap("rewrap "+k.what, err)
	}
	type stored struct {
		id int64
		w  vault.WrappedKey
	}
	var old []stored
	var one stored
	if _, err := pgx.ForEachRow(rows, []any{&one.id, &one.w.MasterID, &one.w.Sealed}, func() error {
		old = append(old, one)
		return nil
	}); err != nil {
		return 0, wrap("rewrap "+k.what, err)
	}
	n := 0
	for _, o := range old {
		nw, changed, err := ring.Rewrap(k.scope(o.id), o.w)
		if err != nil {
			return n, fmt.Errorf("rewrap "+k.one+": %w", o.id, err)
		}
		if !changed {
			continue
		}
		tag, err := s.pool.Exec(ctx, k.swap, o.id, nw.MasterID, nw.Sealed, o.w.MasterID, o.w.Sealed)
		if err != nil {
			return n, wrap("rewrap "+k.what, err)
		}
		n += int(tag.RowsAffected())
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		return s.appendAudit(ctx, tx, by, auditEvent{k.action, "master_key", ring.CurrentID(), map[string]any{"rewrapped": n}})
	})
	return n, wrap("rewrap "+k.what, err)
}

// EvidenceObject is one encrypted object to store: its name (the SHA-256
// of its plaintext) and its ciphertext.
type EvidenceObject struct {
	Name       []byte
	Ciphertext []byte
}

// WriteEvidence stores objects of an incident by COPY in the caller's
// transaction, each cut into rows of EvidenceSegmentSize. An object
// already stored must not be written again (names are unique per
// incident): the caller skips the messages it has.
func (s *Store) WriteEvidence(ctx context.Context, tx pgx.Tx, incidentID int64, objects []EvidenceObject) error {
	var rows [][]any
	for _, o := range objects {
		data := o.Ciphertext
		for seq := 0; seq == 0 || len(data) > 0; seq++ {
			n := min(len(data), EvidenceSegmentSize)
			rows = append(rows, []any{incidentID, o.Name, int32(seq), data[:n]})
			data = data[n:]
		}
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"evidence_blobs"}, []string{"incident_id", "object", "seq", "data"}, pgx.CopyFromRows(rows))
	return wrap("write evidence", err)
}

// EvidenceReader reads the ciphertext of one object back, one row per
// query: a reader as slow as it likes holds no connection. It returns a
// not-found error for an object the incident does not have.
func (s *Store) EvidenceReader(ctx context.Context, incidentID int64, name []byte) (io.Reader, error) {
	r := &evidenceReader{ctx: ctx, s: s, incidentID: incidentID, name: name}
	if err := r.fetch(); err != nil {
		return nil, notFound(err, "no such evidence in incident %d", incidentID)
	}
	return r, nil
}

type evidenceReader struct {
	ctx        context.Context
	s          *Store
	incidentID int64
	name       []byte
	seq        int32
	buf        []byte
	done       bool
}

func (r *evidenceReader) fetch() error {
	err := r.s.pool.QueryRow(r.ctx, `SELECT data FROM evidence_blobs WHERE incident_id = $1 AND object = $2 AND seq = $3`,
		r.incidentID, r.name, r.seq).Scan(&r.buf)
	if errors.Is(err, pgx.ErrNoRows) && r.seq > 0 {
		r.done = true
		return nil
	}
	r.seq++
	return err
}

func (r *evidenceReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.done {
			return 0, io.EOF
		}
		if err := r.fetch(); err != nil {
			return 0, wrap("read evidence", err)
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// ShredEvidence destroys an incident's evidence without a record or an
// audit entry (the purge use case, StartEvidencePurge and
// FinishEvidencePurge, records both): first its data key, in a
// transaction of its own, so that from that commit on nothing of the
// incident's evidence can be read, here or in any backup; then the
// ciphertext and the messages' metadata, in batches. A purge interrupted
// after the first step is finished by running it again. It returns the
// number of rows deleted.
func (s *Store) ShredEvidence(ctx context.Context, incidentID int64) (int64, error) {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var found bool
		if err := tx.QueryRow(ctx, `SELECT true FROM incidents WHERE id = $1 FOR UPDATE`, incidentID).Scan(&found); err != nil {
			return notFound(err, "no incident %d", incidentID)
		}
		_, err := shredKey(ctx, tx, incidentID)
		return err
	})
	if err != nil {
		return 0, wrap("shred evidence key", err)
	}
	return s.deleteEvidenceRows(ctx, incidentID)
}
