package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// ParkPurchases writes a member's purchases as parked rows r.From, r.From+1, … (domain.ParkRequest), in one
// transaction: the rows from r.From on are replaced, so a retry, or the attempt of a workflow task replayed after a
// lost one (which parks what the lost one did and what arrived since), leaves exactly this queue behind r.From.
func (s *Store) ParkPurchases(ctx context.Context, r domain.ParkRequest) error {
	if !domain.ValidMemberID(r.MemberID) || r.From < 0 {
		return domain.Errorf(domain.ErrInvalid, "park purchases of member %q from %d", r.MemberID, r.From)
	}
	for _, p := range r.Purchases {
		if p.MemberID != r.MemberID {
			return domain.Errorf(domain.ErrInvalid, "purchase %s is member %s's, not %s's", p.TransactionID, p.MemberID, r.MemberID)
		}
	}
	doc, err := json.Marshal(r.Purchases)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM member_backlog WHERE member_id = $1 AND seq >= $2`, r.MemberID, r.From); err != nil {
			return wrap("clear parked purchases", err)
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO member_backlog (member_id, seq, transaction_id, purchase, parked_at)
			SELECT $1, $2 + u.n - 1, u.p->>'transaction_id', u.p, $4
			FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS u(p, n)`,
			r.MemberID, r.From, doc, s.Now())
		return wrap("park purchases", err)
	})
}

// UnparkPurchases reads up to r.Limit of a member's parked purchases from row r.From on, oldest first, after
// deleting the rows below r.DeleteBelow (domain.UnparkRequest). It changes nothing else, so a read repeated after a
// lost workflow task answers the same. The rows read are numbered r.From, r.From+1, …: a gap is an error.
func (s *Store) UnparkPurchases(ctx context.Context, r domain.UnparkRequest) ([]domain.Purchase, error) {
	if !domain.ValidMemberID(r.MemberID) || r.From < 0 || r.Limit <= 0 {
		return nil, domain.Errorf(domain.ErrInvalid, "unpark %d purchases of member %q from %d", r.Limit, r.MemberID, r.From)
	}
	if r.DeleteBelow > 0 {
		if _, err := s.pool.Exec(ctx, `DELETE FROM member_backlog WHERE member_id = $1 AND seq < $2`, r.MemberID, min(r.DeleteBelow, r.From)); err != nil {
			return nil, wrap("delete unparked purchases", err)
		}
	}
	rows, err := s.pool.Query(ctx, `
		SELECT seq, purchase FROM member_backlog WHERE member_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3`,
		r.MemberID, r.From, r.Limit)
	if err != nil {
		return nil, wrap("unpark purchases", err)
	}
	var out []domain.Purchase
	var seq int64
	var doc []byte
	_, err = pgx.ForEachRow(rows, []any{&seq, &doc}, func() error {
		if want := r.From + int64(len(out)); seq != want {
			return fmt.Errorf("member %s's parked purchases skip from row %d to %d", r.MemberID, want, seq)
		}
		var p domain.Purchase
		if err := json.Unmarshal(doc, &p); err != nil {
			return fmt.Errorf("parked purchase %d of member %s: %w", seq, r.MemberID, err)
		}
		out = append(out, p)
		return nil
	})
	return out, wrap("unpark purchases", err)
}

// PurchaseParked reports whether a member's workflow has parked a purchase it has not accrued yet.
func (s *Store) PurchaseParked(ctx context.Context, memberID, transactionID string) (bool, error) {
	var parked bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM member_backlog WHERE member_id = $1 AND transaction_id = $2)`,
		memberID, transactionID).Scan(&parked)
	return parked, wrap("parked purchase", err)
}
