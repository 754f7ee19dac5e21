package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// Roles an API key can have.
var Roles = []string{"pos", "marketer", "support", "admin"}

// APIKeyPrefix starts every API key so that it is recognisable (and findable by secret scanners).
const APIKeyPrefix = "pk_"

// APIKey is a stored key, without its secret.
type APIKey struct {
	ID         int64
	Name       string
	Role       string
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// HashAPIKey is how keys are stored: keys carry 256 random bits, so SHA-256 is enough and no clear key is kept.
func HashAPIKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// CreateAPIKey makes a new key with a role and returns it in clear: the only time it is ever seen.
func (s *Store) CreateAPIKey(ctx context.Context, name, role string) (string, error) {
	valid := false
	for _, r := range Roles {
		valid = valid || r == role
	}
	if !valid {
		return "", domain.Errorf(domain.ErrInvalid, "role must be one of %s", strings.Join(Roles, ", "))
	}
	if !domain.ValidIdentifier(name) {
		return "", domain.Errorf(domain.ErrInvalid, "name must be 1-128 letters, digits or . _ : -")
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	key := APIKeyPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	_, err := s.pool.Exec(ctx, `INSERT INTO api_keys (name, role, key_hash) VALUES ($1, $2, $3)`, name, role, HashAPIKey(key))
	if uniqueViolation(err) != "" {
		return "", domain.Errorf(domain.ErrConflict, "an active key named %q exists; revoke it first", name)
	}
	return key, wrap("create api key", err)
}

// RevokeAPIKey revokes the active key with this name; none → domain.ErrNotFound.
func (s *Store) RevokeAPIKey(ctx context.Context, name string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL`, name)
	if err != nil {
		return wrap("revoke api key", err)
	}
	if tag.RowsAffected() == 0 {
		return domain.Errorf(domain.ErrNotFound, "no active key named %q", name)
	}
	return nil
}

// AuthenticateAPIKey finds the active key matching key. Unknown or revoked → domain.ErrUnauthorized. It records the
// key's last use at most once a minute, so authentication costs no write on the hot path.
func (s *Store) AuthenticateAPIKey(ctx context.Context, key string) (APIKey, error) {
	var k APIKey
	var stored []byte
	hash := HashAPIKey(key)
	err := s.pool.QueryRow(ctx, `
		SELECT id, name, role, created_at, last_used_at, key_hash FROM api_keys
		WHERE key_hash = $1 AND revoked_at IS NULL`, hash).
		Scan(&k.ID, &k.Name, &k.Role, &k.CreatedAt, &k.LastUsedAt, &stored)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && subtle.ConstantTimeCompare(stored, hash) != 1) {
		return APIKey{}, domain.Errorf(domain.ErrUnauthorized, "unknown or revoked API key")
	}
	if err != nil {
		return APIKey{}, wrap("authenticate api key", err)
	}
	if k.LastUsedAt == nil || time.Since(*k.LastUsedAt) > time.Minute {
		_, _ = s.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = now() WHERE id = $1`, k.ID)
	}
	return k, nil
}
