package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// What the member app (/app/) keeps beside the API: its sign-in links and its sessions. Tokens are known only by
// their SHA-256 (sessionHash); emails and client addresses only by the keyed hashes the app computes.

// SignInLink is a sign-in link as it is recorded: hashes only.
type SignInLink struct {
	TokenHash []byte
	EmailHash []byte
	IPHash    []byte
	// MemberID is the member the email belonged to when the link was asked for; "" when it was nobody's (the link
	// is recorded all the same, and opens nothing).
	MemberID  string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// ActiveMemberByEmail is the id of the active member whose email is email (compared case-insensitively), or "" when
// there is none.
func (s *Store) ActiveMemberByEmail(ctx context.Context, email string) (string, error) {
	var id string
	err := s.pool.QueryRow(ctx, `SELECT id::text FROM members WHERE email IS NOT NULL AND lower(email) = lower($1)
		AND status = 'active'`, email).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return id, wrap("member by email", err)
}

// SignInRequestCounts counts the links asked for since since, for the email's hash and for the address's hash.
func (s *Store) SignInRequestCounts(ctx context.Context, emailHash, ipHash []byte, since time.Time) (byEmail, byIP int, err error) {
	err = s.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM member_app_links WHERE email_hash = $1 AND created_at > $3),
		(SELECT count(*) FROM member_app_links WHERE ip_hash = $2 AND created_at > $3)`, emailHash, ipHash, since).
		Scan(&byEmail, &byIP)
	return byEmail, byIP, wrap("count sign-in requests", err)
}

// RecordSignInLink records a link asked for, and prunes the links made more than a day before it.
func (s *Store) RecordSignInLink(ctx context.Context, l SignInLink) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var member *string
		if l.MemberID != "" {
			member = &l.MemberID
		}
		if _, err := tx.Exec(ctx, `INSERT INTO member_app_links (token_hash, email_hash, ip_hash, member_id, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, l.TokenHash, l.EmailHash, l.IPHash, member, l.CreatedAt, l.ExpiresAt); err != nil {
			return wrap("record sign-in link", err)
		}
		_, err := tx.Exec(ctx, `DELETE FROM member_app_links WHERE created_at < $1`, l.CreatedAt.Add(-24*time.Hour))
		return wrap("prune sign-in links", err)
	})
}

// UseSignInLink spends the link whose token hashes to tokenHash, at now: it must be a member's, unused and not
// expired. It returns the member and the email hash the link was sent to, with the member's email now (to check
// the link is still bound to it). A link that cannot be used → domain.ErrUnauthorized. A link is spent by the first
// use only, whatever happens next.
func (s *Store) UseSignInLink(ctx context.Context, tokenHash []byte, now time.Time) (memberID string, emailHash []byte, email string, err error) {
	var em *string
	err = s.pool.QueryRow(ctx, `UPDATE member_app_links l SET used_at = $2
		FROM members m
		WHERE l.token_hash = $1 AND l.used_at IS NULL AND l.expires_at > $2 AND m.id = l.member_id
		RETURNING l.member_id::text, l.email_hash, m.email`, tokenHash, now).Scan(&memberID, &emailHash, &em)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil, "", domain.Errorf(domain.ErrUnauthorized, "no such sign-in link, or it was used or has expired")
	}
	if em != nil {
		email = *em
	}
	return memberID, emailHash, email, wrap("use sign-in link", err)
}

// SignInLinkUsable reports whether the link whose token hashes to tokenHash could be used at now (without using
// it).
func (s *Store) SignInLinkUsable(ctx context.Context, tokenHash []byte, now time.Time) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM member_app_links WHERE token_hash = $1 AND used_at IS NULL
		AND expires_at > $2 AND member_id IS NOT NULL)`, tokenHash, now).Scan(&ok)
	return ok, wrap("sign-in link", err)
}

// MemberSession is a member's signed-in session in the member app.
type MemberSession struct {
	MemberID  string
	CSRFToken string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// OpenMemberSession records a session of the member, known by token (its SHA-256 only is kept), until expiresAt.
func (s *Store) OpenMemberSession(ctx context.Context, token, memberID, csrf string, now, expiresAt time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO member_app_sessions (token_hash, member_id, csrf_token, created_at, last_seen_at, expires_at)
		VALUES ($1, $2, $3, $4, $4, $5)`, sessionHash(token), memberID, csrf, now, expiresAt)
	return wrap("open member session", err)
}

// MemberSessionFor finds the live session of token at now and marks it seen: not ended, not expired, its member
// active, and not opened before the member's tokens were revoked (signed out everywhere, erased). Anything else →
// domain.ErrUnauthorized.
func (s *Store) MemberSessionFor(ctx context.Context, token string, now time.Time) (MemberSession, error) {
	var ms MemberSession
	err := s.pool.QueryRow(ctx, `UPDATE member_app_sessions ss SET last_seen_at = $2
		FROM members m
		WHERE ss.token_hash = $1 AND m.id = ss.member_id AND m.status = 'active' AND ss.ended_at IS NULL
		  AND ss.expires_at > $2 AND (m.tokens_not_before IS NULL OR ss.created_at > m.tokens_not_before)
		RETURNING ss.member_id::text, ss.csrf_token, ss.created_at, ss.expires_at`, sessionHash(token), now).
		Scan(&ms.MemberID, &ms.CSRFToken, &ms.CreatedAt, &ms.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return ms, domain.Errorf(domain.ErrUnauthorized, "no such session, or it has ended")
	}
	return ms, wrap("member session", err)
}

// EndMemberSession ends the session of token (signing out); ending an ended or unknown session does nothing.
func (s *Store) EndMemberSession(ctx context.Context, token string, now time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE member_app_sessions SET ended_at = $2 WHERE token_hash = $1 AND ended_at IS NULL`, sessionHash(token), now)
	return wrap("end member session", err)
}

// UseSignInHandoff records that the hand-off token hashing to tokenHash opened a session of the member at now; the
// token could be used until expiresAt. A token used before → domain.ErrUnauthorized: a hand-off opens one session
// only. Hand-offs past their expiresAt are pruned (they could not be used again anyway).
func (s *Store) UseSignInHandoff(ctx context.Context, tokenHash []byte, memberID string, now, expiresAt time.Time) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM member_app_handoffs WHERE expires_at < $1`, now); err != nil {
			return wrap("prune sign-in hand-offs", err)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO member_app_handoffs (token_hash, member_id, used_at, expires_at)
			VALUES ($1, $2, $3, $4) ON CONFLICT (token_hash) DO NOTHING`, tokenHash, memberID, now, expiresAt)
		if err != nil {
			return wrap("record sign-in hand-off", err)
		}
		if tag.RowsAffected() == 0 {
			return domain.Errorf(domain.ErrUnauthorized, "this sign-in hand-off was used before")
		}
		return nil
	})
}
