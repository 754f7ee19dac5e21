-- The member app (/app/): passwordless sign-in links and the sessions they open.
--
-- A sign-in link is known here only by the SHA-256 of its token (256-bit random, so a fast hash is enough): a copy
-- of this table opens nothing. Its email is kept as a keyed hash (HMAC), never in clear: it binds the link to the
-- address it was sent to, and counts requests per address for the rate limit. Every request is recorded, whether
-- or not the address is a member's (member_id is NULL then, and no message is sent), so that the rate limit and
-- the answer are the same either way. The client address is kept hashed too, for the per-address limit. Rows are
-- pruned a day after they were made.

-- +goose Up
CREATE TABLE member_app_links (
    token_hash bytea PRIMARY KEY,
    email_hash bytea NOT NULL,
    ip_hash    bytea NOT NULL,
    member_id  uuid REFERENCES members (id),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX member_app_links_email ON member_app_links (email_hash, created_at);
CREATE INDEX member_app_links_ip ON member_app_links (ip_hash, created_at);
CREATE INDEX member_app_links_created ON member_app_links (created_at);

-- A member's session in the app: the browser holds a random token in an HttpOnly cookie, the table its SHA-256.
CREATE TABLE member_app_sessions (
    token_hash   bytea PRIMARY KEY,
    member_id    uuid NOT NULL REFERENCES members (id),
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz
);
CREATE INDEX member_app_sessions_member ON member_app_sessions (member_id);

-- +goose Down
DROP TABLE member_app_sessions;
DROP TABLE member_app_links;
