package store

import (
	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/metrics"
)

// The business metrics are counted here, where the writes happen: what a transaction wrote is collected while it
// runs and counted once it has committed. A transaction that rolls back counts nothing; an operation replayed
// under its idempotency key writes nothing, so it counts nothing more; and a workflow replay never reaches the
// store. So each counter moves exactly once per committed business event, whichever process or retry wrote it.

// WithMetrics returns a copy of the store that counts its committed effects in m (nil counts nothing).
func (s *Store) WithMetrics(m *metrics.Business) *Store {
	c := *s
	c.metrics = m
	return &c
}

// effects is what one transaction wrote that the metrics count.
type effects struct {
	entries       []effectEntry
	redemptions   [][2]string // channel, outcome
	compensations []string
	// webhookTypes are the types of the outbox events written (webhooks.go), announced once committed.
	webhookTypes []string
}

type effectEntry struct {
	kind   domain.EntryKind
	source string
	points int64 // signed
}

// effectTx is a transaction that collects its effects; inTx hands one to every transaction function.
type effectTx struct {
	pgx.Tx
	eff *effects
}

// effectsOf is the collector of tx (nil, which collects nothing, for a transaction not begun by inTx).
func effectsOf(tx pgx.Tx) *effects {
	if t, ok := tx.(effectTx); ok {
		return t.eff
	}
	return nil
}

func (e *effects) entry(kind domain.EntryKind, source string, points int64) {
	if e != nil {
		e.entries = append(e.entries, effectEntry{kind, source, points})
	}
}

func (e *effects) webhook(eventType string) {
	if e != nil {
		e.webhookTypes = append(e.webhookTypes, eventType)
	}
}

func (e *effects) redemption(channel, outcome string) {
	if e != nil {
		e.redemptions = append(e.redemptions, [2]string{channel, outcome})
	}
}

func (e *effects) compensation(step string) {
	if e != nil {
		e.compensations = append(e.compensations, step)
	}
}

// count tells the metrics what a committed transaction did: each ledger entry by its kind (docs/operations.md
// has the table), each redemption that ended, each compensation that gave something back.
func (s *Store) count(e *effects) {
	m := s.metrics
	if m == nil || e == nil {
		return
	}
	for _, en := range e.entries {
		switch en.kind {
		case domain.EntryAccrual, domain.EntryBonus:
			m.PointsIssued(string(en.kind), en.points)
		case domain.EntryAdjustment:
			if en.points > 0 {
				m.PointsIssued(string(en.kind), en.points)
			} else {
				m.PointsWithdrawn(string(en.kind), -en.points)
			}
		case domain.EntryReturn:
			m.PointsReturned(-en.points)
		case domain.EntryRedemption:
			kind := "offer"
			if en.source == "till" {
				kind = "till"
			}
			m.PointsRedeemed(kind, -en.points)
		case domain.EntryRelease:
			m.PointsReleased(en.points)
		case domain.EntryExpiry:
			m.PointsExpired(-en.points)
		}
	}
	for _, r := range e.redemptions {
		m.RedemptionEnded(r[0], r[1])
	}
	for _, c := range e.compensations {
		m.CompensationApplied(c)
	}
}
