package store

import (
	"cmp"
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

// Transaction is a reported purchase as recorded, with what it earned, why, and what was returned of it.
type Transaction struct {
	TransactionID  string                `json:"transaction_id"`
	MemberID       string                `json:"member_id"`
	StoreID        string                `json:"store_id"`
	Channel        string                `json:"channel"`
	OccurredAt     time.Time             `json:"occurred_at"`
	Total          domain.Money          `json:"total"`
	Items          []domain.LineItem     `json:"items"`
	Fingerprint    string                `json:"-"`
	Status         string                `json:"status"`
	RejectReason   string                `json:"reject_reason,omitempty"`
	PointsEarned   int64                 `json:"points_earned"`
	PointsReversed int64                 `json:"points_reversed"`
	PendingUntil   time.Time             `json:"pending_until"`
	ProgramVersion int64                 `json:"program_version"`
	TierCode       string                `json:"tier_code,omitempty"`
	Contributions  []domain.Contribution `json:"contributions"`
	RuleVersions   []domain.RuleRef      `json:"-"`
	TierMultiplier int64                 `json:"-"`
	LotID          int64                 `json:"-"`
	ReturnedItems  map[string]int64      `json:"returned_items,omitempty"`
	ReturnedAmount int64                 `json:"returned_amount,omitempty"`
	AccruedAt      time.Time             `json:"accrued_at"`
	// FirstBalance is the member's balance right after the accrual, as first answered; nil for purchases accrued
	// before it was recorded, and for rejected ones.
	FirstBalance *domain.Balance `json:"-"`
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
	// TierChange is set when this accrual raised the member's tier.
	TierChange *domain.TierChange
}

// AccruePurchase records a purchase and credits the points it earns, in one database transaction with the member's
// balance (see the design note in ledger.go). It is idempotent on the POS transaction id: the first call writes,
// every later call (retries, duplicate reports, concurrent duplicates) writes nothing and returns the first result.
// The points are computed by the program settings and rule versions in force at the purchase's occurred_at, with
// the multiplier of the tier the member held before it; reaching a higher tier raises it at once.
func (s *Store) AccruePurchase(ctx context.Context, p domain.Purchase, now time.Time) (AccrualResult, error) {
	var res AccrualResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		res, err = accruePurchase(ctx, tx, p, now, true)
		return err
	})
	if err != nil {
		return AccrualResult{}, wrap("accrue purchase "+p.TransactionID, err)
	}
	return res, nil
}

// accrualReads is what an accrual reads before it writes, sent as one batch (one round trip instead of six) once the
// member's balance row is locked: the transaction id's first record, the program and rules in force at the
// purchase's occurred_at, the member's tier, and for a live claim the member's joined_at and the program now
// (retro_claim_days). The reads' errors are kept in three groups, each looked at only where the accrual needs those
// reads: a replay needs nothing but the first record (firstErr), a new accrual the program, rules and tier (err, the
// first of theirs in that order), a live claim the rest (claimErr).
type accrualReads struct {
	first    Transaction
	firstErr error
	program  ProgramVersion
	rules    []domain.Rule
	tier     domain.MemberTier
	err      error
	joinedAt time.Time
	current  ProgramVersion
	claimErr error
}

const joinedAtSQL = `SELECT joined_at FROM members WHERE id = $1`

func readAccrualInputs(ctx context.Context, tx pgx.Tx, p domain.Purchase, now time.Time, live bool) (accrualReads, error) {
	var r accrualReads
	tq, pq, cq := transactionQuery(p.TransactionID), programQuery(p.OccurredAt), programQuery(now)
	mq := memberTierQuery(p.MemberID)
	var b pgx.Batch
	tq.queue(&b)
	pq.queue(&b)
	b.Queue(rulesAtSQL, p.OccurredAt)
	mq.queue(&b)
	if live {
		b.Queue(joinedAtSQL, p.MemberID)
		cq.queue(&b)
	}
	br := tx.SendBatch(ctx, &b)
	r.first, r.firstErr = tq.read(br)
	var programErr, tierErr error
	r.program, programErr = pq.read(br)
	rows, rulesErr := br.Query()
	r.rules, rulesErr = collectRules(rows, rulesErr)
	r.tier, tierErr = mq.read(br)
	r.err = cmp.Or(programErr, rulesErr, tierErr)
	if live {
		joinedErr := wrap("member joined", br.QueryRow().Scan(&r.joinedAt))
		var currentErr error
		r.current, currentErr = cq.read(br)
		r.claimErr = cmp.Or(joinedErr, currentErr)
	}
	return r, wrap("read the accrual's inputs", br.Close())
}

// claimable refuses (ErrUnprocessable) a purchase that occurred longer than the program's retro_claim_days before
// the member joined or before now.
func (r accrualReads) claimable(p domain.Purchase, now time.Time) error {
	if r.claimErr != nil {
		return r.claimErr
	}
	return r.current.Program.ClaimableAt(p.OccurredAt, r.joinedAt, now)
}

// accruePurchase is AccruePurchase within tx; announce sends the accrual's event to waiting API processes and reads
// the balance after it (a historical import does neither).
func accruePurchase(ctx context.Context, tx pgx.Tx, p domain.Purchase, now time.Time, announce bool) (AccrualResult, error) {
	res := AccrualResult{}
	err := func() error {
		// Lock first: a concurrent duplicate then waits here and finds the first one's row below.
		led, err := lockMember(ctx, tx, p.MemberID)
		if err != nil {
			return err
		}
		in, err := readAccrualInputs(ctx, tx, p, now, announce)
		if err != nil {
			return err
		}
		if in.firstErr == nil {
			return replayAccrual(ctx, tx, &res, in.first, p, now)
		} else if domain.CodeOf(in.firstErr) != domain.ErrNotFound {
			return in.firstErr
		}
		if in.err != nil {
			return in.err
		}
		pv, rules, mt := in.program, in.rules, in.tier
		tier, _ := pv.Program.TierByCode(mt.Code)
		t := Transaction{
			TransactionID: p.TransactionID, MemberID: p.MemberID, StoreID: p.StoreID, Channel: p.Channel,
			OccurredAt: p.OccurredAt.UTC(), Total: p.Total, Items: p.Items, Fingerprint: p.Fingerprint(),
			Status: TxAccrued, ProgramVersion: pv.Version, PendingUntil: pv.Program.AvailableAt(p.OccurredAt),
			TierCode: tier.Code, TierMultiplier: tier.MultiplierPercent, Contributions: []domain.Contribution{},
		}
		for _, r := range rules {
			t.RuleVersions = append(t.RuleVersions, domain.RuleRef{ID: r.ID, Version: r.Version})
		}
		earning, err := domain.Earn(domain.EarnInput{Program: pv.Program, Rules: rules, Tier: tier, Purchase: p})
		if err == nil && announce {
			// A live claim is bounded by retro_claim_days, the program's setting now (not when the purchase
			// occurred). A historical import records the program's past as it happened and is not bounded.
			err = in.claimable(p, now)
		}
		if err == nil {
			err = pv.Program.ExpiredAlready(p.OccurredAt, now) // no lot created expired, by the purchase's program
		}
		var refused *domain.Error
		switch {
		case errors.As(err, &refused) && refused.Code == domain.ErrUnprocessable:
			// Recorded as rejected so that the POS can see why, and so that a retry does not change the outcome.
			t.Status, t.RejectReason = TxRejected, refused.Message
		case err != nil:
			return err
		default:
			if err := capCampaignBudgets(ctx, tx, &t, &earning); err != nil {
				return err
			}
			t.PointsEarned, t.Contributions = earning.Points, earning.Contributions
		}
		// The writes go in two round trips: the credit (one statement: entry, lot, balance, webhook event) with the
		// balance read after it, then the transaction's row with the qualifying points a tier upgrade is judged by
		// and the accrual's announcement. Only a tier upgrade (rare) takes one more.
		var writes pgx.Batch
		var readCredit func(pgx.BatchResults) (int64, error)
		if t.PointsEarned > 0 {
			if readCredit, err = led.queueCredit(&writes, entry{
				kind: domain.EntryAccrual, points: t.PointsEarned, availableAt: t.PendingUntil,
				expiresAt: pv.Program.ExpiresAt(p.OccurredAt), sourceType: "purchase", sourceID: p.TransactionID,
				key: domain.AccrualKey(p.TransactionID), occurredAt: t.OccurredAt, qualifying: t.PointsEarned,
			}); err != nil {
				return err
			}
		}
		// The balance the accrual answers, kept with it so that a replay answers the same (a tier upgrade below moves
		// no points). A historical import answers nobody: its rows keep none, and a replay of one answers the balance
		// then.
		bq := balanceQuery(p.MemberID, now)
		firstBalance := t.Status == TxAccrued && announce
		if firstBalance {
			bq.queue(&writes)
		}
		if writes.Len() > 0 {
			br := tx.SendBatch(ctx, &writes)
			var creditErr, balanceErr error
			if readCredit != nil {
				t.LotID, creditErr = readCredit(br)
			}
			if firstBalance && creditErr == nil {
				res.Balance, balanceErr = bq.read(br)
				t.FirstBalance = &res.Balance
			}
			if err := cmp.Or(creditErr, balanceErr, wrap("credit the accrual", br.Close())); err != nil {
				return err
			}
		}
		var rest pgx.Batch
		ins := queueTransaction(&rest, &t)
		var qq rowQuery[int64]
		tiers := t.PointsEarned > 0 && len(pv.Program.Tiers) > 0
		if tiers {
			qq = qualifyingQuery(p.MemberID, pv.Program, now)
			qq.queue(&rest)
		}
		if announce {
			rest.Queue(notifySQL, EventChannel, domain.AccrualKey(p.TransactionID))
		}
		br := tx.SendBatch(ctx, &rest)
		insErr := ins(br)
		var q int64
		var qErr, notifyErr error
		if tiers && insErr == nil {
			q, qErr = qq.read(br)
		}
		if announce && insErr == nil && qErr == nil {
			_, notifyErr = br.Exec()
			notifyErr = wrap("notify", notifyErr)
		}
		if err := cmp.Or(insErr, qErr, notifyErr, wrap("record the accrual", br.Close())); err != nil {
			return err
		}
		if tiers {
			if res.TierChange, err = upgradeTier(ctx, tx, p.MemberID, mt, pv.Program, q, now); err != nil {
				return err
			}
		}
		res.Transaction = t
		if announce && t.Status != TxAccrued {
			res.Balance, err = balance(ctx, tx, p.MemberID, now)
		}
		return err
	}()
	return res, err
}

func replayAccrual(ctx context.Context, tx pgx.Tx, res *AccrualResult, first Transaction, p domain.Purchase, now time.Time) error {
	var err error
	res.Transaction, res.Replayed = first, true
	res.Conflict = first.Fingerprint != p.Fingerprint()
	if first.FirstBalance != nil {
		res.Balance = *first.FirstBalance
		return nil
	}
	res.Balance, err = balance(ctx, tx, first.MemberID, now)
	return err
}

// queueTransaction adds the transaction's row to b; read takes its accrued_at from the batch's next result.
func queueTransaction(b *pgx.Batch, t *Transaction) (read func(pgx.BatchResults) error) {
	items := t.Items
	if items == nil {
		items = []domain.LineItem{}
	}
	itemsJSON, _ := json.Marshal(items)
	refs := t.RuleVersions
	if refs == nil {
		refs = []domain.RuleRef{}
	}
	refsJSON, _ := json.Marshal(refs)
	contribJSON, _ := json.Marshal(t.Contributions)
	var lot *int64
	if t.LotID != 0 {
		lot = &t.LotID
	}
	var first []byte
	if t.FirstBalance != nil {
		first, _ = json.Marshal(t.FirstBalance)
	}
	// A concurrent duplicate for the same member waits on the member lock, then finds this row and replays; the
	// primary key is the last line of defence (the same id sent for two members), and a violation fails the whole
	// database transaction, so nothing is half-written and the retry replays.
	b.Queue(`
		INSERT INTO transactions (transaction_id, member_id, store_id, channel, occurred_at, total_amount, currency,
		                          items, fingerprint, status, reject_reason, points_earned, available_at, program_version,
		                          rule_versions, tier_code, tier_multiplier_percent, contributions, lot_entry_id, first_balance)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULLIF($11, ''), $12, $13, $14, $15, $16, $17, $18, $19, $20)
		RETURNING accrued_at`,
		t.TransactionID, t.MemberID, t.StoreID, t.Channel, t.OccurredAt, t.Total.Amount, t.Total.Currency,
		itemsJSON, t.Fingerprint, t.Status, t.RejectReason, t.PointsEarned, t.PendingUntil, t.ProgramVersion,
		refsJSON, t.TierCode, t.TierMultiplier, contribJSON, lot, first)
	return func(br pgx.BatchResults) error {
		return wrap("insert transaction", br.QueryRow().Scan(&t.AccruedAt))
	}
}

// ClaimAccrual records that a request is about to report purchase p for the first time; it reports whether this
// request is the first to claim its transaction id. Concurrent duplicates all find the id not recorded yet: the one
// whose claim is inserted answers as the first report, the others as replays. The claim names the purchase's member
// and currency, so that a return sent before the purchase is accrued can queue behind it (AcceptedPurchase).
func (s *Store) ClaimAccrual(ctx context.Context, p domain.Purchase) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO accrual_claims (transaction_id, member_id, currency) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		p.TransactionID, p.MemberID, p.Total.Currency)
	if err != nil {
		return false, wrap("claim accrual "+p.TransactionID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// AcceptedPurchase is a purchase whose report was accepted for a member (claimed, and signalled to the member's
// workflow) and may not be accrued yet.
type AcceptedPurchase struct {
	TransactionID string
	MemberID      string
	Currency      string
}

// GetAcceptedPurchase reads the claim of transaction id txID; domain.ErrNotFound when no report of it was accepted
// (or its claim predates claims naming their member, or was pruned).
func (s *Store) GetAcceptedPurchase(ctx context.Context, txID string) (AcceptedPurchase, error) {
	a := AcceptedPurchase{TransactionID: txID}
	err := s.pool.QueryRow(ctx, `SELECT member_id::text, currency FROM accrual_claims WHERE transaction_id = $1 AND member_id IS NOT NULL`, txID).
		Scan(&a.MemberID, &a.Currency)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, domain.Errorf(domain.ErrNotFound, "no purchase %s was reported", txID)
	}
	return a, wrap("accepted purchase "+txID, err)
}

// ReleaseAccrualClaim forgets the claim of a request whose purchase was certainly not accepted, so that its retry
// is the first report again.
func (s *Store) ReleaseAccrualClaim(ctx context.Context, txID string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM accrual_claims WHERE transaction_id = $1`, txID)
	return wrap("release accrual claim "+txID, err)
}

// GetTransaction reads a recorded purchase; unknown → domain.ErrNotFound.
func (s *Store) GetTransaction(ctx context.Context, id string) (Transaction, error) {
	return getTransaction(ctx, s.pool, id)
}

// AccrualCheck is what the API needs to know of a purchase before it accepts it: whether its transaction id was
// recorded already, whether its member exists, and the program it would earn under.
type AccrualCheck struct {
	// Recorded is the purchase first recorded under the transaction id; nil when the id is new.
	Recorded *Transaction
	// Member is the purchase's member; MemberErr is what GetMember would have returned (domain.ErrNotFound when
	// there is no member row, yet or at all).
	Member    domain.Member
	MemberErr error
	// Program is the version in force at the purchase's occurred_at; ProgramErr is what ProgramAt would have
	// returned.
	Program    ProgramVersion
	ProgramErr error
	// Tier is the member's stored tier, for a member workflow the purchase may start (zero when it cannot be read).
	Tier domain.MemberTier
}

// CheckAccrual reads in one round trip what GetTransaction, GetMember, ProgramAt(occurred_at) and GetMemberTier read in four,
// with the same queries sent as one pipelined batch. Its error is the transaction's read failing for another reason
// than the id being new; the member's and the program's errors are in the check.
func (s *Store) CheckAccrual(ctx context.Context, p domain.Purchase) (AccrualCheck, error) {
	tq, mq, pq, mt := transactionQuery(p.TransactionID), memberQuery(p.MemberID), programQuery(p.OccurredAt), memberTierQuery(p.MemberID)
	var b pgx.Batch
	tq.queue(&b)
	mq.queue(&b)
	pq.queue(&b)
	mt.queue(&b)
	br := s.pool.SendBatch(ctx, &b)
	defer br.Close() // reads whatever an early return left unread and releases the connection
	var c AccrualCheck
	t, err := tq.read(br)
	switch {
	case err == nil:
		c.Recorded = &t
	case domain.CodeOf(err) != domain.ErrNotFound:
		return AccrualCheck{}, err
	}
	c.Member, c.MemberErr = mq.read(br)
	c.Program, c.ProgramErr = pq.read(br)
	c.Tier, _ = mt.read(br)
	return c, nil
}

// Accrual is a recorded purchase with the balance of the member it names, as an accrual is answered.
type Accrual struct {
	Transaction Transaction
	// Balance is the member's balance now, valid when BalanceErr is nil.
	Balance    domain.Balance
	BalanceErr error
}

// GetAccrual reads a recorded purchase and memberID's balance now (by the store's clock, as GetBalance) in one round
// trip; an unknown transaction → domain.ErrNotFound. The balance's own error is in the accrual, so that a purchase
// recorded for another member than memberID is still read.
func (s *Store) GetAccrual(ctx context.Context, transactionID, memberID string) (Accrual, error) {
	tq, bq := transactionQuery(transactionID), balanceQuery(memberID, s.Now())
	var b pgx.Batch
	tq.queue(&b)
	bq.queue(&b)
	br := s.pool.SendBatch(ctx, &b)
	defer br.Close()
	var a Accrual
	var err error
	if a.Transaction, err = tq.read(br); err != nil {
		return Accrual{}, err
	}
	a.Balance, a.BalanceErr = bq.read(br)
	return a, nil
}

const transactionColumns = `transaction_id, member_id::text, store_id, channel, occurred_at, total_amount, currency, items,
	fingerprint, status, reject_reason, points_earned, points_reversed, available_at, program_version, tier_code,
	tier_multiplier_percent, contributions, rule_versions, lot_entry_id, returned_items, returned_amount, accrued_at, first_balance`

func getTransaction(ctx context.Context, q querier, id string) (Transaction, error) {
	return transactionQuery(id).run(ctx, q)
}

func transactionQuery(id string) rowQuery[Transaction] {
	return rowQuery[Transaction]{
		sql:  `SELECT ` + transactionColumns + ` FROM transactions WHERE transaction_id = $1`,
		args: []any{id},
		scan: func(row pgx.Row) (Transaction, error) { return scanTransaction(row, id) },
	}
}

func scanTransaction(row pgx.Row, id string) (Transaction, error) {
	var t Transaction
	var items, contrib, refs, returned, first []byte
	var reason *string
	var pv, lot *int64
	err := row.Scan(&t.TransactionID, &t.MemberID, &t.StoreID, &t.Channel, &t.OccurredAt, &t.Total.Amount, &t.Total.Currency,
		&items, &t.Fingerprint, &t.Status, &reason, &t.PointsEarned, &t.PointsReversed, &t.PendingUntil, &pv, &t.TierCode,
		&t.TierMultiplier, &contrib, &refs, &lot, &returned, &t.ReturnedAmount, &t.AccruedAt, &first)
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
	if lot != nil {
		t.LotID = *lot
	}
	for _, f := range []struct {
		raw []byte
		dst any
	}{{items, &t.Items}, {contrib, &t.Contributions}, {refs, &t.RuleVersions}, {returned, &t.ReturnedItems}} {
		if err := json.Unmarshal(f.raw, f.dst); err != nil {
			return t, wrap("decode transaction", err)
		}
	}
	if len(t.ReturnedItems) == 0 {
		t.ReturnedItems = nil
	}
	if first != nil {
		t.FirstBalance = new(domain.Balance)
		if err := json.Unmarshal(first, t.FirstBalance); err != nil {
			return t, wrap("decode transaction", err)
		}
	}
	return t, nil
}

// Purchase rebuilds the purchase as reported.
func (t Transaction) Purchase() domain.Purchase {
	return domain.Purchase{TransactionID: t.TransactionID, MemberID: t.MemberID, StoreID: t.StoreID, Channel: t.Channel,
		OccurredAt: t.OccurredAt, Total: t.Total, Items: t.Items}
}
