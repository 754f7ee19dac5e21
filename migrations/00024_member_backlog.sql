-- Purchases a member's workflow parked in Postgres (docs/architecture.md, "Member"): when a run reaches its history
-- bound with more queued than the next run's input may carry, it parks the queue here and continues as new, and the
-- next run reads it back a batch at a time, ahead of the purchases signalled after. Each row is one purchase as it
-- was reported (ids, amounts, dates; nothing personal), numbered by the workflow in the order it received them.

-- +goose Up
CREATE TABLE member_backlog (
    member_id      uuid        NOT NULL REFERENCES members (id),
    seq            bigint      NOT NULL CHECK (seq >= 0),
    transaction_id text        NOT NULL,
    purchase       jsonb       NOT NULL,
    parked_at      timestamptz NOT NULL,
    PRIMARY KEY (member_id, seq)
);

-- +goose Down
DROP TABLE member_backlog;
