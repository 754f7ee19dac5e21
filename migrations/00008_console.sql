-- What the console and the routes it needs keep: archived offers, the shown part of each API key, member lookups
-- audited with their actor, the console's server-side sessions and its audit of every action.

-- +goose Up
-- An archived offer takes no new claim; claims already made go on. The row stays for their sake.
ALTER TABLE offers ADD COLUMN archived_at timestamptz;
ALTER TABLE offers ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE offers ADD COLUMN updated_by text;

-- The first characters of a key (pk_ and a few more), shown in lists so that a key can be recognised; NULL for keys
-- made before this column existed.
ALTER TABLE api_keys ADD COLUMN key_prefix text;
-- Who made and who revoked a key (an admin's key through the API, "cli" for perkflow apikey).
ALTER TABLE api_keys ADD COLUMN created_by text;
ALTER TABLE api_keys ADD COLUMN revoked_by text;

-- Support finds members by phone (exact, E.164) as well as by email and external id, which have their indexes.
CREATE INDEX members_phone ON members (phone) WHERE phone IS NOT NULL;

-- The points report sums the ledger by the time entries occurred.
CREATE INDEX ledger_entries_occurred ON ledger_entries (occurred_at);

-- Every lookup of members by email, phone or external id, with who asked and what it found (never what was typed:
-- the value is personal data, and a lookup that found nobody must not keep it).
CREATE TABLE member_lookups (
    id          bigserial PRIMARY KEY,
    actor       text NOT NULL,
    field       text NOT NULL CHECK (field IN ('email', 'phone', 'external_id')),
    member_ids  uuid[] NOT NULL,
    looked_up_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX member_lookups_actor ON member_lookups (actor, looked_up_at);

-- A console session: the browser holds a random token in a cookie, the database its SHA-256 only. A session ends
-- when signed out (ended_at), after its idle timeout, or at its absolute expiry; a revoked key ends its sessions.
CREATE TABLE console_sessions (
    token_hash   bytea PRIMARY KEY,
    api_key_id   bigint NOT NULL REFERENCES api_keys (id),
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz
);
CREATE INDEX console_sessions_key ON console_sessions (api_key_id);

-- Every action taken through the console, with the key that took it.
CREATE TABLE console_audit (
    id     bigserial PRIMARY KEY,
    at     timestamptz NOT NULL DEFAULT now(),
    actor  text NOT NULL,
    action text NOT NULL,
    target text NOT NULL DEFAULT '',
    status int NOT NULL
);
CREATE INDEX console_audit_actor ON console_audit (actor, at);

-- +goose Down
DROP TABLE console_audit;
DROP TABLE console_sessions;
DROP TABLE member_lookups;
DROP INDEX ledger_entries_occurred;
DROP INDEX members_phone;
ALTER TABLE api_keys DROP COLUMN revoked_by;
ALTER TABLE api_keys DROP COLUMN created_by;
ALTER TABLE api_keys DROP COLUMN key_prefix;
ALTER TABLE offers DROP COLUMN updated_by;
ALTER TABLE offers DROP COLUMN updated_at;
ALTER TABLE offers DROP COLUMN archived_at;
