package store

import "time"

// BalanceQuery is the SQL text and arguments of a balance read, for tests of its plan.
func BalanceQuery(memberID string, now time.Time) (string, []any) {
	q := balanceQuery(memberID, now)
	return q.sql, q.args
}
