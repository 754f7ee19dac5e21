package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// What the console keeps and reads beside the API: its server-side sessions, its audit of actions, and a few
// read-only figures no API route lists (redemptions by status, enrolments per challenge, a member's open lots).

// ConsoleSession is a signed-in console session and the API key it speaks for.
type ConsoleSession struct {
	Key       APIKey
	CSRFToken string
	CreatedAt time.Time
	ExpiresAt time.Time
}

func sessionHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// OpenConsoleSession records a session for the key, known by token (its SHA-256 only is kept), until expiresAt at
// most.
func (s *Store) OpenConsoleSession(ctx context.Context, token string, keyID int64, csrf string, now, expiresAt time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO console_sessions (token_hash, api_key_id, csrf_token, created_at, last_seen_at, expires_at)
		VALUES ($1, $2, $3, $4, $4, $5)`, sessionHash(token), keyID, csrf, now, expiresAt)
	return wrap("open console session", err)
}

// ConsoleSessionFor finds the live session of token at now and marks it seen: not ended, not past its expiry, seen
// within idle, and its key not revoked. Anything else → domain.ErrUnauthorized.
func (s *Store) ConsoleSessionFor(ctx context.Context, token string, now time.Time, idle time.Duration) (ConsoleSession, error) {
	var cs ConsoleSession
	k := &cs.Key
	err := s.pool.QueryRow(ctx, `UPDATE console_sessions cs SET last_seen_at = $2
		FROM api_keys k
		WHERE cs.token_hash = $1 AND k.id = cs.api_key_id AND k.revoked_at IS NULL AND cs.ended_at IS NULL
		  AND cs.expires_at > $2 AND cs.last_seen_at > $2 - make_interval(secs => $3)
		RETURNING cs.csrf_token, cs.created_at, cs.expires_at, k.id, k.name, k.role, COALESCE(k.key_prefix, ''), k.created_at`,
		sessionHash(token), now, idle.Seconds()).
		Scan(&cs.CSRFToken, &cs.CreatedAt, &cs.ExpiresAt, &k.ID, &k.Name, &k.Role, &k.Prefix, &k.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return cs, domain.Errorf(domain.ErrUnauthorized, "no such session, or it has ended")
	}
	return cs, wrap("console session", err)
}

// EndConsoleSession ends the session of token (signing out); ending an ended or unknown session does nothing.
func (s *Store) EndConsoleSession(ctx context.Context, token string, now time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE console_sessions SET ended_at = $2 WHERE token_hash = $1 AND ended_at IS NULL`, sessionHash(token), now)
	return wrap("end console session", err)
}

// ConsoleAction is one action taken through the console.
type ConsoleAction struct {
	At     time.Time
	Actor  string
	Action string
	Target string
	Status int
}

// RecordConsoleAction audits an action taken through the console by actor, with the status it ended with.
func (s *Store) RecordConsoleAction(ctx context.Context, a ConsoleAction) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO console_audit (at, actor, action, target, status) VALUES ($1, $2, $3, $4, $5)`,
		a.At, a.Actor, a.Action, a.Target, a.Status)
	return wrap("audit console action", err)
}

// ConsoleActions lists the console actions of actor, oldest first.
func (s *Store) ConsoleActions(ctx context.Context, actor string) ([]ConsoleAction, error) {
	rows, err := s.pool.Query(ctx, `SELECT at, actor, action, target, status FROM console_audit WHERE actor = $1 ORDER BY id`, actor)
	if err != nil {
		return nil, wrap("console actions", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ConsoleAction, error) {
		var a ConsoleAction
		return a, r.Scan(&a.At, &a.Actor, &a.Action, &a.Target, &a.Status)
	})
	return out, wrap("console actions", err)
}

// RedemptionsByStatus counts every redemption by its status.
func (s *Store) RedemptionsByStatus(ctx context.Context) (map[domain.RedemptionStatus]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT status, count(*) FROM redemptions GROUP BY status`)
	if err != nil {
		return nil, wrap("redemptions by status", err)
	}
	out := map[domain.RedemptionStatus]int64{}
	var st string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&st, &n}, func() error {
		out[domain.RedemptionStatus(st)] = n
		return nil
	})
	return out, wrap("redemptions by status", err)
}

// EnrolmentCounts is how many members enrolled in a challenge, and how many completed it.
type EnrolmentCounts struct {
	Enrolled, Completed int64
}

// ChallengeEnrolmentCounts counts the enrolments of every challenge that has one.
func (s *Store) ChallengeEnrolmentCounts(ctx context.Context) (map[string]EnrolmentCounts, error) {
	rows, err := s.pool.Query(ctx, `SELECT challenge_id::text, count(*), count(*) FILTER (WHERE status = 'completed')
		FROM challenge_enrolments GROUP BY challenge_id`)
	if err != nil {
		return nil, wrap("enrolment counts", err)
	}
	out := map[string]EnrolmentCounts{}
	var id string
	var c EnrolmentCounts
	_, err = pgx.ForEachRow(rows, []any{&id, &c.Enrolled, &c.Completed}, func() error {
		out[id] = c
		return nil
	})
	return out, wrap("enrolment counts", err)
}

// OpenLots lists a member's lots with points left, soonest to expire first (those that never expire last).
func (s *Store) OpenLots(ctx context.Context, memberID string) ([]domain.Lot, error) {
	rows, err := s.pool.Query(ctx, `SELECT entry_id, points, remaining, available_at, expires_at FROM ledger_lots
		WHERE member_id = $1 AND remaining > 0 ORDER BY expires_at NULLS LAST, entry_id LIMIT 500`, memberID)
	if err != nil {
		return nil, wrap("open lots", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.Lot, error) {
		var l domain.Lot
		return l, r.Scan(&l.ID, &l.Points, &l.Remaining, &l.AvailableAt, &l.ExpiresAt)
	})
	return out, wrap("open lots", err)
}
