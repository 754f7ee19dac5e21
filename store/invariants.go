package store

import (
	"context"
	"fmt"
)

// ledgerInvariants are queries that must each return no row. They are what "the points are right" means, checked by
// the tests after every concurrent or random sequence of operations, and usable against a live database.
var ledgerInvariants = []struct{ name, query string }{
	{"balance total equals the sum of entries and of open lots less debt", `
		SELECT mb.member_id FROM member_balances mb
		WHERE mb.total <> COALESCE((SELECT sum(points) FROM ledger_entries e WHERE e.member_id = mb.member_id), 0)
		   OR mb.total <> COALESCE((SELECT sum(remaining) FROM ledger_lots l WHERE l.member_id = mb.member_id), 0) - mb.debt`},
	{"lifetime equals every point credited (releases excluded) less what returns reversed", `
		SELECT mb.member_id FROM member_balances mb
		WHERE mb.lifetime <> COALESCE((SELECT sum(CASE WHEN e.kind = 'return' THEN e.qualifying_points ELSE e.points END)
		                               FROM ledger_entries e WHERE e.member_id = mb.member_id
		                                 AND ((e.points > 0 AND e.kind <> 'release') OR e.kind = 'return')), 0)`},
	{"each entry's balance_after is the running sum of the member's entries", `
		SELECT id FROM (SELECT id, balance_after, sum(points) OVER (PARTITION BY member_id ORDER BY id) AS running
		                FROM ledger_entries) x WHERE balance_after <> running`},
	{"each lot's remaining is its points less debt paid and what debits took", `
		SELECT l.entry_id FROM ledger_lots l
		WHERE l.remaining <> l.points - l.debt_paid
		      - COALESCE((SELECT sum(points) FROM ledger_allocations a WHERE a.lot_entry_id = l.entry_id), 0)`},
	{"a debit moves exactly what it took from lots, or more only as debt", `
		SELECT e.id FROM ledger_entries e
		WHERE e.points < 0 AND -e.points < COALESCE((SELECT sum(points) FROM ledger_allocations a WHERE a.entry_id = e.id), 0)`},
	{"debits other than returns move exactly what they took from lots", `
		SELECT e.id FROM ledger_entries e
		WHERE e.points < 0 AND e.kind <> 'return'
		  AND -e.points <> COALESCE((SELECT sum(points) FROM ledger_allocations a WHERE a.entry_id = e.id), 0)`},
	{"a purchase never has more reversed than it earned, and its returns' entries add up to what it reversed", `
		SELECT t.transaction_id FROM transactions t
		WHERE t.points_reversed > t.points_earned
		   OR t.points_reversed <> COALESCE((SELECT sum(r.points_reversed) FROM transaction_returns r
		                                     WHERE r.transaction_id = t.transaction_id AND r.status = 'applied'), 0)
		   OR t.points_reversed <> COALESCE((SELECT -sum(e.qualifying_points) FROM ledger_entries e
		                                     JOIN transaction_returns r ON e.kind = 'return' AND e.source_id = r.return_id
		                                     WHERE r.transaction_id = t.transaction_id), 0)`},
	{"an accrual's entry equals what its transaction earned", `
		SELECT t.transaction_id FROM transactions t
		WHERE t.points_earned <> COALESCE((SELECT points FROM ledger_entries e WHERE e.idempotency_key = 'accrual:' || t.transaction_id), 0)`},
	{"debt exists only where the program allows a negative balance on returns", `
		SELECT mb.member_id FROM member_balances mb WHERE mb.debt > 0 AND NOT EXISTS (
			SELECT 1 FROM program_settings WHERE (settings ->> 'allow_negative_on_return')::boolean)`},
}

// CheckInvariants verifies the ledger's invariants over the whole database and returns the first one broken.
func (s *Store) CheckInvariants(ctx context.Context) error {
	for _, inv := range ledgerInvariants {
		var bad []string
		rows, err := s.pool.Query(ctx, `SELECT x::text FROM (`+inv.query+`) AS q(x) LIMIT 5`)
		if err != nil {
			return fmt.Errorf("invariant %q: %w", inv.name, err)
		}
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			bad = append(bad, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("invariant %q: %w", inv.name, err)
		}
		if len(bad) > 0 {
			return fmt.Errorf("ledger invariant broken: %s (e.g. %v)", inv.name, bad)
		}
	}
	return nil
}
