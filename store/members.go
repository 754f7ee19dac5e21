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
			INSERT INTO members (id, external_id, email, phone, name, birthdate, consent_email, consent_sms, joined_at)
			VALUES ($1, NULLIF($2, ''), $3, NULLIF($4, ''), $5, $6, $7, $8, $9)
			ON CONFLICT (id) DO NOTHING`,
			r.MemberID, r.ExternalID, r.Email, r.Phone, r.Name, birth, r.Consent.Email, r.Consent.SMS, s.Now())
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
		if _, err = tx.Exec(ctx, `INSERT INTO member_balances (member_id) VALUES ($1)`, r.MemberID); err != nil {
			return err
		}
		return EmitEvent(ctx, tx, domain.EventMemberRegistered, r.MemberID, s.Now(), map[string]any{
			"member_id": r.MemberID, "external_id": r.ExternalID, "joined_at": s.Now().UTC()})
	})
	if err != nil {
		return domain.Member{}, wrap("create member", err)
	}
	return s.GetMember(ctx, r.MemberID)
}

// GetMember reads a member; a missing one → domain.ErrNotFound.
func (s *Store) GetMember(ctx context.Context, id string) (domain.Member, error) {
	return memberQuery(id).run(ctx, s.pool)
}

// memberQuery reads a member; a missing one → domain.ErrNotFound.
func memberQuery(id string) rowQuery[domain.Member] {
	return rowQuery[domain.Member]{
		sql: `
		SELECT id::text, external_id, email, phone, name, birthdate, consent_email, consent_sms, status, joined_at
		FROM members WHERE id = $1`,
		args: []any{id},
		scan: func(row pgx.Row) (domain.Member, error) {
			var (
				m                    domain.Member
				ext, email, ph, name *string
				birth                *time.Time
			)
			err := row.Scan(&m.MemberID, &ext, &email, &ph, &name, &birth, &m.Consent.Email, &m.Consent.SMS, &m.Status, &m.JoinedAt)
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
		},
	}
}

// GetBalance reads a member's balance now.
func (s *Store) GetBalance(ctx context.Context, memberID string) (domain.Balance, error) {
	return balance(ctx, s.pool, memberID, s.Now())
}

// BalanceAt reads a member's balance as it stands at a given time.
func (s *Store) BalanceAt(ctx context.Context, memberID string, at time.Time) (domain.Balance, error) {
	return balance(ctx, s.pool, memberID, at)
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// rowQuery is a query of one row: its SQL text, its arguments and how its row is read. The same value runs alone
// (run) or queued with others in one pgx.Batch (queue, then read in queue order), so that both paths share the SQL
// and the scan.
type rowQuery[T any] struct {
	sql  string
	args []any
	scan func(pgx.Row) (T, error)
}

// run sends the query on its own: one round trip.
func (q rowQuery[T]) run(ctx context.Context, db querier) (T, error) {
	return q.scan(db.QueryRow(ctx, q.sql, q.args...))
}

// queue adds the query to b.
func (q rowQuery[T]) queue(b *pgx.Batch) { b.Queue(q.sql, q.args...) }

// read scans the query's row from the batch's next result.
func (q rowQuery[T]) read(br pgx.BatchResults) (T, error) { return q.scan(br.QueryRow()) }

// balance computes a member's balance at now in one round trip: available and pending from one pass over the open
// lots (less any debt), qualifying over the tier window of the program in force, counting the kinds of credit it
// lists.
func balance(ctx context.Context, q querier, memberID string, now time.Time) (domain.Balance, error) {
	return balanceQuery(memberID, now).run(ctx, q)
}

func balanceQuery(memberID string, now time.Time) rowQuery[domain.Balance] {
	return rowQuery[domain.Balance]{
		sql: `
		WITH prog AS (
			SELECT COALESCE((SELECT (settings ->> 'tier_window_days')::int FROM program_settings
			                 WHERE effective_from <= $2 ORDER BY effective_from DESC, version DESC LIMIT 1), 365) AS days,
			       ` + qualifyingKindsAt("$2", "$3") + ` AS kinds
		)
		SELECT mb.total, mb.lifetime, mb.debt, COALESCE(lots.available, 0), COALESCE(lots.pending, 0),
		       COALESCE((SELECT sum(` + qualifyingOfEntry + `) FROM ledger_entries e, prog w
		                 WHERE e.member_id = mb.member_id AND ` + qualifyingCandidate + `
		                   AND e.occurred_at > $2 - make_interval(days => w.days) AND e.occurred_at <= $2
		                   AND ` + qualifyingKindOf + ` = ANY(w.kinds)), 0)
		FROM member_balances mb
		CROSS JOIN LATERAL (
			SELECT sum(remaining) FILTER (WHERE l.available_at <= $2) AS available,
			       sum(remaining) FILTER (WHERE l.available_at > $2) AS pending
			FROM ledger_lots l
			WHERE l.member_id = mb.member_id AND l.remaining > 0 AND (l.expires_at IS NULL OR l.expires_at > $2)) lots
		WHERE mb.member_id = $1`,
		args: []any{memberID, now, domain.DefaultQualifyingKinds},
		scan: func(row pgx.Row) (domain.Balance, error) {
			var b domain.Balance
			var debt, avail int64
			err := row.Scan(&b.Total, &b.Lifetime, &debt, &avail, &b.Pending, &b.Qualifying)
			if errors.Is(err, pgx.ErrNoRows) {
				return b, domain.Errorf(domain.ErrNotFound, "member %s not found", memberID)
			}
			if err != nil {
				return b, wrap("get balance", err)
			}
			b.Available = avail - debt
			return b, nil
		},
	}
}

// MemberView is what GET /v1/members/{id} shows: the member, their balance, the tier they hold and the program
// version in force.
type MemberView struct {
	Member  domain.Member
	Balance domain.Balance
	Tier    domain.MemberTier
	// Program is the version in force at the time asked for, valid only when ProgramErr is nil: the view is still
	// complete without it (ProgramErr is what ProgramAt would have returned, e.g. domain.ErrNotFound).
	Program    ProgramVersion
	ProgramErr error
}

// MemberView reads in one round trip what GetMember, GetBalance, GetMemberTier and ProgramAt(now) read in four, with
// the same queries (sent as one pipelined batch) and the same errors: a missing member → domain.ErrNotFound as from
// GetMember, with an empty view; an error of the balance or the tier fails the view, which then holds the member
// alone (so that a caller can tell these errors from a missing member); ProgramAt's error is returned in ProgramErr.
// The balance is taken now by the store's clock, as GetBalance does.
func (s *Store) MemberView(ctx context.Context, id string, now time.Time) (MemberView, error) {
	var v MemberView
	mq, bq, tq, pq := memberQuery(id), balanceQuery(id, s.Now()), memberTierQuery(id), programQuery(now)
	var b pgx.Batch
	mq.queue(&b)
	bq.queue(&b)
	tq.queue(&b)
	pq.queue(&b)
	br := s.pool.SendBatch(ctx, &b)
	defer br.Close() // reads whatever an early return left unread and releases the connection
	var err error
	if v.Member, err = mq.read(br); err != nil {
		return MemberView{}, err
	}
	if v.Balance, err = bq.read(br); err != nil {
		return MemberView{Member: v.Member}, err
	}
	if v.Tier, err = tq.read(br); err != nil {
		return MemberView{Member: v.Member}, err
	}
	v.Program, v.ProgramErr = pq.read(br)
	return v, nil
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
