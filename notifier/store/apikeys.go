package store

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/breachnotify/breachnotify/notifier"
)

const apiKeyColumns = `id, name, role, prefix, created_at, revoked_at, last_used_at`

func scanAPIKey(row pgx.Row, extra ...any) (notifier.APIKey, error) {
	var k notifier.APIKey
	dest := append([]any{&k.ID, &k.Name, &k.Role, &k.Prefix, &k.CreatedAt, &k.RevokedAt, &k.LastUsedAt}, extra...)
	err := row.Scan(dest...)
	return k, err
}

// CreateAPIKey stores a new key's prefix and hash.
func (s *Store) CreateAPIKey(ctx context.Context, by notifier.Actor, name string, role notifier.Role, prefix string, secretHash []byte) (notifier.APIKey, error) {
	const q = `INSERT INTO api_keys (name, role, prefix, secret_hash) VALUES ($1, $2, $3, $4) RETURNING ` + apiKeyColumns
	var k notifier.APIKey
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if k, err = scanAPIKey(tx.QueryRow(ctx, q, name, role, prefix, secretHash)); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, by, auditEvent{"apikey.create", "apikey", strconv.FormatInt(k.ID, 10), map[string]any{"name": name, "role": role}})
	})
	return k, wrap("create api key", err)
}

// APIKeys lists every key, revoked ones included, by id.
func (s *Store) APIKeys(ctx context.Context) ([]notifier.APIKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys ORDER BY id`)
	if err != nil {
		return nil, wrap("list api keys", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (notifier.APIKey, error) { return scanAPIKey(r) })
	return keys, wrap("list api keys", err)
}

// RevokeAPIKey revokes a key; it stops working at once (every request
// looks the key up). Revoking a revoked key changes nothing.
func (s *Store) RevokeAPIKey(ctx context.Context, by notifier.Actor, id int64) (notifier.APIKey, error) {
	var k notifier.APIKey
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		k, err = scanAPIKey(tx.QueryRow(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING `+apiKeyColumns, id))
		if err != nil {
			return notFound(err, "no API key %d", id)
		}
		return s.appendAudit(ctx, tx, by, auditEvent{"apikey.revoke", "apikey", strconv.FormatInt(id, 10), map[string]any{"name": k.Name}})
	})
	return k, wrap("revoke api key", err)
}

// APIKeyByPrefix returns an unrevoked key and its hash, and notes its use.
// The note is best effort and at most once a minute per key, so a busy
// client does not turn every request into a write.
func (s *Store) APIKeyByPrefix(ctx context.Context, prefix string) (notifier.APIKey, []byte, error) {
	const q = `SELECT ` + apiKeyColumns + `, secret_hash FROM api_keys WHERE prefix = $1 AND revoked_at IS NULL`
	var hash []byte
	k, err := scanAPIKey(s.pool.QueryRow(ctx, q, prefix), &hash)
	if err != nil {
		return k, nil, wrap("find api key", notFound(err, "no such key"))
	}
	if k.LastUsedAt == nil || time.Since(*k.LastUsedAt) > time.Minute {
		_, _ = s.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = now()
			WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`, k.ID)
	}
	return k, hash, nil
}
