-- The walking skeleton's schema: members, API keys, program settings, purchases, the append-only points ledger
-- and per-member balances.

-- +goose Up
CREATE TABLE members (
    id            uuid PRIMARY KEY,
    external_id   text UNIQUE,
    email         text,
    phone         text,
    name          text,
    birthdate     date,
    consent_email boolean NOT NULL DEFAULT false,
    consent_sms   boolean NOT NULL DEFAULT false,
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'erased')),
    joined_at     timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
-- Email is the member's identity in the program, compared case-insensitively; erased members have none.
CREATE UNIQUE INDEX members_email_key ON members (lower(email)) WHERE email IS NOT NULL;

CREATE TABLE api_keys (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL,
    role         text NOT NULL CHECK (role IN ('pos', 'marketer', 'support', 'admin')),
    -- SHA-256 of the key: keys are 256-bit random, so a fast hash is enough and the clear key is never stored.
    key_hash     bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;

-- Every version of the program settings is kept; a purchase is judged by the version in force at its occurred_at.
CREATE TABLE program_settings (
    version        bigserial PRIMARY KEY,
    effective_from timestamptz NOT NULL,
    settings       jsonb NOT NULL,
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX program_settings_effective ON program_settings (effective_from DESC, version DESC);

CREATE TABLE transactions (
    transaction_id  text PRIMARY KEY,
    member_id       uuid NOT NULL REFERENCES members (id),
    store_id        text NOT NULL,
    channel         text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    total_amount    bigint NOT NULL CHECK (total_amount >= 0),
    currency        text NOT NULL,
    items           jsonb NOT NULL,
    -- Hash of the reported content: the same id with another content is a conflicting reuse, never a second accrual.
    fingerprint     text NOT NULL,
    status          text NOT NULL CHECK (status IN ('accrued', 'rejected')),
    reject_reason   text,
    points_earned   bigint NOT NULL,
    available_at    timestamptz NOT NULL,
    program_version bigint REFERENCES program_settings (version),
    accrued_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transactions_member ON transactions (member_id, occurred_at DESC);

CREATE TABLE ledger_entries (
    id              bigserial PRIMARY KEY,
    member_id       uuid NOT NULL REFERENCES members (id),
    kind            text NOT NULL CHECK (kind IN ('accrual', 'return', 'redemption', 'release', 'expiry', 'adjustment', 'bonus')),
    points          bigint NOT NULL CHECK (points <> 0),
    available_at    timestamptz NOT NULL,
    expires_at      timestamptz,
    source_type     text NOT NULL,
    source_id       text NOT NULL,
    idempotency_key text NOT NULL UNIQUE,
    balance_after   bigint NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_entries_member ON ledger_entries (member_id, id DESC);
CREATE INDEX ledger_entries_member_available ON ledger_entries (member_id, available_at);

-- The ledger is append-only: corrections are new entries, never edits.
-- +goose StatementBegin
CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_entries is append-only: % is not allowed', TG_OP;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only();

-- Balance per member, updated in the same database transaction as the entries it sums.
CREATE TABLE member_balances (
    member_id  uuid PRIMARY KEY REFERENCES members (id),
    total      bigint NOT NULL DEFAULT 0,
    lifetime   bigint NOT NULL DEFAULT 0 CHECK (lifetime >= 0),
    qualifying bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE member_balances;
DROP TABLE ledger_entries;
DROP FUNCTION ledger_entries_append_only();
DROP TABLE transactions;
DROP TABLE program_settings;
DROP TABLE api_keys;
DROP TABLE members;
