package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// Operation statuses.
const (
	OpApplied  = "applied"
	OpRejected = "rejected"
)

func fingerprint(v any) string {
	b, _ := json.Marshal(v)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// ReturnPurchase reverses the points that the returned lines (or amount) of a purchase earned, exactly: the purchase
// is priced again without what has been returned so far, by the rule versions, program and tier it was first priced
// with, and the difference with what was already reversed is taken back — first from the lot the purchase created,
// then from the member's other available points; what is still missing becomes debt when the program allows a
// negative balance on returns, and is reported as not recovered otherwise. A campaign whose budget cut the purchase's
// points at accrual keeps that cut: the returned lines take back their share of what the campaign gave, not what it
// would have given uncut (domain.KeptAfterReturns), and that share goes back to the campaign's budget
// (giveBackCampaignBudgets). A return never reverses more than the purchase earned. It is idempotent on return_id; a
// return that does not fit the purchase is recorded as rejected.
func (s *Store) ReturnPurchase(ctx context.Context, r domain.Return, now time.Time) (domain.OperationOutcome, error) {
	var out domain.OperationOutcome
	fp := ReturnFingerprint(r)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out = domain.OperationOutcome{ID: r.ReturnID}
		var memberID string
		err := tx.QueryRow(ctx, `SELECT member_id::text FROM transactions WHERE transaction_id = $1`, r.TransactionID).Scan(&memberID)
		if errors.Is(err, pgx.ErrNoRows) {
			return domain.Errorf(domain.ErrNotFound, "transaction %s not found", r.TransactionID)
		}
		if err != nil {
			return err
		}
		led, err := lockMember(ctx, tx, memberID)
		if err != nil {
			return err
		}
		if done, err := replayOperation(ctx, tx, &out, `SELECT fingerprint, status, COALESCE(reject_reason, ''), points_reversed, points_not_recovered
			FROM transaction_returns WHERE return_id = $1`, returnRefusals, r.ReturnID, fp, memberID, now); done || err != nil {
			return err
		}
		t, err := scanTransaction(tx.QueryRow(ctx, `SELECT `+transactionColumns+` FROM transactions WHERE transaction_id = $1 FOR UPDATE`, r.TransactionID), r.TransactionID)
		if err != nil {
			return err
		}
		reject := func(reason string) error {
			out.Status, out.Reason = OpRejected, reason
			_, err := tx.Exec(ctx, `
				INSERT INTO transaction_returns (return_id, transaction_id, member_id, fingerprint, items, amount, status, reject_reason)
				VALUES ($1, $2, $3, $4, $5, $6, 'rejected', $7)`, r.ReturnID, r.TransactionID, memberID, fp, jsonOf(r.Items), r.Amount, reason)
			if err != nil {
				return wrap("record rejected return", err)
			}
			out.Balance, err = balance(ctx, tx, memberID, now)
			if err == nil {
				err = notify(ctx, tx, domain.ReturnKey(r.ReturnID))
			}
			return err
		}
		if t.Status != TxAccrued {
			return reject("the purchase was rejected and earned nothing")
		}
		returned := map[string]int64{}
		for k, v := range t.ReturnedItems {
			returned[k] = v
		}
		bought := map[string]int64{}
		for _, it := range t.Items {
			bought[it.SKU] += it.Quantity
		}
		for _, it := range r.Items {
			if bought[it.SKU] == 0 {
				return reject(fmt.Sprintf("sku %s is not in the purchase", it.SKU))
			}
			returned[it.SKU] += it.Quantity
			if returned[it.SKU] > bought[it.SKU] {
				return reject(fmt.Sprintf("sku %s: %d returned in all, %d bought", it.SKU, returned[it.SKU], bought[it.SKU]))
			}
		}
		amount := t.ReturnedAmount
		if r.Amount != nil {
			if left := domain.PaidAfterReturns(t.Purchase(), returned, amount); *r.Amount > left {
				return reject(fmt.Sprintf("%d cannot be returned: %d is left of what was paid", *r.Amount, left))
			}
			amount += *r.Amount
		}
		var prog ProgramVersion
		if err := tx.QueryRow(ctx, `SELECT version, effective_from, settings FROM program_settings WHERE version = $1`, t.ProgramVersion).
			Scan(&prog.Version, &prog.EffectiveFrom, jsonScanner{&prog.Program}); err != nil {
			return wrap("program of the purchase", err)
		}
		rules, err := rulesByRef(ctx, tx, t.RuleVersions)
		if err != nil {
			return err
		}
		tier, _ := prog.Program.TierByCode(t.TierCode)
		tier.MultiplierPercent = t.TierMultiplier
		full, err := domain.Earn(domain.EarnInput{Program: prog.Program, Rules: rules, Tier: tier, Purchase: t.Purchase()})
		if err != nil {
			return err
		}
		after, err := domain.Earn(domain.EarnInput{Program: prog.Program, Rules: rules, Tier: tier, Purchase: t.Purchase(),
			ReturnedQty: returned, ReturnedAmount: amount})
		if err != nil {
			return err
		}
		kept := domain.KeptAfterReturns(t.Contributions, full, after)
		target := min(max(t.PointsEarned-kept.Points, 0), t.PointsEarned)
		reverse := max(target-t.PointsReversed, 0)
		var entryID, shortfall int64
		if reverse > 0 {
			cur, err := programAt(ctx, tx, now)
			if err != nil {
				return err
			}
			allowDebt := cur.Program.AllowNegativeOnReturn
			entryID, _, shortfall, err = led.debit(ctx, debitPlan{
				entry: entry{kind: domain.EntryReturn, availableAt: t.OccurredAt, sourceType: "return", sourceID: r.ReturnID,
					key: domain.ReturnKey(r.ReturnID), occurredAt: t.OccurredAt, qualifying: -reverse},
				amount: reverse, firstLot: t.LotID, allowDebt: allowDebt,
			}, now)
			if err != nil {
				return err
			}
			if allowDebt {
				shortfall = 0 // taken all the same, as debt
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE transactions SET points_reversed = points_reversed + $2, returned_items = $3, returned_amount = $4
			WHERE transaction_id = $1`, t.TransactionID, reverse, jsonOf(returned), amount); err != nil {
			return wrap("update transaction", err)
		}
		var eid *int64
		if entryID != 0 {
			eid = &entryID
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO transaction_returns (return_id, transaction_id, member_id, fingerprint, items, amount, status,
			                                 points_reversed, points_not_recovered, entry_id)
			VALUES ($1, $2, $3, $4, $5, $6, 'applied', $7, $8, $9)`,
			r.ReturnID, r.TransactionID, memberID, fp, jsonOf(r.Items), r.Amount, reverse, shortfall, eid); err != nil {
			return wrap("record return", err)
		}
		if err := giveBackCampaignBudgets(ctx, tx, t, r.ReturnID, kept, t.PointsReversed+reverse); err != nil {
			return err
		}
		out.Status, out.Points, out.NotRecovered = OpApplied, reverse, shortfall
		if out.Balance, err = balance(ctx, tx, memberID, now); err != nil {
			return err
		}
		return notify(ctx, tx, domain.ReturnKey(r.ReturnID))
	})
	if domain.CodeOf(err) == domain.ErrNotFound {
		// The member's workflow takes a return after every purchase queued before it: this one was never accepted
		// after all (its report failed between its claim and its signal). Its claim goes, so that the return's
		// retry answers 404 instead of being queued again.
		if _, derr := s.pool.Exec(ctx, `DELETE FROM accrual_claims WHERE transaction_id = $1 AND member_id::text = $2`, r.TransactionID, r.MemberID); derr != nil {
			return domain.OperationOutcome{}, wrap("forget the accrual claim of "+r.TransactionID, derr)
		}
	}
	if err != nil {
		return domain.OperationOutcome{}, wrap("return "+r.ReturnID, err)
	}
	return out, nil
}

// replayOperation answers an operation id seen before with its first outcome. It reports done when it did. A refusal
// does not use up the id: it is forgotten (it wrote nothing but its record) and the operation is judged again.
func replayOperation(ctx context.Context, tx pgx.Tx, out *domain.OperationOutcome, query string, table refusals, id, fp, memberID string, now time.Time) (bool, error) {
	var firstFP string
	err := tx.QueryRow(ctx, query, id).Scan(&firstFP, &out.Status, &out.Reason, &out.Points, &out.NotRecovered)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return true, wrap("replay "+id, err)
	}
	if out.Status == OpRejected {
		out.Status, out.Reason, out.Points, out.NotRecovered = "", "", 0, 0
		return false, table.forget(ctx, tx, id)
	}
	out.Replayed, out.Conflict = true, firstFP != fp
	out.Balance, err = balance(ctx, tx, memberID, now)
	return true, err
}

func jsonOf(v any) []byte {
	b, _ := json.Marshal(v)
	if string(b) == "null" {
		return []byte("[]")
	}
	return b
}

// jsonScanner scans a jsonb column into a value.
type jsonScanner struct{ dst any }

func (j jsonScanner) Scan(src any) error {
	switch b := src.(type) {
	case []byte:
		return json.Unmarshal(b, j.dst)
	case string:
		return json.Unmarshal([]byte(b), j.dst)
	}
	return fmt.Errorf("cannot scan %T as JSON", src)
}

// giveBackCampaignBudgets gives back to each campaign's budget its part of the points the returns of purchase t have
// reversed so far (reversed in all, this return included), less what earlier returns gave back. Points the returns
// could not take back from the member (spent, with no debt allowed) stay issued: they are counted against the
// campaigns' parts first, in campaign id order, so that a budget never gets back points a member kept. The campaign
// rows are locked in id order after the member's, as accruals take them; a campaign's issued points never go below
// zero, and giving back can only move them further below the budget.
func giveBackCampaignBudgets(ctx context.Context, tx pgx.Tx, t Transaction, returnID string, kept domain.Kept, reversed int64) error {
	var due int64
	for _, c := range kept.Campaigns {
		due += c.Returned()
	}
	if due == 0 {
		return nil
	}
	var notRecovered int64
	if err := tx.QueryRow(ctx, `SELECT COALESCE(sum(points_not_recovered), 0) FROM transaction_returns
		WHERE transaction_id = $1 AND status = 'applied'`, t.TransactionID).Scan(&notRecovered); err != nil {
		return wrap("points not recovered", err)
	}
	left := min(max(due-notRecovered, 0), max(reversed-notRecovered, 0))
	for _, c := range kept.Campaigns {
		back := min(c.Returned(), left)
		left -= back
		var before int64
		if err := tx.QueryRow(ctx, `SELECT COALESCE(sum(points), 0) FROM campaign_returns WHERE campaign_id = $1 AND transaction_id = $2`,
			c.CampaignID, t.TransactionID).Scan(&before); err != nil {
			return wrap("campaign budget given back", err)
		}
		give := back - before
		if give <= 0 {
			continue
		}
		var issued int64
		err := tx.QueryRow(ctx, `SELECT issued_points FROM campaigns WHERE campaign_id = $1 FOR UPDATE`, c.CampaignID).Scan(&issued)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // a rule named like a campaign's without a campaign: no budget to give back to
		}
		if err != nil {
			return wrap("lock campaign budget", err)
		}
		give = min(give, issued)
		if give <= 0 {
			continue
		}
		if _, err := tx.Exec(ctx, `
			UPDATE campaigns SET issued_points = issued_points - $2,
			       budget_exhausted = budget_points IS NOT NULL AND issued_points - $2 >= budget_points, updated_at = now()
			WHERE campaign_id = $1`, c.CampaignID, give); err != nil {
			return wrap("give back to campaign budget", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO campaign_returns (campaign_id, return_id, transaction_id, points) VALUES ($1, $2, $3, $4)`,
			c.CampaignID, returnID, t.TransactionID, give); err != nil {
			return wrap("record campaign budget given back", err)
		}
		if err := notify(ctx, tx, domain.CampaignEventKey(c.CampaignID)); err != nil {
			return err
		}
	}
	return nil
}
