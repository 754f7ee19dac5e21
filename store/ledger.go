package store

// Design note — who may write a member's points, and how they are kept from racing.
//
// Points are written by several workflows: the member workflow (purchases, returns, till redemptions, adjustments,
// tier reviews), and later the redemption saga, campaigns and the expiry schedule. Routing every one of them through
// the member workflow would make that workflow a bottleneck and a single point of failure for sagas that must
// compensate even when it is busy. Instead every write is serialised per member in the database: a write transaction
// first locks the member's balance row (SELECT … FOR UPDATE), then reads lots, appends entries and moves the balance.
// Two writers for the same member queue on that row lock; writers for different members never meet. The invariants
// therefore hold whoever the writer is:
//
//	total = sum(entries) = sum(lots.remaining) - debt
//	lifetime = sum(credits other than releases) - sum(what returns reversed)
//	0 <= lots.remaining <= lots.points
//	every entry has a unique idempotency key derived from its business event.
//
// The member workflow still orders a member's own purchases and returns (a return is queued behind the purchase it
// returns), which is about business order, not about safety.

import (
	"cmp"
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// memberLedger is a member's balance row, locked for the rest of the database transaction.
type memberLedger struct {
	tx       pgx.Tx
	memberID string
	total    int64
	lifetime int64
	debt     int64
}

// lockMember locks the member's balance row; unknown member → domain.ErrNotFound.
func lockMember(ctx context.Context, tx pgx.Tx, memberID string) (*memberLedger, error) {
	l := &memberLedger{tx: tx, memberID: memberID}
	err := tx.QueryRow(ctx, `SELECT total, lifetime, debt FROM member_balances WHERE member_id = $1 FOR UPDATE`, memberID).
		Scan(&l.total, &l.lifetime, &l.debt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, domain.Errorf(domain.ErrNotFound, "member %s not found", memberID)
	}
	return l, wrap("lock member balance", err)
}

// entry is a ledger row to append.
type entry struct {
	kind        domain.EntryKind
	points      int64 // signed
	availableAt time.Time
	expiresAt   *time.Time
	sourceType  string
	sourceID    string
	key         string
	occurredAt  time.Time
	qualifying  int64
	actor       string
	reason      string
}

// insertEntrySQL appends a ledger entry ($9 its balance after) and returns its id: on its own (insertEntry) and as
// the first part of a credit's statement (creditSQL).
const insertEntrySQL = `
		INSERT INTO ledger_entries (member_id, kind, points, available_at, expires_at, source_type, source_id,
		                            idempotency_key, balance_after, occurred_at, qualifying_points, actor, reason)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULLIF($12, ''), NULLIF($13, ''))
		RETURNING id`

func (l *memberLedger) insertEntry(ctx context.Context, e entry) (int64, error) {
	var id int64
	err := l.tx.QueryRow(ctx, insertEntrySQL,
		l.memberID, e.kind, e.points, e.availableAt, e.expiresAt, e.sourceType, e.sourceID, e.key,
		l.total+e.points, e.occurredAt, e.qualifying, e.actor, e.reason).Scan(&id)
	if err != nil {
		return 0, wrap("append ledger entry "+e.key, err)
	}
	effectsOf(l.tx).entry(e.kind, e.sourceType, e.points)
	return id, emitLedgerEvent(ctx, l.tx, l.memberID, id, e, l.total+e.points)
}

// credit appends a positive entry and opens its lot. Outstanding debt is paid back first: the lot starts with what
// is left after paying it. It is one round trip (queueCredit).
func (l *memberLedger) credit(ctx context.Context, e entry) (int64, error) {
	var b pgx.Batch
	read, err := l.queueCredit(&b, e)
	if err != nil {
		return 0, err
	}
	br := l.tx.SendBatch(ctx, &b)
	id, err := read(br)
	return id, cmp.Or(err, wrap("credit", br.Close()))
}

// creditSQL appends a credit's entry, opens its lot, moves the balance and writes the entry's webhook event (when an
// enabled endpoint takes its type; the event's data gets the entry's id) in one statement: the entry's id is known
// only to the statement that inserts it, and four round trips per credit were a third of an accrual's.
var creditSQL = `
	WITH e AS (` + insertEntrySQL + `),
	lot AS (
		INSERT INTO ledger_lots (entry_id, member_id, points, remaining, debt_paid, available_at, expires_at)
		SELECT id, $1, $3, $14, $15, $4, $5 FROM e),
	bal AS (
		UPDATE member_balances SET total = $16, lifetime = $17, debt = $18, updated_at = now() WHERE member_id = $1),
	ev AS (
		INSERT INTO webhook_events (type, order_key, occurred_at, data)
		SELECT $19, $20, $21, $22::jsonb || jsonb_build_object('entry_id', e.id) FROM e
		WHERE $19 <> '' AND ` + subscribedSQL("$19") + `
		RETURNING 1)
	SELECT id, (SELECT count(*) FROM ev) FROM e`

// queueCredit adds the credit's statement (creditSQL) to b and moves the ledger's balance as it will be; read takes
// the new entry's id from the batch's next result. The caller's database transaction must not go on when read fails.
func (l *memberLedger) queueCredit(b *pgx.Batch, e entry) (read func(pgx.BatchResults) (int64, error), err error) {
	if e.points <= 0 {
		return nil, errors.New("credit needs positive points")
	}
	eventType, event, err := ledgerEventOf(l.memberID, e, l.total+e.points)
	if err != nil {
		return nil, err
	}
	pay := min(e.points, l.debt)
	gross := e.points
	if e.kind == domain.EntryRelease {
		gross = 0 // points given back were credited once already
	}
	balanceAfter := l.total + e.points
	l.total += e.points
	l.lifetime += gross
	l.debt -= pay
	b.Queue(creditSQL, l.memberID, e.kind, e.points, e.availableAt, e.expiresAt, e.sourceType, e.sourceID, e.key,
		balanceAfter, e.occurredAt, e.qualifying, e.actor, e.reason, e.points-pay, pay, l.total, l.lifetime, l.debt,
		eventType, l.memberID, e.occurredAt.UTC(), event)
	return func(br pgx.BatchResults) (int64, error) {
		var id, events int64
		if err := br.QueryRow().Scan(&id, &events); err != nil {
			return 0, wrap("append ledger entry "+e.key, err)
		}
		eff := effectsOf(l.tx)
		eff.entry(e.kind, e.sourceType, e.points)
		if events > 0 {
			eff.webhook(eventType)
		}
		return id, nil
	}, nil
}

// debitPlan says where a debit takes its points.
type debitPlan struct {
	entry
	amount int64 // points to take (positive)
	// firstLot is taken from first, whatever its availability (a return takes back from the purchase's own lot).
	firstLot int64
	// onlyLot restricts the debit to one lot (expiry).
	onlyLot int64
	// allowDebt writes the whole amount even when lots do not cover it, the shortfall becoming debt; otherwise only
	// what the lots cover is written and the shortfall is reported.
	allowDebt bool
	// requireAll refuses (domain.ErrUnprocessable, nothing written) when the lots do not cover the amount.
	requireAll bool
}

type openLot struct {
	id        int64
	remaining int64
}

// debit takes points from lots — firstLot, then available unexpired lots soonest-expiring first — appends the
// entry with its allocations, and moves the balance. It returns the entry id (0 when nothing was written), what was
// taken from lots and the shortfall.
func (l *memberLedger) debit(ctx context.Context, d debitPlan, now time.Time) (id, taken, shortfall int64, err error) {
	if d.amount <= 0 {
		return 0, 0, 0, errors.New("debit needs a positive amount")
	}
	var rows pgx.Rows
	switch {
	case d.onlyLot != 0:
		rows, err = l.tx.Query(ctx, `SELECT entry_id, remaining FROM ledger_lots WHERE entry_id = $1 AND member_id = $2 AND remaining > 0`, d.onlyLot, l.memberID)
	default:
		rows, err = l.tx.Query(ctx, `
			SELECT entry_id, remaining FROM ledger_lots
			WHERE member_id = $1 AND remaining > 0
			  AND (entry_id = $3 OR (available_at <= $2 AND (expires_at IS NULL OR expires_at > $2)))
			ORDER BY entry_id = $3 DESC, expires_at NULLS LAST, entry_id`, l.memberID, now, d.firstLot)
	}
	if err != nil {
		return 0, 0, 0, wrap("read lots", err)
	}
	lots, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (openLot, error) {
		var o openLot
		return o, r.Scan(&o.id, &o.remaining)
	})
	if err != nil {
		return 0, 0, 0, wrap("read lots", err)
	}
	var takes []openLot
	need := d.amount
	for _, lot := range lots {
		if need == 0 {
			break
		}
		t := min(need, lot.remaining)
		takes = append(takes, openLot{lot.id, t})
		need -= t
		taken += t
	}
	shortfall = need
	if d.requireAll && shortfall > 0 {
		return 0, 0, shortfall, domain.Errorf(domain.ErrUnprocessable, "not enough available points: %d requested, %d available", d.amount, taken)
	}
	written := taken
	if d.allowDebt {
		written = d.amount
	}
	if written == 0 && d.qualifying == 0 {
		return 0, 0, shortfall, nil
	}
	e := d.entry
	e.points = -written
	if id, err = l.insertEntry(ctx, e); err != nil {
		return 0, 0, 0, err
	}
	for _, t := range takes {
		if _, err := l.tx.Exec(ctx, `INSERT INTO ledger_allocations (entry_id, lot_entry_id, points) VALUES ($1, $2, $3)`, id, t.id, t.remaining); err != nil {
			return 0, 0, 0, wrap("record allocation", err)
		}
		if _, err := l.tx.Exec(ctx, `UPDATE ledger_lots SET remaining = remaining - $2 WHERE entry_id = $1`, t.id, t.remaining); err != nil {
			return 0, 0, 0, wrap("consume lot", err)
		}
	}
	l.total -= written
	if d.allowDebt {
		l.debt += shortfall
	}
	if e.kind == domain.EntryReturn {
		// Lifetime is earned net of returns: a return takes back all it reverses (its qualifying points), recovered
		// from lots or not. Spending and expiry never lower it.
		l.lifetime += e.qualifying
	}
	return id, taken, shortfall, l.saveBalance(ctx)
}

func (l *memberLedger) saveBalance(ctx context.Context) error {
	_, err := l.tx.Exec(ctx, `UPDATE member_balances SET total = $2, lifetime = $3, debt = $4, updated_at = now() WHERE member_id = $1`,
		l.memberID, l.total, l.lifetime, l.debt)
	return wrap("update balance", err)
}

const notifySQL = `SELECT pg_notify($1, $2)`

// notify announces a committed effect ("accrual:T-1", "return:R-1", …) to API processes waiting for it: Postgres
// delivers it when tx commits, and not at all if tx rolls back.
func notify(ctx context.Context, tx pgx.Tx, key string) error {
	_, err := tx.Exec(ctx, notifySQL, EventChannel, key)
	return wrap("notify", err)
}
