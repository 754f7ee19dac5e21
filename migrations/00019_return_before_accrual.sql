-- A return sent right after its purchase was accepted (202) but before the purchase is accrued queues behind it in
-- the member's workflow. The API learns the purchase's member from its accrual claim: a claim now names the member
-- and the currency of the purchase (NULL for claims made before, whose returns answer 404 until the accrual commits,
-- as they did).

-- +goose Up
ALTER TABLE accrual_claims ADD COLUMN member_id uuid, ADD COLUMN currency text;

-- +goose Down
ALTER TABLE accrual_claims DROP COLUMN currency, DROP COLUMN member_id;
