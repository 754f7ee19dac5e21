-- The member app's sign-in hand-off: a retailer with its own identity provider signs its member in there and hands
-- the app a member JWT (POST /app/sign-in/token). A hand-off token opens one session only: the SHA-256 of each token
-- used is kept here until the token could no longer be used anyway (expires_at: the end of its freshness window),
-- then pruned. Like the links, a copy of this table opens nothing.

-- +goose Up
CREATE TABLE member_app_handoffs (
    token_hash bytea PRIMARY KEY,
    member_id  uuid NOT NULL REFERENCES members (id),
    used_at    timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX member_app_handoffs_member ON member_app_handoffs (member_id);
CREATE INDEX member_app_handoffs_expires ON member_app_handoffs (expires_at);

-- +goose Down
DROP TABLE member_app_handoffs;
