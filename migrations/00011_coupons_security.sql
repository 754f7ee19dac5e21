-- Issue 21 (security hardening and coupon codes).
--
-- API keys are known by their id, not their name (a revoked key's name may be given to a new key): Idempotency-Key
-- records move from "apikey:<name>" to "apikey:<id>" of the key that held the name when the record was written, so
-- that a deploy loses no replay of a live key and a replacement key never inherits its predecessor's answers.
--
-- Member tokens are revocable: the API refuses a member's tokens issued at or before tokens_not_before (moved by
-- "sign out everywhere", an erasure, a suspension).

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

-- +goose Down
ALTER TABLE members DROP COLUMN tokens_not_before;

-- Back to names: the records of active keys (whose names are unique) under their names; revoked keys' are dropped.
DELETE FROM idempotency_keys i USING api_keys k WHERE i.actor = 'apikey:' || k.id AND k.revoked_at IS NOT NULL;
UPDATE idempotency_keys i SET actor = 'apikey:' || k.name
FROM api_keys k
WHERE i.actor = 'apikey:' || k.id;
