package store

import (
	"time"

	"github.com/perkflow/perkflow/domain"
)

// BalanceQuery is the SQL text and arguments of a balance read, for tests of its plan.
func BalanceQuery(memberID string, now time.Time) (string, []any) {
	q := balanceQuery(memberID, now)
	return q.sql, q.args
}

// DecodeProgram decodes program settings as every read of them does, through the cache of decoded documents.
func DecodeProgram(raw []byte) (domain.Program, error) { return decodedPrograms.decode(raw) }
