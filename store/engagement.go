package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// CreateChallenge records a challenge; creating the same id again with the same definition changes nothing.
func (s *Store) CreateChallenge(ctx context.Context, c domain.Challenge, actor string) (domain.Challenge, error) {
	def, err := json.Marshal(c)
	if err != nil {
		return c, err
	}
	_, err = s.pool.Exec(ctx, `
		INSERT INTO challenges (challenge_id, definition, auto_enroll, starts_at, ends_at, created_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (challenge_id) DO NOTHING`,
		c.ID, def, c.AutoEnroll, c.StartsAt, c.EndsAt, actor, c.CreatedAt)
	if err != nil {
		return c, wrap("create challenge", err)
	}
	return s.GetChallenge(ctx, c.ID)
}

// GetChallenge reads a challenge; unknown → domain.ErrNotFound.
func (s *Store) GetChallenge(ctx context.Context, id string) (domain.Challenge, error) {
	var c domain.Challenge
	var raw []byte
	err := s.pool.QueryRow(ctx, `SELECT definition FROM challenges WHERE challenge_id = $1`, id).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, domain.Errorf(domain.ErrNotFound, "challenge %s not found", id)
	}
	if err != nil {
		return c, wrap("get challenge", err)
	}
	return c, wrap("decode challenge", json.Unmarshal(raw, &c))
}

// ListChallenges lists challenges by id after cursor.
func (s *Store) ListChallenges(ctx context.Context, cursor string, limit int) ([]domain.Challenge, error) {
	rows, err := s.pool.Query(ctx, `SELECT definition FROM challenges WHERE challenge_id > $1 ORDER BY challenge_id LIMIT $2`, cursor, limit)
	return collectDefinitions("list challenges", rows, err, unmarshal[domain.Challenge])
}

// ChallengesForPurchase are the challenges a purchase at t counts for: those the member is enrolled in and still
// active, and the auto-enrolling ones open at t that the member has never been enrolled in. enrolled tells which.
func (s *Store) ChallengesForPurchase(ctx context.Context, memberID string, t time.Time) (challenges []domain.Challenge, enrolled []bool, err error) {
	rows, err := s.pool.Query(ctx, `
		SELECT c.definition, true FROM challenge_enrolments e JOIN challenges c USING (challenge_id)
		WHERE e.member_id = $1 AND e.status = 'active'
		UNION ALL
		SELECT c.definition, false FROM challenges c
		WHERE c.auto_enroll AND (c.starts_at IS NULL OR c.starts_at <= $2) AND (c.ends_at IS NULL OR c.ends_at > $2)
		  AND NOT EXISTS (SELECT 1 FROM challenge_enrolments e WHERE e.member_id = $1 AND e.challenge_id = c.challenge_id)
		ORDER BY 1`, memberID, t)
	if err != nil {
		return nil, nil, wrap("challenges for purchase", err)
	}
	defer rows.Close()
	for rows.Next() {
		var raw []byte
		var en bool
		if err := rows.Scan(&raw, &en); err != nil {
			return nil, nil, wrap("challenges for purchase", err)
		}
		var c domain.Challenge
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, nil, err
		}
		challenges, enrolled = append(challenges, c), append(enrolled, en)
	}
	return challenges, enrolled, wrap("challenges for purchase", rows.Err())
}

// RecordEnrolment records a member's enrolment (idempotent: an existing one is kept as it is).
func (s *Store) RecordEnrolment(ctx context.Context, c domain.Challenge, memberID string, enrolledAt time.Time) error {
	d := c.Deadline(enrolledAt)
	var deadline *time.Time
	if !d.IsZero() {
		deadline = &d
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO challenge_enrolments (challenge_id, member_id, status, target, enrolled_at, deadline)
			VALUES ($1, $2, 'active', $3, $4, $5) ON CONFLICT DO NOTHING`, c.ID, memberID, c.Goal.Target, enrolledAt, deadline); err != nil {
			return err
		}
		return notify(ctx, tx, domain.EnrolmentEventKey(c.ID, memberID))
	})
	return wrap("record enrolment", err)
}

// RecordChallengeProgress stores an active enrolment's progress for reads.
func (s *Store) RecordChallengeProgress(ctx context.Context, challengeID, memberID string, progress int64) error {
	_, err := s.pool.Exec(ctx, `UPDATE challenge_enrolments SET progress = $3, updated_at = now()
		WHERE challenge_id = $1 AND member_id = $2 AND status = 'active'`, challengeID, memberID, progress)
	return wrap("record challenge progress", err)
}

// ExpireEnrolment marks an active enrolment expired at its deadline (a completed one stays completed).
func (s *Store) ExpireEnrolment(ctx context.Context, challengeID, memberID string, progress int64) error {
	_, err := s.pool.Exec(ctx, `UPDATE challenge_enrolments SET status = 'expired', progress = $3, updated_at = now()
		WHERE challenge_id = $1 AND member_id = $2 AND status = 'active'`, challengeID, memberID, progress)
	return wrap("expire enrolment", err)
}

// CompleteChallenge rewards a member who reached a challenge's goal: the reward points as a bonus entry keyed by
// domain.ChallengeRewardKey, the badge, and the enrolment marked completed — all in one transaction under the
// member's lock, so the reward is given once however often it is asked for.
func (s *Store) CompleteChallenge(ctx context.Context, c domain.Challenge, memberID string, progress int64, now time.Time) (domain.ChallengeReward, error) {
	var out domain.ChallengeReward
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out = domain.ChallengeReward{Badge: c.Badge}
		led, err := lockMember(ctx, tx, memberID)
		if err != nil {
			return err
		}
		var status string
		err = tx.QueryRow(ctx, `SELECT status FROM challenge_enrolments WHERE challenge_id = $1 AND member_id = $2 FOR UPDATE`,
			c.ID, memberID).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			return domain.Errorf(domain.ErrNotFound, "member %s is not enrolled in challenge %s", memberID, c.ID)
		}
		if err != nil {
			return wrap("read enrolment", err)
		}
		if status == domain.EnrolmentCompleted {
			out.Replayed = true
			return nil
		}
		var entryID *int64
		if c.RewardPoints > 0 {
			pv, err := programAt(ctx, tx, now)
			if err != nil {
				return err
			}
			id, err := led.credit(ctx, entry{kind: domain.EntryBonus, points: c.RewardPoints, availableAt: now,
				expiresAt: pv.Program.ExpiresAt(now), sourceType: "challenge", sourceID: c.ID,
				key: domain.ChallengeRewardKey(c.ID, memberID), occurredAt: now})
			if err != nil {
				return err
			}
			entryID, out.Points = &id, c.RewardPoints
		}
		if c.Badge != "" {
			if _, err := tx.Exec(ctx, `INSERT INTO member_badges (member_id, badge, challenge_id, awarded_at)
				VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, memberID, c.Badge, c.ID, now); err != nil {
				return wrap("award badge", err)
			}
		}
		_, err = tx.Exec(ctx, `UPDATE challenge_enrolments SET status = 'completed', progress = $3, completed_at = $4,
			reward_entry = $5, updated_at = now() WHERE challenge_id = $1 AND member_id = $2`, c.ID, memberID, progress, now, entryID)
		if err != nil {
			return wrap("complete enrolment", err)
		}
		return EmitEvent(ctx, tx, domain.EventChallengeCompleted, memberID, now, map[string]any{
			"challenge_id": c.ID, "member_id": memberID, "progress": progress, "reward_points": out.Points, "badge": c.Badge,
			"completed_at": now.UTC()})
	})
	return out, wrap("complete challenge "+c.ID, err)
}

const enrolmentColumns = `SELECT c.definition, e.status, e.progress, e.target, e.enrolled_at, e.deadline, e.completed_at
	FROM challenge_enrolments e JOIN challenges c USING (challenge_id)`

func scanEnrolment(r pgx.CollectableRow) (domain.ChallengeEnrolment, error) {
	var raw []byte
	var e domain.ChallengeEnrolment
	if err := r.Scan(&raw, &e.Status, &e.Progress, &e.Target, &e.EnrolledAt, &e.Deadline, &e.CompletedAt); err != nil {
		return e, err
	}
	var c domain.Challenge
	if err := json.Unmarshal(raw, &c); err != nil {
		return e, err
	}
	e.ChallengeID, e.Name, e.Kind, e.RewardPoints, e.Badge = c.ID, c.Name, c.Goal.Kind, c.RewardPoints, c.Badge
	return e, nil
}

// MemberChallenges lists a member's enrolments by challenge id after cursor.
func (s *Store) MemberChallenges(ctx context.Context, memberID, cursor string, limit int) ([]domain.ChallengeEnrolment, error) {
	rows, err := s.pool.Query(ctx, enrolmentColumns+` WHERE e.member_id = $1 AND e.challenge_id > $2 ORDER BY e.challenge_id LIMIT $3`,
		memberID, cursor, limit)
	if err != nil {
		return nil, wrap("member challenges", err)
	}
	out, err := pgx.CollectRows(rows, scanEnrolment)
	return out, wrap("member challenges", err)
}

// GetEnrolment reads one enrolment; ok is false when the member was never enrolled.
func (s *Store) GetEnrolment(ctx context.Context, challengeID, memberID string) (domain.ChallengeEnrolment, bool, error) {
	rows, err := s.pool.Query(ctx, enrolmentColumns+` WHERE e.member_id = $1 AND e.challenge_id = $2`, memberID, challengeID)
	if err != nil {
		return domain.ChallengeEnrolment{}, false, wrap("get enrolment", err)
	}
	e, err := pgx.CollectExactlyOneRow(rows, scanEnrolment)
	if errors.Is(err, pgx.ErrNoRows) {
		return e, false, nil
	}
	return e, err == nil, wrap("get enrolment", err)
}

// MemberBadges lists the badges a member holds.
func (s *Store) MemberBadges(ctx context.Context, memberID string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT badge FROM member_badges WHERE member_id = $1 ORDER BY awarded_at, badge`, memberID)
	if err != nil {
		return nil, wrap("member badges", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, wrap("member badges", err)
}

// MemberLifecycle reads what the member workflow needs to arm its birthday and win-back timers: the birthdate, the
// program's settings in force now, and when the member last bought.
func (s *Store) MemberLifecycle(ctx context.Context, memberID string, now time.Time) (domain.MemberLifecycle, error) {
	var out domain.MemberLifecycle
	m, err := s.GetMember(ctx, memberID)
	if err != nil {
		return out, err
	}
	pv, err := programAt(ctx, s.pool, now)
	if err != nil {
		return out, err
	}
	out.Birthdate, out.Active = m.Birthdate, m.Status == domain.MemberActive
	out.BirthdayBonusPoints, out.WinbackDays, out.TimeZone = pv.Program.BirthdayBonusPoints, pv.Program.WinbackDays, pv.Program.TimeZone
	err = s.pool.QueryRow(ctx, `SELECT max(occurred_at) FROM transactions WHERE member_id = $1 AND status = 'accrued'`, memberID).
		Scan(&out.LastPurchaseAt)
	return out, wrap("last purchase", err)
}

// GrantBirthdayBonus credits the program's birthday bonus for the member's birthday in year, once: the entry's key is
// domain.BirthdayBonusKey. It returns the points credited (0 when given before, or when the program gives none).
func (s *Store) GrantBirthdayBonus(ctx context.Context, memberID string, year int, now time.Time) (int64, error) {
	var given int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		given = 0
		led, err := lockMember(ctx, tx, memberID)
		if err != nil {
			return err
		}
		var status string
		if err := tx.QueryRow(ctx, `SELECT status FROM members WHERE id = $1`, memberID).Scan(&status); err != nil || status != string(domain.MemberActive) {
			return wrap("member status", err) // an erased member gets nothing
		}
		key := domain.BirthdayBonusKey(memberID, year)
		var done bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ledger_entries WHERE idempotency_key = $1)`, key).Scan(&done); err != nil || done {
			return wrap("birthday bonus given before", err)
		}
		pv, err := programAt(ctx, tx, now)
		if err != nil {
			return err
		}
		if pv.Program.BirthdayBonusPoints <= 0 {
			return nil
		}
		if _, err := led.credit(ctx, entry{kind: domain.EntryBonus, points: pv.Program.BirthdayBonusPoints, availableAt: now,
			expiresAt: pv.Program.ExpiresAt(now), sourceType: "birthday", sourceID: memberID, key: key, occurredAt: now}); err != nil {
			return err
		}
		given = pv.Program.BirthdayBonusPoints
		return nil
	})
	return given, wrap("grant birthday bonus", err)
}
