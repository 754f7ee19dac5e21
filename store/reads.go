package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/perkflow/perkflow/domain"
)

// OperationRecord is a recorded return, till redemption or adjustment, for replaying its first answer.
type OperationRecord struct {
	Outcome       domain.OperationOutcome
	MemberID      string
	TransactionID string // returns only
	Fingerprint   string
}

// ReturnFingerprint is how a return's content is compared with the first request that used its id.
func ReturnFingerprint(r domain.Return) string {
	return fingerprint(struct {
		T     string
		Items []domain.ReturnItem
		A     *int64
	}{r.TransactionID, r.Items, r.Amount})
}

// TillRedemptionFingerprint is how a till redemption's content is compared with the first request that used its id.
func TillRedemptionFingerprint(r domain.TillRedemption) string { return fingerprint(r) }

// AdjustmentFingerprint is how an adjustment's content is compared with the first request that used its id.
func AdjustmentFingerprint(a domain.Adjustment) string {
	return fingerprint(struct {
		M string
		P int64
		R string
	}{a.MemberID, a.Points, a.Reason})
}

func (s *Store) getOperation(ctx context.Context, query, id string) (OperationRecord, error) {
	var rec OperationRecord
	o := &rec.Outcome
	o.ID = id
	err := s.pool.QueryRow(ctx, query, id).Scan(&rec.MemberID, &rec.TransactionID, &rec.Fingerprint, &o.Status, &o.Reason, &o.Points, &o.NotRecovered)
	if errors.Is(err, pgx.ErrNoRows) {
		return rec, domain.Errorf(domain.ErrNotFound, "%s not found", id)
	}
	if err != nil {
		return rec, wrap("read operation "+id, err)
	}
	o.Balance, err = balance(ctx, s.pool, rec.MemberID, s.Now())
	return rec, err
}

// GetReturn reads a recorded return; unknown → domain.ErrNotFound.
func (s *Store) GetReturn(ctx context.Context, id string) (OperationRecord, error) {
	return s.getOperation(ctx, `SELECT member_id::text, transaction_id, fingerprint, status, COALESCE(reject_reason, ''),
		points_reversed, points_not_recovered FROM transaction_returns WHERE return_id = $1`, id)
}

// GetTillRedemption reads a recorded till redemption; unknown → domain.ErrNotFound.
func (s *Store) GetTillRedemption(ctx context.Context, id string) (OperationRecord, error) {
	return s.getOperation(ctx, `SELECT member_id::text, '', fingerprint, status, COALESCE(reject_reason, ''), points, 0
		FROM till_redemptions WHERE redemption_id = $1`, id)
}

// GetAdjustment reads a recorded adjustment; unknown → domain.ErrNotFound.
func (s *Store) GetAdjustment(ctx context.Context, id string) (OperationRecord, error) {
	return s.getOperation(ctx, `SELECT member_id::text, '', fingerprint, status, COALESCE(reject_reason, ''), points, 0
		FROM adjustments WHERE adjustment_id = $1`, id)
}

// A refused operation (recorded as rejected) wrote nothing to the ledger, and does not use up its id: a retry with
// the same id, corrected or not, is judged again. The API forgets the refusal before it sends the retry on, so that
// what it then reads is the retry's outcome; the store does the same when it meets a refusal under the member's lock.

// ForgetRefusedReturn deletes return id's record if it is a refusal.
func (s *Store) ForgetRefusedReturn(ctx context.Context, id string) error {
	return returnRefusals.forget(ctx, s.pool, id)
}

// ForgetRefusedTillRedemption deletes till redemption id's record if it is a refusal.
func (s *Store) ForgetRefusedTillRedemption(ctx context.Context, id string) error {
	return tillRefusals.forget(ctx, s.pool, id)
}

// ForgetRefusedAdjustment deletes adjustment id's record if it is a refusal.
func (s *Store) ForgetRefusedAdjustment(ctx context.Context, id string) error {
	return adjustmentRefusals.forget(ctx, s.pool, id)
}

// refusals is where one kind of operation is recorded: its table's DELETE of a refusal by id.
type refusals string

const (
	returnRefusals     refusals = `DELETE FROM transaction_returns WHERE return_id = $1 AND status = 'rejected'`
	tillRefusals       refusals = `DELETE FROM till_redemptions WHERE redemption_id = $1 AND status = 'rejected'`
	adjustmentRefusals refusals = `DELETE FROM adjustments WHERE adjustment_id = $1 AND status = 'rejected'`
)

func (r refusals) forget(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, id string) error {
	_, err := q.Exec(ctx, string(r), id)
	return wrap("forget refused "+id, err)
}

// TransactionReturns lists the returns recorded against a purchase, oldest first.
func (s *Store) TransactionReturns(ctx context.Context, txID string) ([]domain.OperationOutcome, error) {
	rows, err := s.pool.Query(ctx, `SELECT return_id, status, COALESCE(reject_reason, ''), points_reversed, points_not_recovered
		FROM transaction_returns WHERE transaction_id = $1 ORDER BY created_at, return_id`, txID)
	if err != nil {
		return nil, wrap("returns", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.OperationOutcome, error) {
		var o domain.OperationOutcome
		return o, r.Scan(&o.ID, &o.Status, &o.Reason, &o.Points, &o.NotRecovered)
	})
	if out == nil {
		out = []domain.OperationOutcome{}
	}
	return out, wrap("returns", err)
}

// ProgramVersionByID reads one version of the program settings.
func (s *Store) ProgramVersionByID(ctx context.Context, version int64) (ProgramVersion, error) {
	var pv ProgramVersion
	err := s.pool.QueryRow(ctx, `SELECT version, effective_from, settings FROM program_settings WHERE version = $1`, version).
		Scan(&pv.Version, &pv.EffectiveFrom, jsonScanner{&pv.Program})
	if errors.Is(err, pgx.ErrNoRows) {
		return pv, domain.Errorf(domain.ErrNotFound, "program version %d not found", version)
	}
	return pv, wrap("program version", err)
}

// EachAccruedTransaction calls fn for every accrued purchase that occurred in [from, to), oldest first, stopping
// after limit purchases; it reports whether more remained.
func (s *Store) EachAccruedTransaction(ctx context.Context, from, to time.Time, limit int, fn func(Transaction) error) (bool, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+transactionColumns+` FROM transactions
		WHERE status = 'accrued' AND occurred_at >= $1 AND occurred_at < $2 ORDER BY occurred_at, transaction_id LIMIT $3`,
		from, to, limit+1)
	if err != nil {
		return false, wrap("transactions", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		if n == limit {
			return true, nil
		}
		t, err := scanTransaction(rows, "")
		if err != nil {
			return false, err
		}
		if err := fn(t); err != nil {
			return false, err
		}
		n++
	}
	return false, wrap("transactions", rows.Err())
}

// OutstandingPoints is the points all members hold now — pending and available, less debt — summed over the
// balance rows, each of which equals the sum of its member's ledger entries (CheckInvariants): exact, and one row
// per member to read instead of one per entry.
func (s *Store) OutstandingPoints(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT COALESCE(sum(total), 0)::bigint FROM member_balances`).Scan(&n)
	return n, wrap("sum outstanding points", err)
}
