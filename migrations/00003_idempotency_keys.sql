-- Idempotency-Key: the first answer to each (caller, key), so that a client retrying a POST gets that answer again
-- instead of doing the work twice. Rows are kept 24 hours, then pruned by the API.

-- +goose Up
CREATE TABLE idempotency_keys (
    -- Who sent the key (Principal.Actor: "apikey:<name>" or "member:<id>"): two callers never share a key space.
    actor        text NOT NULL,
    key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    -- SHA-256 of the method, path and (canonical) body: the same key with another request is refused.
    fingerprint  bytea NOT NULL,
    -- 'running' while the first request is being served; 'done' once its answer is stored.
    state        text NOT NULL CHECK (state IN ('running', 'done')),
    -- A random id of the request holding the key, so that only it completes or releases the row.
    lease        text NOT NULL,
    status       integer,
    headers      jsonb,
    body         bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- When the running request took the key; a 'running' row far older than any request can take is abandoned.
    locked_at    timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    PRIMARY KEY (actor, key),
    CHECK (state = 'running' OR status IS NOT NULL)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
