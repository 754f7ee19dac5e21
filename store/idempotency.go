package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// IdempotencyTTL is how long the answer to an Idempotency-Key is kept and replayed. After it, the key is forgotten
// (and pruned) and a request carrying it is served afresh.
const IdempotencyTTL = 24 * time.Hour

// IdempotencyState says what a claimed Idempotency-Key found.
type IdempotencyState int

const (
	// IdempotencyNew: the key was free (or expired, or abandoned); the caller now holds it and must Complete or
	// Release it.
	IdempotencyNew IdempotencyState = iota
	// IdempotencyRunning: another request with this key and the same content is being served.
	IdempotencyRunning
	// IdempotencyDone: the key's first answer is stored; replay it.
	IdempotencyDone
	// IdempotencyMismatch: the key was used with another request (method, path or body).
	IdempotencyMismatch
)

// StoredResponse is the answer kept for an Idempotency-Key.
type StoredResponse struct {
	Status int
	// Header holds the headers worth replaying (such as Location and Content-Type), one value each.
	Header map[string]string
	Body   []byte
}

// IdempotencyClaim is the outcome of ClaimIdempotencyKey.
type IdempotencyClaim struct {
	State IdempotencyState
	// Response is the stored answer when State is IdempotencyDone.
	Response StoredResponse
	// Lease identifies this holder of the key when State is IdempotencyNew: Complete and Release need it, so that
	// a request whose key was taken over (after staleAfter) cannot overwrite or free its new holder's row.
	Lease string
}

// ClaimIdempotencyKey takes actor's key for a request with this fingerprint. A free key is taken by inserting a
// 'running' row, so that a concurrent duplicate finds it and is told IdempotencyRunning. A key whose row is older
// than IdempotencyTTL is free again; so is one still 'running' after staleAfter (its request died before finishing).
func (s *Store) ClaimIdempotencyKey(ctx context.Context, actor, key string, fingerprint []byte, staleAfter time.Duration) (IdempotencyClaim, error) {
	// A row can vanish between the insert that hit it and the read (released by its request): try again then.
	lease := newLease()
	for range 3 {
		tag, err := s.pool.Exec(ctx, `
			INSERT INTO idempotency_keys (actor, key, fingerprint, state, lease) VALUES ($1, $2, $3, 'running', $4)
			ON CONFLICT (actor, key) DO NOTHING`, actor, key, fingerprint, lease)
		if err != nil {
			return IdempotencyClaim{}, wrap("claim idempotency key", err)
		}
		if tag.RowsAffected() == 1 {
			return IdempotencyClaim{State: IdempotencyNew, Lease: lease}, nil
		}
		var (
			stored             []byte
			state              string
			status             *int
			headers            []byte
			body               []byte
			expired, abandoned bool
		)
		err = s.pool.QueryRow(ctx, `
			SELECT fingerprint, state, status, headers, body,
			       created_at < now() - make_interval(secs => $3),
			       state = 'running' AND locked_at < now() - make_interval(secs => $4)
			FROM idempotency_keys WHERE actor = $1 AND key = $2`,
			actor, key, IdempotencyTTL.Seconds(), staleAfter.Seconds()).
			Scan(&stored, &state, &status, &headers, &body, &expired, &abandoned)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return IdempotencyClaim{}, wrap("read idempotency key", err)
		}
		if expired || (abandoned && bytes.Equal(stored, fingerprint)) {
			// Take it over, unless someone else just did.
			tag, err := s.pool.Exec(ctx, `
				UPDATE idempotency_keys
				SET fingerprint = $3, state = 'running', lease = $6, status = NULL, headers = NULL, body = NULL,
				    created_at = now(), locked_at = now(), completed_at = NULL
				WHERE actor = $1 AND key = $2 AND state = $4 AND fingerprint = $5`,
				actor, key, fingerprint, state, stored, lease)
			if err != nil {
				return IdempotencyClaim{}, wrap("take over idempotency key", err)
			}
			if tag.RowsAffected() == 1 {
				return IdempotencyClaim{State: IdempotencyNew, Lease: lease}, nil
			}
			continue
		}
		if !bytes.Equal(stored, fingerprint) {
			return IdempotencyClaim{State: IdempotencyMismatch}, nil
		}
		if state == "running" {
			return IdempotencyClaim{State: IdempotencyRunning}, nil
		}
		resp := StoredResponse{Body: body}
		if status != nil {
			resp.Status = *status
		}
		if len(headers) > 0 {
			if err := json.Unmarshal(headers, &resp.Header); err != nil {
				return IdempotencyClaim{}, wrap("decode stored headers", err)
			}
		}
		return IdempotencyClaim{State: IdempotencyDone, Response: resp}, nil
	}
	// The key keeps changing hands: as if another request held it.
	return IdempotencyClaim{State: IdempotencyRunning}, nil
}

// CompleteIdempotencyKey stores the answer of the request holding actor's key under lease.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, actor, key, lease string, resp StoredResponse) error {
	headers, err := json.Marshal(resp.Header)
	if err != nil {
		return wrap("encode stored headers", err)
	}
	if resp.Body == nil {
		resp.Body = []byte{}
	}
	_, err = s.pool.Exec(ctx, `
		UPDATE idempotency_keys SET state = 'done', status = $3, headers = $4, body = $5, completed_at = now()
		WHERE actor = $1 AND key = $2 AND state = 'running' AND lease = $6`, actor, key, resp.Status, headers, resp.Body, lease)
	return wrap("complete idempotency key", err)
}

// ReleaseIdempotencyKey forgets a key whose request did nothing worth replaying (it was refused or failed), so that
// the client may retry with it.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, actor, key, lease string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE actor = $1 AND key = $2 AND state = 'running' AND lease = $3`, actor, key, lease)
	return wrap("release idempotency key", err)
}

func newLease() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// PruneIdempotencyKeys deletes keys older than IdempotencyTTL, in batches so that no lock is held long, and returns
// how many it deleted; accrual claims (ClaimAccrual) of that age go with them.
func (s *Store) PruneIdempotencyKeys(ctx context.Context) (int64, error) {
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, `
			DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
				SELECT ctid FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1) LIMIT 5000))`,
			IdempotencyTTL.Seconds())
		if err != nil {
			return total, wrap("prune idempotency keys", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < 5000 {
			// Accrual claims only tell concurrent duplicates apart; a day on, the transaction's row does.
			_, err := s.pool.Exec(ctx, `DELETE FROM accrual_claims WHERE claimed_at < now() - make_interval(secs => $1)`,
				IdempotencyTTL.Seconds())
			return total, wrap("prune accrual claims", err)
		}
	}
}
