package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// tierAnniversary is how long a tier is held before it is reviewed.
const tierAnniversary = 1 // year

// memberTier reads the member's tier; a member who never rose above the entry tier has none stored.
func memberTier(ctx context.Context, q querier, memberID string) (domain.MemberTier, error) {
	return memberTierQuery(memberID).run(ctx, q)
}

func memberTierQuery(memberID string) rowQuery[domain.MemberTier] {
	return rowQuery[domain.MemberTier]{
		sql:  `SELECT tier_code, review_at FROM member_tiers WHERE member_id = $1`,
		args: []any{memberID},
		scan: func(row pgx.Row) (domain.MemberTier, error) {
			var t domain.MemberTier
			var review time.Time
			err := row.Scan(&t.Code, &review)
			if errors.Is(err, pgx.ErrNoRows) {
				return t, nil
			}
			if err != nil {
				return t, wrap("member tier", err)
			}
			t.ReviewAt = &review
			return t, nil
		},
	}
}

// GetMemberTier is the member's tier as stored (empty code: the program's entry tier).
func (s *Store) GetMemberTier(ctx context.Context, memberID string) (domain.MemberTier, error) {
	return memberTier(ctx, s.pool, memberID)
}

// An entry's qualifying points, and the kind of credit it counts as (domain.Program.QualifyingKinds), over ledger
// entries e. Purchases and their returns carry their qualifying points (a return's is what it reversed, recovered
// or not), and so do campaign bonuses; the other bonuses and adjustments count their points, signed. Entries that can
// qualify are those of qualifyingCandidate, which the partial index ledger_entries_qualifying_kinds holds.
const (
	qualifyingCandidate = `(e.qualifying_points <> 0 OR e.kind IN ('bonus', 'adjustment'))`
	qualifyingOfEntry   = `(CASE WHEN e.kind IN ('bonus', 'adjustment') THEN e.points ELSE e.qualifying_points END)`
	qualifyingKindOf    = `(CASE e.source_type WHEN 'return' THEN 'purchase' WHEN 'admin' THEN 'adjustment' ELSE e.source_type END)`
)

// qualifyingKindsAt is, in SQL, the kinds of credit the program in force at the timestamp parameter at counts
// towards tiers, or the default parameter def when that version does not list them.
func qualifyingKindsAt(at, def string) string {
	return `COALESCE((SELECT CASE WHEN settings ? 'qualifying_kinds'
	                              THEN ARRAY(SELECT jsonb_array_elements_text(settings -> 'qualifying_kinds')) END
	                  FROM program_settings WHERE effective_from <= ` + at + `
	                  ORDER BY effective_from DESC, version DESC LIMIT 1), ` + def + `::text[])`
}

// qualifyingPoints sums the member's qualifying points over the program's tier window ending at now, counting the
// kinds of credit the program lists.
func qualifyingPoints(ctx context.Context, q querier, memberID string, prog domain.Program, now time.Time) (int64, error) {
	return qualifyingQuery(memberID, prog, now).run(ctx, q)
}

func qualifyingQuery(memberID string, prog domain.Program, now time.Time) rowQuery[int64] {
	return rowQuery[int64]{
		sql: `
		SELECT COALESCE(sum(` + qualifyingOfEntry + `), 0) FROM ledger_entries e
		WHERE e.member_id = $1 AND ` + qualifyingCandidate + ` AND e.occurred_at > $2 AND e.occurred_at <= $3
		  AND ` + qualifyingKindOf + ` = ANY($4)`,
		args: []any{memberID, now.AddDate(0, 0, -prog.TierWindowDays), now, prog.Qualifying()},
		scan: func(row pgx.Row) (int64, error) {
			var sum int64
			return sum, wrap("qualifying points", row.Scan(&sum))
		},
	}
}

// upgradeTier raises the member's tier at once when their qualifying points q (qualifyingQuery, read in tx) reach a
// higher one; spending never lowers it. The new tier is reviewed on its anniversary. cur is the tier the member holds,
// read under their lock in the same transaction.
func upgradeTier(ctx context.Context, tx pgx.Tx, memberID string, cur domain.MemberTier, prog domain.Program, q int64, now time.Time) (*domain.TierChange, error) {
	if len(prog.Tiers) == 0 {
		return nil, nil
	}
	_, curIdx := prog.TierByCode(cur.Code)
	to := prog.TierFor(q)
	if to <= curIdx {
		return nil, nil
	}
	change := &domain.TierChange{From: prog.Tiers[curIdx].Code, To: prog.Tiers[to].Code, ReviewAt: now.AddDate(tierAnniversary, 0, 0).UTC()}
	_, err := tx.Exec(ctx, `
		INSERT INTO member_tiers (member_id, tier_code, achieved_at, review_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (member_id) DO UPDATE SET tier_code = $2, achieved_at = $3, review_at = $4`,
		memberID, change.To, now, change.ReviewAt)
	if err != nil {
		return nil, wrap("upgrade tier", err)
	}
	return change, emitTierChanged(ctx, tx, memberID, *change, now)
}

// ReviewTier reviews the member's tier on its anniversary: kept (or raised) when the qualifying points over the window
// still reach it, else lowered by one tier at most; the next review is a year later. It is idempotent on reviewAt:
// a review already done (the stored review date moved on) or not yet due changes nothing.
func (s *Store) ReviewTier(ctx context.Context, memberID string, reviewAt, now time.Time) (domain.MemberTier, *domain.TierChange, error) {
	var out domain.MemberTier
	var change *domain.TierChange
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := lockMember(ctx, tx, memberID); err != nil {
			return err
		}
		cur, err := memberTier(ctx, tx, memberID)
		if err != nil {
			return err
		}
		out, change = cur, nil
		if cur.ReviewAt == nil || !cur.ReviewAt.Equal(reviewAt) || now.Before(reviewAt) {
			return nil
		}
		pv, err := programAt(ctx, tx, now)
		if err != nil {
			return err
		}
		prog := pv.Program
		q, err := qualifyingPoints(ctx, tx, memberID, prog, now)
		if err != nil {
			return err
		}
		_, curIdx := prog.TierByCode(cur.Code)
		target := max(prog.TierFor(q), curIdx-1)
		next := reviewAt
		for !next.After(now) {
			next = next.AddDate(tierAnniversary, 0, 0)
		}
		next = next.UTC()
		if target != curIdx {
			change = &domain.TierChange{From: cur.Code, To: prog.Tiers[target].Code, ReviewAt: next}
		}
		out = domain.MemberTier{Code: prog.Tiers[target].Code, ReviewAt: &next}
		if change != nil {
			if err := emitTierChanged(ctx, tx, memberID, *change, now); err != nil {
				return err
			}
		}
		if target == 0 {
			// Back at the entry tier: nothing left to review.
			out.ReviewAt = nil
			_, err = tx.Exec(ctx, `DELETE FROM member_tiers WHERE member_id = $1`, memberID)
			return wrap("review tier", err)
		}
		// A tier kept keeps the date it was achieved.
		_, err = tx.Exec(ctx, `UPDATE member_tiers SET tier_code = $2, review_at = $4,
			achieved_at = CASE WHEN $5 THEN $3::timestamptz ELSE achieved_at END WHERE member_id = $1`,
			memberID, out.Code, now, next, target != curIdx)
		return wrap("review tier", err)
	})
	return out, change, err
}

// emitTierChanged reports a tier change to webhooks.
func emitTierChanged(ctx context.Context, tx pgx.Tx, memberID string, c domain.TierChange, now time.Time) error {
	return EmitEvent(ctx, tx, domain.EventTierChanged, memberID, now, map[string]any{
		"member_id": memberID, "from": c.From, "to": c.To, "review_at": c.ReviewAt, "changed_at": now.UTC()})
}
