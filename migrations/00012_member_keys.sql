-- Members' data keys (crypto-shredding, docs/privacy.md). Each member's personal fields travel through Temporal
-- sealed under a key of their own; the key is kept here only wrapped (AES-256-GCM) under the payload key named by
-- key_id (PERKFLOW_PAYLOAD_KEYS). Deleting a member's row makes every sealed copy of their personal data
-- unreadable, including the histories the Temporal server keeps. The key is made before the member's workflow
-- starts, so before the members row exists: no foreign key.

-- +goose Up
CREATE TABLE member_keys (
    member_id  uuid PRIMARY KEY,
    key_id     text NOT NULL,
    wrapped    bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Every use of the codec endpoints (POST /codec/decode, /codec/encode): who, when, in which namespace, how many
-- payloads, how many sealed personal values were opened. Never a payload or a value.
CREATE TABLE codec_audit (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL,
    actor      text NOT NULL,
    operation  text NOT NULL CHECK (operation IN ('decode', 'encode')),
    namespace  text NOT NULL DEFAULT '',
    payloads   integer NOT NULL,
    opened     integer NOT NULL DEFAULT 0
);
CREATE INDEX codec_audit_actor ON codec_audit (actor, id);

-- +goose Down
DROP TABLE codec_audit;
DROP TABLE member_keys;
