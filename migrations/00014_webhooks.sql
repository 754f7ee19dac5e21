-- Outbound webhooks to merchant systems.
--
-- webhook_events is the outbox: a row is written in the same transaction as the change it reports (a ledger entry,
-- a tier change, a redemption's end …), so that a rolled-back change never sends and a committed one is never lost.
-- Rows are written only while some enabled endpoint subscribes to the type. The id orders rows as they were written,
-- not as they committed; seq, given by one sequencer at a time to rows already committed, is the order endpoints
-- read them in: nothing can later appear below a seq an endpoint has read past.
--
-- webhook_deliveries is each endpoint's queue and delivery log: one row per event (or replay) for the endpoint, with
-- its attempts, their status codes and the next attempt.

-- +goose Up
CREATE TABLE webhook_endpoints (
    endpoint_id           uuid PRIMARY KEY,
    url                   text NOT NULL,
    events                text[] NOT NULL,
    description           text NOT NULL DEFAULT '',
    enabled               boolean NOT NULL DEFAULT true,
    include_personal_data boolean NOT NULL DEFAULT false,
    -- whsec_ secrets: the current one, and during a rotation the previous one until previous_secret_until.
    secret                text NOT NULL,
    previous_secret       text,
    previous_secret_until timestamptz,
    -- The last seq of webhook_events queued for this endpoint.
    cursor                bigint NOT NULL DEFAULT 0,
    -- Since when its deliveries (not replays) have failed without a success in between.
    failing_since         timestamptz,
    disabled_at           timestamptz,
    disabled_reason       text,
    created_at            timestamptz NOT NULL,
    created_by            text NOT NULL,
    updated_at            timestamptz NOT NULL
);

CREATE TABLE webhook_events (
    id          bigserial PRIMARY KEY,
    seq         bigint UNIQUE,
    event_id    uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    type        text NOT NULL,
    -- Events of one key (the member, or '' for program-wide events) reach an endpoint in order.
    order_key   text NOT NULL,
    occurred_at timestamptz NOT NULL,
    data        jsonb NOT NULL
);
CREATE INDEX webhook_events_unsequenced ON webhook_events (id) WHERE seq IS NULL;
CREATE INDEX webhook_events_occurred ON webhook_events (occurred_at);

-- The one row holding the last seq given.
CREATE TABLE webhook_sequencer (
    only_one boolean PRIMARY KEY DEFAULT true CHECK (only_one),
    last_seq bigint NOT NULL
);
INSERT INTO webhook_sequencer VALUES (true, 0);

CREATE TABLE webhook_deliveries (
    id              bigserial PRIMARY KEY,
    endpoint_id     uuid NOT NULL REFERENCES webhook_endpoints (endpoint_id) ON DELETE CASCADE,
    event_seq       bigint NOT NULL REFERENCES webhook_events (seq),
    order_key       text NOT NULL,
    -- A replay is delivered on its own: it neither waits for nor holds up the endpoint's other deliveries, and its
    -- failures never count toward disabling the endpoint.
    replay          boolean NOT NULL DEFAULT false,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    -- The HTTP status of each attempt, 0 when no answer came (refused, timed out).
    status_codes    integer[] NOT NULL DEFAULT '{}',
    last_error      text,
    duration_ms     integer,
    next_attempt_at timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    delivered_at    timestamptz
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (endpoint_id, event_seq) WHERE status = 'pending';
-- A delivery waits behind the pending deliveries of its key that came before it.
CREATE INDEX webhook_deliveries_chain ON webhook_deliveries (endpoint_id, order_key, event_seq) WHERE status = 'pending' AND NOT replay;
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint_id, id);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhook_sequencer;
DROP TABLE webhook_events;
DROP TABLE webhook_endpoints;
