-- Campaigns with their budgets and what they issued, and the notifications perkflow sent.

-- +goose Up
-- A campaign as the marketer defined it, and where its workflow has taken it. The row is written by the campaign
-- workflow's activities only; budget_points NULL means no budget. issued_points is what the campaign's rule and
-- bonuses have given, kept in step with campaign_issuances under the row's lock.
CREATE TABLE campaigns (
    campaign_id      text PRIMARY KEY,
    definition       jsonb NOT NULL,
    status           text NOT NULL CHECK (status IN ('scheduled', 'active', 'paused', 'completed', 'cancelled')),
    ends_at          timestamptz NOT NULL,
    budget_points    bigint CHECK (budget_points IS NULL OR budget_points > 0),
    issued_points    bigint NOT NULL DEFAULT 0 CHECK (issued_points >= 0),
    budget_exhausted boolean NOT NULL DEFAULT false,
    segment_size     bigint NOT NULL DEFAULT 0,
    announced        bigint NOT NULL DEFAULT 0,
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (budget_points IS NULL OR issued_points <= budget_points)
);
CREATE INDEX campaigns_created ON campaigns (created_at DESC, campaign_id DESC);

-- What a campaign gave, per purchase (source 'purchase') or per bonus (source 'bonus').
CREATE TABLE campaign_issuances (
    campaign_id text NOT NULL REFERENCES campaigns (campaign_id),
    source      text NOT NULL CHECK (source IN ('purchase', 'bonus')),
    source_id   text NOT NULL,
    member_id   uuid NOT NULL REFERENCES members (id),
    points      bigint NOT NULL CHECK (points >= 0),
    cut_points  bigint NOT NULL DEFAULT 0 CHECK (cut_points >= 0),
    issued_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign_id, source, source_id)
);
CREATE INDEX campaign_issuances_member ON campaign_issuances (campaign_id, member_id);

-- Every notification, keyed by its deterministic key: a key is sent at most once. status: pending (not sent yet, or
-- the provider answered that it did not take it and a retry may try again), sending (a provider call is
-- under way or its outcome is unknown), sent, failed (the provider refused it for good), skipped (no consent, erased).
CREATE TABLE notifications (
    notification_key text PRIMARY KEY,
    member_id        uuid NOT NULL REFERENCES members (id),
    template         text NOT NULL,
    channel          text,
    status           text NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'skipped')),
    provider         text,
    provider_id      text,
    attempts         int NOT NULL DEFAULT 0,
    error            text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_member ON notifications (member_id, created_at DESC);

-- +goose Down
DROP TABLE notifications;
DROP TABLE campaign_issuances;
DROP TABLE campaigns;
