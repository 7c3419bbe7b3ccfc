package store

import (
	"context"
	"crypto/rand"
)

// InstallationSecret returns the secret kept in the database, creating it on
// first use. Concurrent first calls agree on one value (ON CONFLICT).
func (s *Store) InstallationSecret(ctx context.Context) ([]byte, error) {
	fresh := make([]byte, 32)
	_, _ = rand.Read(fresh)
	var secret []byte
	err := s.pool.QueryRow(ctx, `
WITH ins AS (
    INSERT INTO settings (name, value) VALUES ('installation_secret', $1)
    ON CONFLICT (name) DO NOTHING RETURNING value
)
SELECT value FROM ins UNION ALL SELECT value FROM settings WHERE name = 'installation_secret' LIMIT 1`, fresh).Scan(&secret)
	return secret, wrap("installation secret", err)
}
