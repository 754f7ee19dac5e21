-- Issue 21 (security hardening and coupon codes).
--
-- API keys are known by their id, not their name (a revoked key's name may be given to a new key): Idempotency-Key
-- records move from "apikey:<name>" to "apikey:<id>" of the key that held the name when the record was written, so
-- that a deploy loses no replay of a live key and a replacement key never inherits its predecessor's answers.
--
-- Member tokens are revocable: the API refuses a member's tokens issued at or before tokens_not_before (moved by
-- "sign out everywhere", an erasure, a suspension).
--
-- Coupon codes (seed 001's MemberOffer: redeemed, with its date): one row per code a redemption issued, found by an
-- HMAC of the code under PERKFLOW_COUPON_SECRET and holding the code only encrypted (AES-256-GCM under a key derived
-- from the same secret). The clear codes redemptions.code held until now are moved here, sealed, by the API and the
-- worker when they start (SQL does not know the secret); the column is no longer written and is dropped by a later
-- migration once every deployment has moved its codes.

-- +goose Up
-- Rows are marked while they are rewritten ('#' is in no key name), so that the rows left unmatched — written by no
-- key that still exists — can be told apart and dropped.
UPDATE idempotency_keys i SET actor = 'apikey:' || k.id || '#'
FROM api_keys k
WHERE i.actor = 'apikey:' || k.name
  AND k.created_at <= i.created_at AND (k.revoked_at IS NULL OR k.revoked_at > i.created_at);
DELETE FROM idempotency_keys WHERE actor LIKE 'apikey:%' AND actor NOT LIKE '%#';
UPDATE idempotency_keys SET actor = rtrim(actor, '#') WHERE actor LIKE 'apikey:%#';

ALTER TABLE members ADD COLUMN tokens_not_before timestamptz;

ALTER TABLE offers ADD COLUMN code_valid_days integer CHECK (code_valid_days BETWEEN 1 AND 3650);

CREATE TABLE coupons (
    redemption_id uuid PRIMARY KEY REFERENCES redemptions (redemption_id),
    -- HMAC-SHA256 of the normalised code: how a till's lookup finds it.
    code_hash     bytea NOT NULL UNIQUE,
    -- nonce || AES-256-GCM ciphertext of the code, the redemption id as additional data.
    code_sealed   bytea NOT NULL,
    offer_id      uuid NOT NULL REFERENCES offers (offer_id),
    issued_at     timestamptz NOT NULL,
    expires_at    timestamptz,
    -- Set when the redemption is cancelled (or fails) after the code was issued; a voided code is never used.
    voided_at     timestamptz,
    -- The one use: the till's use_id (idempotency), its store, who and when.
    used_at       timestamptz,
    use_id        text,
    used_store_id text,
    used_by       text,
    CHECK ((used_at IS NULL) = (use_id IS NULL) AND (use_id IS NULL) = (used_store_id IS NULL)),
    CHECK (used_at IS NULL OR voided_at IS NULL)
);

-- The clear codes still to move into coupons (empty once the API or the worker has started with the secret).
CREATE INDEX redemptions_clear_code ON redemptions (redemption_id) WHERE code IS NOT NULL;

-- +goose Down
-- Sealed codes cannot be put back in clear without the secret: rolling back forgets them.
DROP INDEX redemptions_clear_code;
DROP TABLE coupons;
ALTER TABLE offers DROP COLUMN code_valid_days;
ALTER TABLE members DROP COLUMN tokens_not_before;

-- Back to names: the records of active keys (whose names are unique) under their names; revoked keys' are dropped.
DELETE FROM idempotency_keys i USING api_keys k WHERE i.actor = 'apikey:' || k.id AND k.revoked_at IS NOT NULL;
UPDATE idempotency_keys i SET actor = 'apikey:' || k.name
FROM api_keys k
WHERE i.actor = 'apikey:' || k.id;
