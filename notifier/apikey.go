package notifier

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"strings"
	"unicode/utf8"
)

// API keys look like bn_<prefix>_<secret>: the prefix (50 random bits) finds
// the key's row, the secret (256 random bits) proves possession. Only the
// SHA-256 of the whole key is stored; a high-entropy key needs no slow hash.
const (
	apiKeyScheme    = "bn_"
	apiKeyPrefixLen = 10
	apiKeySecretLen = 52
)

var keyEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewAPIKey returns a fresh key, its public prefix and the hash to store.
func NewAPIKey() (key, prefix string, hash []byte) {
	p := make([]byte, 7)
	s := make([]byte, 32)
	_, _ = rand.Read(p) // crypto/rand.Read never fails on supported platforms
	_, _ = rand.Read(s)
	prefix = keyEncoding.EncodeToString(p)[:apiKeyPrefixLen]
	key = apiKeyScheme + prefix + "_" + keyEncoding.EncodeToString(s)
	h := sha256.Sum256([]byte(key))
	return key, prefix, h[:]
}

// ParseAPIKey checks a presented key's shape and returns its prefix and
// hash. Anything malformed is refused before the database is asked.
func ParseAPIKey(key string) (prefix string, hash []byte, ok bool) {
	if len(key) != len(apiKeyScheme)+apiKeyPrefixLen+1+apiKeySecretLen || !strings.HasPrefix(key, apiKeyScheme) || !utf8.ValidString(key) {
		return "", nil, false
	}
	rest := key[len(apiKeyScheme):]
	prefix, secret, found := strings.Cut(rest, "_")
	if !found || len(prefix) != apiKeyPrefixLen || len(secret) != apiKeySecretLen {
		return "", nil, false
	}
	for _, part := range []string{prefix, secret} {
		for i := 0; i < len(part); i++ {
			c := part[i]
			if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
				return "", nil, false
			}
		}
	}
	h := sha256.Sum256([]byte(key))
	return prefix, h[:], true
}

// CreateAPIKey makes a new key and returns it; the key itself is shown once
// and never stored. Admins do it through the API; the `apikey create`
// command does it locally as LocalActor.
func (s *Service) CreateAPIKey(ctx context.Context, by Actor, name string, role Role) (string, APIKey, error) {
	if err := requireRole(by, RoleAdmin); err != nil {
		return "", APIKey{}, err
	}
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 100 || strings.IndexFunc(name, forbiddenRune) >= 0 {
		return "", APIKey{}, Errorf(CodeInvalid, "name is required: one line, at most 100 characters")
	}
	if !role.Valid() {
		return "", APIKey{}, Errorf(CodeInvalid, "role must be admin, operator or viewer")
	}
	key, prefix, hash := NewAPIKey()
	k, err := s.store.CreateAPIKey(ctx, by, name, role, prefix, hash)
	if err != nil {
		return "", APIKey{}, err
	}
	return key, k, nil
}

// Authenticate returns the Actor for a presented key. A malformed, unknown
// or revoked key gets the same CodeUnauthorized error.
func (s *Service) Authenticate(ctx context.Context, key string) (Actor, error) {
	denied := Errorf(CodeUnauthorized, "the API key is missing, malformed, unknown or revoked")
	prefix, hash, ok := ParseAPIKey(key)
	if !ok {
		return Actor{}, denied
	}
	k, stored, err := s.store.APIKeyByPrefix(ctx, prefix)
	if ErrorCode(err) == CodeNotFound {
		return Actor{}, denied
	}
	if err != nil {
		return Actor{}, err
	}
	if subtle.ConstantTimeCompare(stored, hash) != 1 {
		return Actor{}, denied
	}
	return Actor{KeyID: k.ID, Name: k.Name, Role: k.Role}, nil
}

// APIKeys lists every key (admin only).
func (s *Service) APIKeys(ctx context.Context, by Actor) ([]APIKey, error) {
	if err := requireRole(by, RoleAdmin); err != nil {
		return nil, err
	}
	return s.store.APIKeys(ctx)
}

// RevokeAPIKey revokes a key (admin only); it stops working at once.
func (s *Service) RevokeAPIKey(ctx context.Context, by Actor, id int64) (APIKey, error) {
	if err := requireRole(by, RoleAdmin); err != nil {
		return APIKey{}, err
	}
	if by.KeyID == id {
		return APIKey{}, Errorf(CodeConflict, "a key cannot revoke itself; use another admin key")
	}
	return s.store.RevokeAPIKey(ctx, by, id)
}

// LocalActor is the caller of commands run on the server with database
// access (`breachnotify apikey ...`): it has every right, and the audit
// trail names it with the operating system user.
func LocalActor(osUser string) Actor {
	return Actor{Name: fmt.Sprintf("local command line (%s)", osUser), Role: RoleAdmin}
}
