package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// Transaction statuses.
const (
	TxAccrued  = "accrued"
	TxRejected = "rejected"
)

// Transaction is a reported purchase as recorded, with what it earned.
type Transaction struct {
	TransactionID  string            `json:"transaction_id"`
	MemberID       string            `json:"member_id"`
	StoreID        string            `json:"store_id"`
	Channel        string            `json:"channel"`
	OccurredAt     time.Time         `json:"occurred_at"`
	Total          domain.Money      `json:"total"`
	Items          []domain.LineItem `json:"items"`
	Fingerprint    string            `json:"-"`
	Status         string            `json:"status"`
	RejectReason   string            `json:"reject_reason,omitempty"`
	PointsEarned   int64             `json:"points_earned"`
	PendingUntil   time.Time         `json:"pending_until"`
	ProgramVersion int64             `json:"program_version"`
	AccruedAt      time.Time         `json:"accrued_at"`
}

// AccrualResult is what AccruePurchase did.
type AccrualResult struct {
	Transaction Transaction
	// Balance right after this accrual (or now, for a replay).
	Balance domain.Balance
	// Replayed is true when the transaction id had been processed before: nothing was written this time.
	Replayed bool
	// Conflict is true when the transaction id was already used for a purchase with different content.
	Conflict bool
}

// AccruePurchase records a purchase and credits the points it earns, in one database transaction with the member's
// balance. It is idempotent on the POS transaction id: the first call writes, every later call (retries, duplicate
// reports, concurrent duplicates) writes nothing and returns the first result. The points are computed by the
// program settings in force at the purchase's occurred_at.
func (s *Store) AccruePurchase(ctx context.Context, p domain.Purchase) (AccrualResult, error) {
	var res AccrualResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		res = AccrualResult{}
		pv, err := programAt(ctx, tx, p.OccurredAt)
		if err != nil {
			return err
		}
		t := Transaction{
			TransactionID: p.TransactionID, MemberID: p.MemberID, StoreID: p.StoreID, Channel: p.Channel,
			OccurredAt: p.OccurredAt.UTC(), Total: p.Total, Items: p.Items, Fingerprint: p.Fingerprint(),
			Status: TxAccrued, ProgramVersion: pv.Version, PendingUntil: p.OccurredAt.UTC(),
		}
		acc, err := pv.Program.Accrue(p)
		switch {
		case domain.CodeOf(err) == domain.ErrUnprocessable:
			// Recorded as rejected so that the POS can see why, and so that a retry does not change the outcome.
			t.Status, t.RejectReason = TxRejected, err.Error()
		case err != nil:
			return err
		default:
			t.PointsEarned, t.PendingUntil = acc.Points, acc.AvailableAt
		}
		items := t.Items
		if items == nil {
			items = []domain.LineItem{}
		}
		itemsJSON, err := json.Marshal(items)
		if err != nil {
			return err
		}
		// The primary key makes concurrent duplicates wait for the first and then insert nothing.
		err = tx.QueryRow(ctx, `
			INSERT INTO transactions (transaction_id, member_id, store_id, channel, occurred_at, total_amount, currency,
			                          items, fingerprint, status, reject_reason, points_earned, available_at, program_version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULLIF($11, ''), $12, $13, $14)
			ON CONFLICT (transaction_id) DO NOTHING
			RETURNING accrued_at`,
			t.TransactionID, t.MemberID, t.StoreID, t.Channel, t.OccurredAt, t.Total.Amount, t.Total.Currency,
			itemsJSON, t.Fingerprint, t.Status, t.RejectReason, t.PointsEarned, t.PendingUntil, t.ProgramVersion,
		).Scan(&t.AccruedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			first, err := getTransaction(ctx, tx, p.TransactionID)
			if err != nil {
				return err
			}
			res.Transaction, res.Replayed = first, true
			res.Conflict = first.Fingerprint != t.Fingerprint
			res.Balance, err = getBalance(ctx, tx, first.MemberID)
			return err
		}
		if err != nil {
			return wrap("insert transaction", err)
		}
		if t.PointsEarned > 0 {
			if err := credit(ctx, tx, entry{
				memberID: p.MemberID, kind: domain.EntryAccrual, points: t.PointsEarned,
				availableAt: acc.AvailableAt, expiresAt: acc.ExpiresAt,
				sourceType: "purchase", sourceID: p.TransactionID, key: domain.AccrualKey(p.TransactionID),
				qualifying: true,
			}); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, AccrualChannel, p.TransactionID); err != nil {
			return err
		}
		res.Transaction = t
		res.Balance, err = getBalance(ctx, tx, p.MemberID)
		return err
	})
	if err != nil {
		return AccrualResult{}, wrap("accrue purchase "+p.TransactionID, err)
	}
	return res, nil
}

// entry is a ledger row to append.
type entry struct {
	memberID    string
	kind        domain.EntryKind
	points      int64
	availableAt time.Time
	expiresAt   *time.Time
	sourceType  string
	sourceID    string
	key         string
	// qualifying credits count towards tiers.
	qualifying bool
}

// credit appends a positive entry and raises the balance, holding the member's balance row lock so that entries and
// balance move together and balance_after is exact.
func credit(ctx context.Context, tx pgx.Tx, e entry) error {
	var total int64
	err := tx.QueryRow(ctx, `SELECT total FROM member_balances WHERE member_id = $1 FOR UPDATE`, e.memberID).Scan(&total)
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Errorf(domain.ErrNotFound, "member %s has no balance", e.memberID)
	}
	if err != nil {
		return wrap("lock balance", err)
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO ledger_entries (member_id, kind, points, available_at, expires_at, source_type, source_id,
		                            idempotency_key, balance_after)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		e.memberID, e.kind, e.points, e.availableAt, e.expiresAt, e.sourceType, e.sourceID, e.key, total+e.points,
	); err != nil {
		return wrap("append ledger entry", err)
	}
	qual := int64(0)
	if e.qualifying {
		qual = e.points
	}
	_, err = tx.Exec(ctx, `
		UPDATE member_balances
		SET total = total + $2, lifetime = lifetime + $2, qualifying = qualifying + $3, updated_at = now()
		WHERE member_id = $1`, e.memberID, e.points, qual)
	return wrap("update balance", err)
}

// GetTransaction reads a recorded purchase; unknown → domain.ErrNotFound.
func (s *Store) GetTransaction(ctx context.Context, id string) (Transaction, error) {
	return getTransaction(ctx, s.pool, id)
}

func getTransaction(ctx context.Context, q querier, id string) (Transaction, error) {
	var t Transaction
	var items []byte
	var reason *string
	var pv *int64
	err := q.QueryRow(ctx, `
		SELECT transaction_id, member_id::text, store_id, channel, occurred_at, total_amount, currency, items,
		       fingerprint, status, reject_reason, points_earned, available_at, program_version, accrued_at
		FROM transactions WHERE transaction_id = $1`, id).
		Scan(&t.TransactionID, &t.MemberID, &t.StoreID, &t.Channel, &t.OccurredAt, &t.Total.Amount, &t.Total.Currency,
			&items, &t.Fingerprint, &t.Status, &reason, &t.PointsEarned, &t.PendingUntil, &pv, &t.AccruedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, domain.Errorf(domain.ErrNotFound, "transaction %s not found", id)
	}
	if err != nil {
		return t, wrap("get transaction", err)
	}
	t.RejectReason = deref(reason)
	if pv != nil {
		t.ProgramVersion = *pv
	}
	if err := json.Unmarshal(items, &t.Items); err != nil {
		return t, wrap("decode items", err)
	}
	return t, nil
}
