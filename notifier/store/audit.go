package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

// auditLockKey serialises appends to the audit chain (a transaction-scoped
// advisory lock, released at commit).
const auditLockKey = 0x6175_6469_745f_6c6f // "audit_lo"

// auditEvent is what a use case records.
type auditEvent struct {
	action     string
	targetType string
	targetID   string
	details    any
}

// appendAudit adds one entry to the audit chain inside tx, so the entry and
// the change it records commit together. It should be the transaction's
// last statement: the chain lock is held until commit. The entry is keyed
// with the current audit key.
func (s *Store) appendAudit(ctx context.Context, tx pgx.Tx, by notifier.Actor, ev auditEvent) error {
	if s.auditKeys == nil {
		// An unkeyed entry after keyed ones would break the chain.
		return fmt.Errorf("append audit entry: the store has no audit key")
	}
	details := []byte("{}")
	if ev.details != nil {
		var err error
		if details, err = json.Marshal(ev.details); err != nil {
			return fmt.Errorf("audit details: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(auditLockKey)); err != nil {
		return fmt.Errorf("audit lock: %w", err)
	}
	var at time.Time
	prev := notifier.AuditGenesis
	if err := tx.QueryRow(ctx, `SELECT now(), coalesce((SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1), $1)`, notifier.AuditGenesis).
		Scan(&at, &prev); err != nil {
		return fmt.Errorf("audit chain head: %w", err)
	}
	e := notifier.AuditEntry{
		At: at, ActorKey: nullableKey(by), ActorName: actorName(by), Action: ev.action,
		TargetType: ev.targetType, TargetID: ev.targetID, RequestID: notifier.RequestIDFrom(ctx),
		Details: string(details), PrevHash: prev,
	}
	s.auditKeys.Seal(&e)
	_, err := tx.Exec(ctx, `INSERT INTO audit_log (at, actor_key, actor_name, action, target_type, target_id, request_id, details, prev_hash, hash, scheme, key_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		e.At, e.ActorKey, e.ActorName, e.Action, e.TargetType, e.TargetID, e.RequestID, e.Details, e.PrevHash, e.Hash, string(e.Scheme), e.KeyID)
	return wrap("append audit entry", err)
}

// actorName is how the trail names who acted: the key's name and id, or
// the local command line for actions taken with database access.
func actorName(by notifier.Actor) string {
	if by.KeyID == 0 {
		if by.Name != "" {
			return by.Name
		}
		return "local command line"
	}
	return by.Name
}

// Audit records an action that changes nothing else (a report export, a
// portal view) in its own transaction.
func (s *Store) Audit(ctx context.Context, by notifier.Actor, action, targetType, targetID string, details any) error {
	return wrap("audit", s.inTx(ctx, func(tx pgx.Tx) error {
		return s.appendAudit(ctx, tx, by, auditEvent{action: action, targetType: targetType, targetID: targetID, details: details})
	}))
}

const auditColumns = `id, at, actor_key, actor_name, action, target_type, target_id, request_id, details, prev_hash, hash, scheme, key_id`

func scanAudit(r pgx.CollectableRow) (notifier.AuditEntry, error) {
	var e notifier.AuditEntry
	err := r.Scan(&e.ID, &e.At, &e.ActorKey, &e.ActorName, &e.Action, &e.TargetType, &e.TargetID, &e.RequestID, &e.Details, &e.PrevHash, &e.Hash, &e.Scheme, &e.KeyID)
	return e, err
}

// AuditEntries lists the trail newest first.
func (s *Store) AuditEntries(ctx context.Context, f notifier.AuditFilter, p notifier.Page) ([]notifier.AuditEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+auditColumns+` FROM audit_log
		WHERE ($1 = 0 OR id < $1) AND ($2 = '' OR action = $2) AND ($3 = '' OR target_type = $3) AND ($4 = '' OR target_id = $4)
		ORDER BY id DESC LIMIT $5`, p.After, f.Action, f.TargetType, f.TargetID, p.Limit+1)
	if err != nil {
		return nil, wrap("list audit", err)
	}
	es, err := pgx.CollectRows(rows, scanAudit)
	return es, wrap("list audit", err)
}

// WalkAudit feeds the chain, oldest first, from the entry with id fromID
// on (0: the whole chain), to fn until it returns false. One query, so one
// snapshot: entries appended meanwhile are not included.
func (s *Store) WalkAudit(ctx context.Context, fromID int64, fn func(notifier.AuditEntry) bool) error {
	rows, err := s.pool.Query(ctx, `SELECT `+auditColumns+` FROM audit_log WHERE id >= $1 ORDER BY id`, fromID)
	if err != nil {
		return wrap("walk audit", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return wrap("walk audit", err)
		}
		if !fn(e) {
			return nil
		}
	}
	return wrap("walk audit", rows.Err())
}

// LatestAuditCheckpoint returns the newest stored checkpoint of the chain.
func (s *Store) LatestAuditCheckpoint(ctx context.Context) (notifier.AuditCheckpoint, bool, error) {
	var cp notifier.AuditCheckpoint
	err := s.pool.QueryRow(ctx, `SELECT entry_id, entries, hash, at, mac FROM audit_checkpoints ORDER BY id DESC LIMIT 1`).
		Scan(&cp.EntryID, &cp.Entries, &cp.Hash, &cp.At, &cp.MAC)
	if errors.Is(err, pgx.ErrNoRows) {
		return notifier.AuditCheckpoint{}, false, nil
	}
	return cp, err == nil, wrap("latest audit checkpoint", err)
}

// AddAuditCheckpoint stores a checkpoint of the chain, noting who took it.
func (s *Store) AddAuditCheckpoint(ctx context.Context, cp notifier.AuditCheckpoint, takenBy string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_checkpoints (entry_id, entries, hash, at, mac, taken_by) VALUES ($1, $2, $3, $4, $5, $6)`,
		cp.EntryID, cp.Entries, cp.Hash, cp.At, cp.MAC, takenBy)
	return wrap("add audit checkpoint", err)
}
