package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// CreateMember enrols a member and opens their balance, idempotently on the member id: creating the same member
// again succeeds without change. Another member holding the email or external id → domain.ErrConflict.
func (s *Store) CreateMember(ctx context.Context, r domain.Registration) (domain.Member, error) {
	var birth *time.Time
	if r.Birthdate != "" {
		d, err := time.Parse(time.DateOnly, r.Birthdate)
		if err != nil {
			return domain.Member{}, domain.Errorf(domain.ErrInvalid, "birthdate %q is not a date", r.Birthdate)
		}
		birth = &d
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			INSERT INTO members (id, external_id, email, phone, name, birthdate, consent_email, consent_sms)
			VALUES ($1, NULLIF($2, ''), $3, NULLIF($4, ''), $5, $6, $7, $8)
			ON CONFLICT (id) DO NOTHING`,
			r.MemberID, r.ExternalID, r.Email, r.Phone, r.Name, birth, r.Consent.Email, r.Consent.SMS)
		if c := uniqueViolation(err); c != "" {
			if c == "members_external_id_key" {
				return domain.Errorf(domain.ErrConflict, "a member with this external_id already exists")
			}
			return domain.Errorf(domain.ErrConflict, "a member with this email already exists")
		}
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return nil // already created by an earlier attempt
		}
		_, err = tx.Exec(ctx, `INSERT INTO member_balances (member_id) VALUES ($1)`, r.MemberID)
		return err
	})
	if err != nil {
		return domain.Member{}, wrap("create member", err)
	}
	return s.GetMember(ctx, r.MemberID)
}

// GetMember reads a member; a missing one → domain.ErrNotFound.
func (s *Store) GetMember(ctx context.Context, id string) (domain.Member, error) {
	var (
		m                    domain.Member
		ext, email, ph, name *string
		birth                *time.Time
	)
	err := s.pool.QueryRow(ctx, `
		SELECT id::text, external_id, email, phone, name, birthdate, consent_email, consent_sms, status, joined_at
		FROM members WHERE id = $1`, id).
		Scan(&m.MemberID, &ext, &email, &ph, &name, &birth, &m.Consent.Email, &m.Consent.SMS, &m.Status, &m.JoinedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return m, domain.Errorf(domain.ErrNotFound, "member %s not found", id)
	}
	if err != nil {
		return m, wrap("get member", err)
	}
	m.ExternalID, m.Email, m.Phone, m.Name = deref(ext), deref(email), deref(ph), deref(name)
	if birth != nil {
		m.Birthdate = birth.Format(time.DateOnly)
	}
	return m, nil
}

// GetBalance reads a member's balance now.
func (s *Store) GetBalance(ctx context.Context, memberID string) (domain.Balance, error) {
	return balance(ctx, s.pool, memberID, time.Now())
}

// BalanceAt reads a member's balance as it stands at a given time.
func (s *Store) BalanceAt(ctx context.Context, memberID string, at time.Time) (domain.Balance, error) {
	return balance(ctx, s.pool, memberID, at)
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// balance computes a member's balance at now in one round trip: available and pending from the open lots (less any
// debt), qualifying over the tier window of the program in force.
func balance(ctx context.Context, q querier, memberID string, now time.Time) (domain.Balance, error) {
	var b domain.Balance
	var debt, avail int64
	err := q.QueryRow(ctx, `
		WITH window_days AS (
			SELECT COALESCE((SELECT (settings ->> 'tier_window_days')::int FROM program_settings
			                 WHERE effective_from <= $2 ORDER BY effective_from DESC, version DESC LIMIT 1), 365) AS days
		)
		SELECT mb.total, mb.lifetime, mb.debt,
		       COALESCE((SELECT sum(remaining) FROM ledger_lots l
		                 WHERE l.member_id = mb.member_id AND l.remaining > 0 AND l.available_at <= $2
		                   AND (l.expires_at IS NULL OR l.expires_at > $2)), 0),
		       COALESCE((SELECT sum(remaining) FROM ledger_lots l
		                 WHERE l.member_id = mb.member_id AND l.remaining > 0 AND l.available_at > $2
		                   AND (l.expires_at IS NULL OR l.expires_at > $2)), 0),
		       COALESCE((SELECT sum(qualifying_points) FROM ledger_entries e, window_days w
		                 WHERE e.member_id = mb.member_id AND e.qualifying_points <> 0
		                   AND e.occurred_at > $2 - make_interval(days => w.days) AND e.occurred_at <= $2), 0)
		FROM member_balances mb WHERE mb.member_id = $1`, memberID, now).
		Scan(&b.Total, &b.Lifetime, &debt, &avail, &b.Pending, &b.Qualifying)
	if errors.Is(err, pgx.ErrNoRows) {
		return b, domain.Errorf(domain.ErrNotFound, "member %s not found", memberID)
	}
	if err != nil {
		return b, wrap("get balance", err)
	}
	b.Available = avail - debt
	return b, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// MemberIdentityTaken reports whether a member already holds this email (case-insensitively) or external id.
func (s *Store) MemberIdentityTaken(ctx context.Context, email, externalID string) (bool, error) {
	var taken bool
	err := s.pool.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM members WHERE email IS NOT NULL AND lower(email) = lower($1))
		    OR ($2 <> '' AND EXISTS (SELECT 1 FROM members WHERE external_id = $2))`, email, externalID).Scan(&taken)
	return taken, wrap("member identity", err)
}
