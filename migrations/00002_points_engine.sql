-- The points engine: earning rules with versions, expiry lots and which debits took from them, debt from returns,
-- tiers, returns, till redemptions and adjustments.

-- +goose Up
-- Earning rules. An edit closes the current version (recorded_to) and opens a new one; a purchase is judged by the
-- versions recorded at its occurred_at.
CREATE TABLE earning_rules (
    rule_id       text NOT NULL,
    version       bigint NOT NULL,
    definition    jsonb NOT NULL,
    deleted       boolean NOT NULL DEFAULT false,
    recorded_from timestamptz NOT NULL,
    recorded_to   timestamptz,
    actor         text NOT NULL,
    PRIMARY KEY (rule_id, version),
    CHECK (recorded_to IS NULL OR recorded_to >= recorded_from)
);
CREATE UNIQUE INDEX earning_rules_current ON earning_rules (rule_id) WHERE recorded_to IS NULL;
CREATE INDEX earning_rules_period ON earning_rules (recorded_from, recorded_to);

-- The skeleton's base earning rate moves from the program settings into a rule of the same effect and dates.
INSERT INTO earning_rules (rule_id, version, definition, recorded_from, actor)
SELECT 'base-rate', 1,
       jsonb_build_object('rule_id', 'base-rate', 'version', 1, 'name', 'Base rate', 'priority', 0, 'mode', 'stackable',
                          'conditions', '{}'::jsonb,
                          'action', jsonb_build_object('type', 'earn_rate', 'points', (settings -> 'base_earn' ->> 'points')::bigint,
                                                       'per_amount', (settings -> 'base_earn' ->> 'per_amount')::bigint)),
       effective_from, 'migration'
FROM (SELECT settings, effective_from FROM program_settings WHERE settings ? 'base_earn'
      ORDER BY effective_from, version LIMIT 1) first;
UPDATE program_settings SET settings = (settings - 'base_earn') || '{"time_zone": "UTC"}'::jsonb WHERE settings ? 'base_earn';

ALTER TABLE ledger_entries
    ADD COLUMN occurred_at       timestamptz,
    ADD COLUMN qualifying_points bigint NOT NULL DEFAULT 0,
    ADD COLUMN actor             text,
    ADD COLUMN reason            text;
-- Backfill the new columns of existing accruals: the only time the ledger's rows are touched, by a migration.
ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_no_update;
UPDATE ledger_entries e SET occurred_at = t.occurred_at, qualifying_points = e.points
FROM transactions t WHERE e.kind = 'accrual' AND e.source_id = t.transaction_id;
UPDATE ledger_entries SET occurred_at = created_at WHERE occurred_at IS NULL;
ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_no_update;
ALTER TABLE ledger_entries ALTER COLUMN occurred_at SET NOT NULL;
-- A return whose points were all spent already, under a policy that forbids a negative balance, still reduces the
-- member's qualifying points: such an entry moves no spendable points.
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_points_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_moves_points CHECK (points <> 0 OR qualifying_points <> 0);
-- Qualifying points count towards tiers over a rolling window of business time.
CREATE INDEX ledger_entries_qualifying ON ledger_entries (member_id, occurred_at) WHERE qualifying_points <> 0;

-- Each credit is a lot: what is left of it, when it becomes available and when it expires. Debits take from lots
-- soonest-expiring first; ledger_allocations records what each debit took (positive) or gave back (negative).
CREATE TABLE ledger_lots (
    entry_id     bigint PRIMARY KEY REFERENCES ledger_entries (id),
    member_id    uuid NOT NULL REFERENCES members (id),
    points       bigint NOT NULL CHECK (points > 0),
    remaining    bigint NOT NULL CHECK (remaining >= 0 AND remaining <= points),
    -- What the credit paid back of the member's debt when it was written (never changes).
    debt_paid    bigint NOT NULL DEFAULT 0 CHECK (debt_paid >= 0 AND debt_paid <= points),
    available_at timestamptz NOT NULL,
    expires_at   timestamptz
);
CREATE INDEX ledger_lots_open ON ledger_lots (member_id, expires_at, entry_id) WHERE remaining > 0;
CREATE INDEX ledger_lots_expiring ON ledger_lots (expires_at) WHERE remaining > 0;

CREATE TABLE ledger_allocations (
    entry_id     bigint NOT NULL REFERENCES ledger_entries (id),
    lot_entry_id bigint NOT NULL REFERENCES ledger_lots (entry_id),
    points       bigint NOT NULL CHECK (points <> 0),
    PRIMARY KEY (entry_id, lot_entry_id)
);
CREATE INDEX ledger_allocations_lot ON ledger_allocations (lot_entry_id);
CREATE TRIGGER ledger_allocations_no_update BEFORE UPDATE OR DELETE ON ledger_allocations
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();

INSERT INTO ledger_lots (entry_id, member_id, points, remaining, available_at, expires_at)
SELECT id, member_id, points, points, available_at, expires_at FROM ledger_entries WHERE points > 0;

-- Debt: points a return took beyond what the member had, when the program lets a return go negative. Later credits
-- pay it back first. Invariant: total = sum(entries) = sum(lots.remaining) - debt.
ALTER TABLE member_balances ADD COLUMN debt bigint NOT NULL DEFAULT 0 CHECK (debt >= 0);
ALTER TABLE member_balances DROP COLUMN qualifying;

-- A member's tier, with its review date (the anniversary of reaching it).
CREATE TABLE member_tiers (
    member_id   uuid PRIMARY KEY REFERENCES members (id),
    tier_code   text NOT NULL,
    achieved_at timestamptz NOT NULL,
    review_at   timestamptz NOT NULL
);

ALTER TABLE transactions
    ADD COLUMN rule_versions           jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN tier_code               text NOT NULL DEFAULT '',
    ADD COLUMN tier_multiplier_percent bigint NOT NULL DEFAULT 100,
    ADD COLUMN contributions           jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN lot_entry_id            bigint REFERENCES ledger_lots (entry_id),
    ADD COLUMN points_reversed         bigint NOT NULL DEFAULT 0 CHECK (points_reversed >= 0 AND points_reversed <= points_earned),
    ADD COLUMN returned_items          jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN returned_amount         bigint NOT NULL DEFAULT 0 CHECK (returned_amount >= 0 AND returned_amount <= total_amount);
UPDATE transactions t SET lot_entry_id = e.id
FROM ledger_entries e WHERE e.idempotency_key = 'accrual:' || t.transaction_id;

CREATE TABLE transaction_returns (
    return_id            text PRIMARY KEY,
    transaction_id       text NOT NULL REFERENCES transactions (transaction_id),
    member_id            uuid NOT NULL REFERENCES members (id),
    fingerprint          text NOT NULL,
    items                jsonb NOT NULL DEFAULT '[]',
    amount               bigint,
    status               text NOT NULL CHECK (status IN ('applied', 'rejected')),
    reject_reason        text,
    points_reversed      bigint NOT NULL DEFAULT 0,
    points_not_recovered bigint NOT NULL DEFAULT 0,
    entry_id             bigint REFERENCES ledger_entries (id),
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transaction_returns_tx ON transaction_returns (transaction_id);

CREATE TABLE till_redemptions (
    redemption_id text PRIMARY KEY,
    member_id     uuid NOT NULL REFERENCES members (id),
    store_id      text NOT NULL,
    points        bigint NOT NULL CHECK (points > 0),
    fingerprint   text NOT NULL,
    status        text NOT NULL CHECK (status IN ('applied', 'rejected')),
    reject_reason text,
    entry_id      bigint REFERENCES ledger_entries (id),
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE adjustments (
    adjustment_id text PRIMARY KEY,
    member_id     uuid NOT NULL REFERENCES members (id),
    points        bigint NOT NULL CHECK (points <> 0),
    reason        text NOT NULL,
    actor         text NOT NULL,
    fingerprint   text NOT NULL,
    status        text NOT NULL CHECK (status IN ('applied', 'rejected')),
    reject_reason text,
    entry_id      bigint REFERENCES ledger_entries (id),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE adjustments;
DROP TABLE till_redemptions;
DROP TABLE transaction_returns;
ALTER TABLE transactions
    DROP COLUMN rule_versions, DROP COLUMN tier_code, DROP COLUMN tier_multiplier_percent, DROP COLUMN contributions,
    DROP COLUMN lot_entry_id, DROP COLUMN points_reversed, DROP COLUMN returned_items, DROP COLUMN returned_amount;
DROP TABLE member_tiers;
ALTER TABLE member_balances ADD COLUMN qualifying bigint NOT NULL DEFAULT 0, DROP COLUMN debt;
DROP TABLE ledger_allocations;
DROP TABLE ledger_lots;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_moves_points;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_points_check CHECK (points <> 0);
ALTER TABLE ledger_entries DROP COLUMN occurred_at, DROP COLUMN qualifying_points, DROP COLUMN actor, DROP COLUMN reason;
DROP TABLE earning_rules;
