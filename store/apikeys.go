package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	ID   int64
	Name string
	Role string
	// Prefix is the key's first characters (pk_ and six more), to recognise it in a list; "" for old keys.
	Prefix     string
	CreatedAt  time.Time
	CreatedBy  string
	LastUsedAt *time.Time
	RevokedAt  *time.Time
	RevokedBy  string
}

// apiKeyPrefixLen is how much of a key its Prefix keeps: pk_ and 6 characters (36 of its 256 random bits).
const apiKeyPrefixLen = len(APIKeyPrefix) + 6

// HashAPIKey is how keys are stored: keys carry 256 random bits, so SHA-256 is enough and no clear key is kept.
func HashAPIKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// CreateAPIKey makes a new key with a role from the command line and returns it in clear: the only time it is ever
// seen.
func (s *Store) CreateAPIKey(ctx context.Context, name, role string) (string, error) {
	_, key, err := s.IssueAPIKey(ctx, name, role, "cli")
	return key, err
}

// IssueAPIKey makes a new key with a role on behalf of actor and returns its record and the key in clear: the only
// time it is ever seen. A name an active key has → domain.ErrConflict (revoke that one first).
func (s *Store) IssueAPIKey(ctx context.Context, name, role, actor string) (APIKey, string, error) {
	var v domain.Validation
	v.Check(slices.Contains(Roles, role), "role", "must be one of %s", strings.Join(Roles, ", "))
	v.Check(domain.ValidIdentifier(name), "name", "must be 1-128 letters, digits or . _ : -, starting with a letter or digit")
	if err := v.Err(); err != nil {
		return APIKey{}, "", err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return APIKey{}, "", err
	}
	key := APIKeyPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	k := APIKey{Name: name, Role: role, Prefix: key[:apiKeyPrefixLen], CreatedBy: actor}
	err := s.pool.QueryRow(ctx, `INSERT INTO api_keys (name, role, key_hash, key_prefix, created_by) VALUES ($1, $2, $3, $4, $5)
		RETURNING id, created_at`, name, role, HashAPIKey(key), k.Prefix, actor).Scan(&k.ID, &k.CreatedAt)
	if uniqueViolation(err) != "" {
		return APIKey{}, "", domain.Errorf(domain.ErrConflict, "an active key named %q exists; revoke it first", name)
	}
	if err != nil {
		return APIKey{}, "", wrap("create api key", err)
	}
	k.CreatedAt = k.CreatedAt.UTC()
	return k, key, nil
}

// RevokeAPIKey revokes the active key with this name from the command line; none → domain.ErrNotFound.
func (s *Store) RevokeAPIKey(ctx context.Context, name string) error {
	_, err := s.RevokeAPIKeyBy(ctx, name, "cli")
	return err
}

// RevokeAPIKeyBy revokes the active key with this name on behalf of actor and returns it: it authenticates no
// request from now on, and the console sessions it opened end with it. None → domain.ErrNotFound.
//
// The revocation is announced on APIKeyChannel in its transaction, so that API processes caching the key (which
// listen there) forget it at once, and the hooks given to OnAPIKeyRevoked run once it is committed.
func (s *Store) RevokeAPIKeyBy(ctx context.Context, name, actor string) (APIKey, error) {
	var k APIKey
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		k, err = scanAPIKey(tx.QueryRow(ctx, `UPDATE api_keys SET revoked_at = now(), revoked_by = $2
			WHERE name = $1 AND revoked_at IS NULL RETURNING `+apiKeyColumns, name, actor))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, APIKeyChannel, strconv.FormatInt(k.ID, 10))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return APIKey{}, domain.Errorf(domain.ErrNotFound, "no active key named %q", name)
	}
	if err != nil {
		return APIKey{}, wrap("revoke api key", err)
	}
	s.revokeHooks.run(k.ID)
	return k, nil
}

// APIKeyChannel is the Postgres NOTIFY channel on which a key's revocation is announced (the payload is its id).
const APIKeyChannel = "perkflow_api_keys"

// revokeHooks are the functions run after a key is revoked through this store (or a copy of it).
type revokeHooks struct {
	mu  sync.Mutex
	fns []func(id int64)
}

func (h *revokeHooks) run(id int64) {
	h.mu.Lock()
	fns := slices.Clone(h.fns)
	h.mu.Unlock()
	for _, fn := range fns {
		fn(id)
	}
}

// OnAPIKeyRevoked runs fn after each key revocation this process commits through the store, with the key's id:
// what an API process caching keys uses to forget a key it revoked itself without waiting for the announcement.
func (s *Store) OnAPIKeyRevoked(fn func(id int64)) {
	s.revokeHooks.mu.Lock()
	defer s.revokeHooks.mu.Unlock()
	s.revokeHooks.fns = append(s.revokeHooks.fns, fn)
}

const apiKeyColumns = `id, name, role, COALESCE(key_prefix, ''), created_at, COALESCE(created_by, ''), last_used_at, revoked_at,
	COALESCE(revoked_by, '')`

func scanAPIKey(row pgx.Row) (APIKey, error) {
	var k APIKey
	err := row.Scan(&k.ID, &k.Name, &k.Role, &k.Prefix, &k.CreatedAt, &k.CreatedBy, &k.LastUsedAt, &k.RevokedAt, &k.RevokedBy)
	k.CreatedAt = k.CreatedAt.UTC()
	for _, t := range []**time.Time{&k.LastUsedAt, &k.RevokedAt} {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
	return k, err
}

// ListAPIKeys lists every key, active and revoked, newest first, after the cursor (a key id of an earlier page; 0 for
// the first), at most limit; it returns the cursor of the next page (0 on the last).
func (s *Store) ListAPIKeys(ctx context.Context, before int64, limit int) ([]APIKey, int64, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.pool.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE id < $1 ORDER BY id DESC LIMIT $2`, before, limit+1)
	if err != nil {
		return nil, 0, wrap("list api keys", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (APIKey, error) { return scanAPIKey(r) })
	if err != nil {
		return nil, 0, wrap("list api keys", err)
	}
	var next int64
	if len(keys) > limit {
		keys = keys[:limit]
		next = keys[limit-1].ID
	}
	return keys, next, nil
}

// AuthenticateAPIKey finds the active key matching key. Unknown or revoked → domain.ErrUnauthorized. It records the
// key's last use at most once a minute, so authentication costs no write on the hot path.
func (s *Store) AuthenticateAPIKey(ctx context.Context, key string) (APIKey, error) {
	var k APIKey
	var stored []byte
	hash := HashAPIKey(key)
	err := s.pool.QueryRow(ctx, `
		SELECT id, name, role, COALESCE(key_prefix, ''), created_at, last_used_at, key_hash FROM api_keys
		WHERE key_hash = $1 AND revoked_at IS NULL`, hash).
		Scan(&k.ID, &k.Name, &k.Role, &k.Prefix, &k.CreatedAt, &k.LastUsedAt, &stored)
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
