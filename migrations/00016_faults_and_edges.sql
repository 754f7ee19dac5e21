-- Defects found at the edges: a replayed accrual answers its first result, and only the first of concurrent
-- duplicates is not marked as a replay.
--
-- transactions.first_balance is the member's balance right after the purchase was accrued, as its first answer
-- gave it; a replay answers it again (NULL for purchases accrued before: those answer the balance now).
-- accrual_claims names the request that first reported a transaction id: concurrent duplicates all find the id not
-- recorded yet, and the one whose claim is inserted answers as the first, the others as replays. Claims are pruned
-- with Idempotency-Key records (a day on, the transaction's own row tells replays apart).

-- +goose Up
ALTER TABLE transactions ADD COLUMN first_balance jsonb;

CREATE TABLE accrual_claims (
    transaction_id text PRIMARY KEY,
    claimed_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX accrual_claims_claimed_at ON accrual_claims (claimed_at);

-- +goose Down
DROP TABLE accrual_claims;
ALTER TABLE transactions DROP COLUMN first_balance;
