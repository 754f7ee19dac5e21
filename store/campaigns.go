package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// Campaign budgets — why they hold under concurrency.
//
// A campaign's rule is an ordinary earning rule ("campaign:<id>"), so purchases are priced by it like by any other.
// What it gives is then capped in the accrual's own database transaction: the campaign's row is locked FOR UPDATE,
// what is left of the budget is read, the contribution is cut to it and issued_points moves, all before commit.
// Concurrent accruals (of any members) queue on that row, so the sum of what they were given never exceeds the
// budget; a CHECK constraint (issued_points <= budget_points) is the last line of defence. Locks are taken member
// first, then campaigns in id order, by accruals and bonuses alike, so they cannot deadlock.

// CampaignRecord is a campaign as stored: its definition and where its workflow has taken it.
type CampaignRecord struct {
	domain.Campaign
	Status          string    `json:"status"`
	IssuedPoints    int64     `json:"issued_points"`
	BudgetExhausted bool      `json:"budget_exhausted"`
	SegmentSize     int64     `json:"segment_size"`
	Announced       int64     `json:"announced"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// capCampaignBudgets limits what campaign rules give a purchase to what is left of each campaign's budget. It runs
// in the accrual's database transaction, after pricing and before the credit.
func capCampaignBudgets(ctx context.Context, tx pgx.Tx, t *Transaction, e *domain.Earning) error {
	var idx []int
	for i, c := range e.Contributions {
		if _, ok := domain.CampaignIDOfRule(c.RuleID); ok && c.Points > 0 {
			idx = append(idx, i)
		}
	}
	sort.Slice(idx, func(a, b int) bool { return e.Contributions[idx[a]].RuleID < e.Contributions[idx[b]].RuleID })
	for _, i := range idx {
		c := &e.Contributions[i]
		id, _ := domain.CampaignIDOfRule(c.RuleID)
		give, found, err := takeFromBudget(ctx, tx, id, c.Points, false)
		if err != nil {
			return err
		}
		if !found {
			continue // a rule named like a campaign's without a campaign: nothing to cap
		}
		cut := c.Points - give
		c.Points -= cut
		e.Points -= cut
		if _, err := tx.Exec(ctx, `
			INSERT INTO campaign_issuances (campaign_id, source, source_id, member_id, points, cut_points)
			VALUES ($1, 'purchase', $2, $3, $4, $5) ON CONFLICT DO NOTHING`, id, t.TransactionID, t.MemberID, give, cut); err != nil {
			return wrap("record campaign issuance", err)
		}
	}
	return nil
}

// takeFromBudget locks the campaign's row and takes up to want points from its budget (whole: want or nothing);
// found is false when no such campaign exists.
func takeFromBudget(ctx context.Context, tx pgx.Tx, campaignID string, want int64, whole bool) (give int64, found bool, err error) {
	var budget *int64
	var issued int64
	err = tx.QueryRow(ctx, `SELECT budget_points, issued_points FROM campaigns WHERE campaign_id = $1 FOR UPDATE`, campaignID).
		Scan(&budget, &issued)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, wrap("lock campaign budget", err)
	}
	give = want
	if budget != nil {
		give = max(min(want, *budget-issued), 0)
		if whole && give < want {
			give = 0
		}
	}
	if _, err := tx.Exec(ctx, `
		UPDATE campaigns SET issued_points = issued_points + $2,
		       budget_exhausted = budget_points IS NOT NULL AND issued_points + $2 >= budget_points, updated_at = now()
		WHERE campaign_id = $1`, campaignID, give); err != nil {
		return 0, true, wrap("take from campaign budget", err)
	}
	return give, true, nil
}

// SaveCampaign records a new campaign as scheduled; saving the same id again (a retry) keeps the first record.
func (s *Store) SaveCampaign(ctx context.Context, c domain.Campaign, segmentSize int64) (CampaignRecord, error) {
	def, err := json.Marshal(c)
	if err != nil {
		return CampaignRecord{}, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO campaigns (campaign_id, definition, status, ends_at, budget_points, segment_size, created_by)
			VALUES ($1, $2, 'scheduled', $3, $4, $5, $6) ON CONFLICT (campaign_id) DO NOTHING`,
			c.ID, def, c.EndsAt, c.BudgetPoints, segmentSize, c.CreatedBy); err != nil {
			return err
		}
		return notify(ctx, tx, domain.CampaignEventKey(c.ID))
	})
	if err != nil {
		return CampaignRecord{}, wrap("save campaign", err)
	}
	return s.GetCampaign(ctx, c.ID)
}

const campaignColumns = `definition, status, ends_at, issued_points, budget_exhausted, segment_size, announced, created_at, updated_at`

func scanCampaign(row pgx.Row) (CampaignRecord, error) {
	var r CampaignRecord
	var def []byte
	var endsAt time.Time
	if err := row.Scan(&def, &r.Status, &endsAt, &r.IssuedPoints, &r.BudgetExhausted, &r.SegmentSize, &r.Announced, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return r, err
	}
	if err := json.Unmarshal(def, &r.Campaign); err != nil {
		return r, err
	}
	r.EndsAt = endsAt.UTC()
	return r, nil
}

// GetCampaign reads a campaign; unknown → domain.ErrNotFound.
func (s *Store) GetCampaign(ctx context.Context, id string) (CampaignRecord, error) {
	r, err := scanCampaign(s.pool.QueryRow(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE campaign_id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, domain.Errorf(domain.ErrNotFound, "campaign %s not found", id)
	}
	return r, wrap("get campaign", err)
}

// ListCampaigns lists campaigns newest first; cursor is the last campaign id of the previous page.
func (s *Store) ListCampaigns(ctx context.Context, cursor string, limit int) ([]CampaignRecord, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+campaignColumns+` FROM campaigns
		WHERE $1 = '' OR (created_at, campaign_id) < (SELECT created_at, campaign_id FROM campaigns WHERE campaign_id = $1)
		ORDER BY created_at DESC, campaign_id DESC LIMIT $2`, cursor, limit)
	if err != nil {
		return nil, wrap("list campaigns", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CampaignRecord, error) { return scanCampaign(r) })
	return out, wrap("list campaigns", err)
}

// SetCampaignStatus records where the campaign's workflow is, and its end (which an extension moves). A campaign
// completed or cancelled stays so: a run of a recurring campaign that ends after its series did (or was cancelled)
// does not bring the record back to scheduled.
func (s *Store) SetCampaignStatus(ctx context.Context, id, status string, endsAt time.Time) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var old string
		err := tx.QueryRow(ctx, `SELECT status FROM campaigns WHERE campaign_id = $1 FOR UPDATE`, id).Scan(&old)
		if errors.Is(err, pgx.ErrNoRows) {
			return domain.Errorf(domain.ErrNotFound, "campaign %s not found", id)
		}
		if err != nil {
			return wrap("set campaign status", err)
		}
		if (old == domain.CampaignCompleted || old == domain.CampaignCancelled) && status != old {
			return nil
		}
		if _, err := tx.Exec(ctx, `
			UPDATE campaigns SET status = $2, ends_at = $3,
			       definition = jsonb_set(definition, '{ends_at}', to_jsonb($4::text)), updated_at = now()
			WHERE campaign_id = $1`, id, status, endsAt, endsAt.UTC().Format(time.RFC3339Nano)); err != nil {
			return wrap("set campaign status", err)
		}
		if err := emitCampaignEvent(ctx, tx, id, old, status, s.Now()); err != nil {
			return err
		}
		return notify(ctx, tx, domain.CampaignEventKey(id))
	})
}

// SetAnnounced records how many members a campaign's announcement reached so far.
func (s *Store) SetAnnounced(ctx context.Context, id string, n int64) error {
	_, err := s.pool.Exec(ctx, `UPDATE campaigns SET announced = GREATEST(announced, $2), updated_at = now() WHERE campaign_id = $1`, id, n)
	return wrap("count announced", err)
}

// segmentWhere builds the SQL conditions of a segment over members m and balances b; args continue after start.
func segmentWhere(seg domain.Segment, now time.Time, args []any) (string, []any) {
	conds := []string{"m.status = 'active'"}
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, strings.ReplaceAll(cond, "$?", fmt.Sprintf("$%d", len(args))))
	}
	if len(seg.Tiers) > 0 {
		add("COALESCE((SELECT tier_code FROM member_tiers mt WHERE mt.member_id = m.id), '') = ANY($?)", seg.Tiers)
	}
	if seg.JoinedAfter != nil {
		add("m.joined_at > $?", *seg.JoinedAfter)
	}
	if seg.JoinedBefore != nil {
		add("m.joined_at < $?", *seg.JoinedBefore)
	}
	if seg.InactiveDays > 0 {
		add("NOT EXISTS (SELECT 1 FROM transactions t WHERE t.member_id = m.id AND t.occurred_at > $?)",
			now.Add(-time.Duration(seg.InactiveDays)*24*time.Hour))
	}
	if seg.MinLifetimePoints > 0 {
		add("b.lifetime >= $?", seg.MinLifetimePoints)
	}
	switch seg.Consent {
	case domain.ChannelEmail:
		conds = append(conds, "m.consent_email AND m.email IS NOT NULL")
	case domain.ChannelSMS:
		conds = append(conds, "m.consent_sms AND m.phone IS NOT NULL")
	}
	return strings.Join(conds, " AND "), args
}

// SegmentSize counts the members of a segment now.
func (s *Store) SegmentSize(ctx context.Context, seg domain.Segment, now time.Time) (int64, error) {
	where, args := segmentWhere(seg, now, nil)
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM members m JOIN member_balances b ON b.member_id = m.id WHERE `+where, args...).Scan(&n)
	return n, wrap("segment size", err)
}

// SegmentPage lists up to limit member ids of a segment after the cursor (a member id), in id order, so that a
// paged walk resumes exactly where it stopped.
func (s *Store) SegmentPage(ctx context.Context, seg domain.Segment, now time.Time, after string, limit int) ([]string, error) {
	if after == "" {
		after = "00000000-0000-0000-0000-000000000000"
	}
	where, args := segmentWhere(seg, now, []any{after, limit})
	rows, err := s.pool.Query(ctx, `SELECT m.id::text FROM members m JOIN member_balances b ON b.member_id = m.id
		WHERE m.id > $1::uuid AND `+where+` ORDER BY m.id LIMIT $2`, args...)
	if err != nil {
		return nil, wrap("segment page", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, wrap("segment page", err)
}

// GrantCampaignBonus credits a campaign's bonus to one member within what is left of its budget, once per campaign
// and member whatever the retries. It returns the points given (0 for a repeat or a spent budget).
func (s *Store) GrantCampaignBonus(ctx context.Context, campaignID, memberID string, points int64, now time.Time) (int64, error) {
	var given int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		given = 0
		led, err := lockMember(ctx, tx, memberID)
		if err != nil {
			return err
		}
		key := domain.BonusKey(campaignID, memberID)
		var done bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM campaign_issuances WHERE campaign_id = $1 AND source = 'bonus' AND source_id = $2)`,
			campaignID, memberID).Scan(&done); err != nil || done {
			return wrap("bonus granted before", err)
		}
		// A member gets the whole bonus or none: what is left of the budget is not handed out in part.
		give, found, err := takeFromBudget(ctx, tx, campaignID, points, true)
		if err != nil {
			return err
		}
		if !found {
			return domain.Errorf(domain.ErrNotFound, "campaign %s not found", campaignID)
		}
		if give > 0 {
			pv, err := programAt(ctx, tx, now)
			if err != nil {
				return err
			}
			if _, err := led.credit(ctx, entry{kind: domain.EntryBonus, points: give, availableAt: now, expiresAt: pv.Program.ExpiresAt(now),
				sourceType: "campaign", sourceID: campaignID, key: key, occurredAt: now, qualifying: give}); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO campaign_issuances (campaign_id, source, source_id, member_id, points, cut_points)
			VALUES ($1, 'bonus', $2, $3, $4, $5)`, campaignID, memberID, memberID, give, points-give); err != nil {
			return wrap("record campaign bonus", err)
		}
		given = give
		return nil
	})
	return given, wrap("grant campaign bonus", err)
}

// CampaignReport is what a campaign achieved.
type CampaignReport struct {
	CampaignID string `json:"campaign_id"`
	Status     string `json:"status"`
	// PointsIssued is what the campaign gave (its rule's part of purchases, its bonuses), less what returns of those
	// purchases gave back to its budget.
	PointsIssued int64 `json:"points_issued"`
	// PointsCut is what the campaign's rule would have given beyond its budget.
	PointsCut int64 `json:"points_cut"`
	// PointsReturned is what returns of purchases gave back to the campaign's budget; PointsIssued is net of it.
	PointsReturned int64  `json:"points_returned"`
	Participants   int64  `json:"participants"`
	Purchases      int64  `json:"purchases"`
	Redemptions    int64  `json:"redemptions"`
	BudgetPoints   *int64 `json:"budget_points,omitempty"`
	// BudgetUsedPercent is issued / budget, rounded down; absent without a budget.
	BudgetUsedPercent *int64 `json:"budget_used_percent,omitempty"`
	BudgetExhausted   bool   `json:"budget_exhausted"`
	SegmentSize       int64  `json:"segment_size"`
	Announced         int64  `json:"announced"`
	// SegmentAtStart is how many members the segment held when a bonus campaign started and its bonus was given out
	// (counted as the bonus reaches them); MembersCredited how many of them got it (the others found the budget
	// spent). Both absent for a campaign without a bonus.
	SegmentAtStart  *int64 `json:"segment_size_at_start,omitempty"`
	MembersCredited *int64 `json:"members_credited,omitempty"`
}

// CampaignReport sums what a campaign issued (net of what returns gave back), to how many members, and the
// redemptions those members made after it started.
func (s *Store) CampaignReport(ctx context.Context, id string) (CampaignReport, error) {
	c, err := s.GetCampaign(ctx, id)
	if err != nil {
		return CampaignReport{}, err
	}
	r := CampaignReport{CampaignID: id, Status: c.Status, PointsIssued: c.IssuedPoints, BudgetPoints: c.BudgetPoints,
		BudgetExhausted: c.BudgetExhausted, SegmentSize: c.SegmentSize, Announced: c.Announced}
	var atStart, credited int64
	err = s.pool.QueryRow(ctx, `
		SELECT COALESCE(sum(cut_points), 0), count(DISTINCT member_id) FILTER (WHERE points > 0),
		       count(*) FILTER (WHERE source = 'purchase' AND points > 0),
		       (SELECT count(*) FROM ledger_entries e WHERE e.kind = 'redemption' AND e.occurred_at >= $2
		          AND e.member_id IN (SELECT member_id FROM campaign_issuances WHERE campaign_id = $1 AND points > 0)),
		       count(*) FILTER (WHERE source = 'bonus'), count(*) FILTER (WHERE source = 'bonus' AND points > 0),
		       (SELECT COALESCE(sum(points), 0) FROM campaign_returns WHERE campaign_id = $1)
		FROM campaign_issuances WHERE campaign_id = $1`, id, c.StartsAt).Scan(&r.PointsCut, &r.Participants, &r.Purchases, &r.Redemptions,
		&atStart, &credited, &r.PointsReturned)
	if err != nil {
		return r, wrap("campaign report", err)
	}
	if c.Campaign.Kind == domain.CampaignBonus {
		r.SegmentAtStart, r.MembersCredited = &atStart, &credited
	}
	if c.BudgetPoints != nil {
		p := c.IssuedPoints * 100 / *c.BudgetPoints
		r.BudgetUsedPercent = &p
	}
	return r, nil
}

// emitCampaignEvent reports a campaign's start (scheduled → active) or end (to completed or cancelled) to webhooks.
func emitCampaignEvent(ctx context.Context, tx pgx.Tx, id, from, to string, now time.Time) error {
	ended := func(st string) bool { return st == domain.CampaignCompleted || st == domain.CampaignCancelled }
	var t string
	switch {
	case from == domain.CampaignScheduled && to == domain.CampaignActive:
		t = domain.EventCampaignStarted
	case ended(to) && !ended(from):
		t = domain.EventCampaignEnded
	default:
		return nil
	}
	return EmitEvent(ctx, tx, t, "", now, map[string]any{"campaign_id": id, "status": to, "at": now.UTC()})
}
