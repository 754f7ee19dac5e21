-- Bulk imports of members, historical transactions and opening balances (docs/imports.md).
--
-- An upload is parsed as it streams and copied (COPY) into import_rows, in the same database transaction that
-- creates its imports row: a file refused part-way (bad header, bad encoding, too large) leaves nothing behind. The
-- import workflow then loads the rows in batches; each batch's outcome is recorded in import_batches in the same
-- database transaction as its effects, so a batch retried after a crash changes nothing twice and counts once.

-- +goose Up
CREATE TABLE imports (
    id          uuid PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('members', 'transactions', 'balances')),
    format      text NOT NULL CHECK (format IN ('csv', 'ndjson')),
    dry_run     boolean NOT NULL DEFAULT false,
    status      text NOT NULL DEFAULT 'validating'
                CHECK (status IN ('validating', 'running', 'completed', 'failed', 'cancelled')),
    -- The header of the file (CSV) or the columns its objects were read by (NDJSON), for the error file.
    columns     text[] NOT NULL,
    rows_total  bigint NOT NULL DEFAULT 0,
    -- The file's first and last data lines (1-based; a CSV's header is line 1).
    first_line  bigint NOT NULL DEFAULT 0,
    last_line   bigint NOT NULL DEFAULT 0,
    bytes       bigint NOT NULL DEFAULT 0,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    started_at  timestamptz,
    finished_at timestamptz,
    failure     text
);
CREATE INDEX imports_created ON imports (created_at DESC);

-- The file, one row per data line. grp is the line of the first line of the row's group (a transaction's lines are
-- one group; every other kind groups one line), so that a batch never splits a transaction.
CREATE TABLE import_rows (
    import_id uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    line      bigint NOT NULL,
    grp       bigint NOT NULL,
    fields    text[] NOT NULL,
    -- How many identical rows came before this one in the file, plus one (for opening balances' idempotency keys).
    occurrence integer NOT NULL DEFAULT 1,
    PRIMARY KEY (import_id, line)
);
CREATE INDEX import_rows_grp ON import_rows (import_id, grp);

-- A batch of groups [first_grp, next_grp) as loaded, with what it did.
CREATE TABLE import_batches (
    import_id  uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    first_grp  bigint NOT NULL,
    next_grp   bigint NOT NULL,
    rows_read  bigint NOT NULL,
    imported   bigint NOT NULL,
    skipped    bigint NOT NULL,
    failed     bigint NOT NULL,
    done_at    timestamptz NOT NULL,
    PRIMARY KEY (import_id, first_grp)
);

-- The rows that failed, with their reason (the original row is import_rows').
CREATE TABLE import_errors (
    import_id uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    line      bigint NOT NULL,
    error     text NOT NULL,
    PRIMARY KEY (import_id, line)
);

-- Imported members have no workflow until they need one: their first purchase, return, redemption or adjustment
-- starts it (SignalWithStart / UpdateWithStart, as for any member), and the daily wake-up starts it before a birthday
-- or a tier review falls due. workflow_pending marks the members whose workflow was never started; imported_by is
-- the import that last wrote the member (a later line of the same file naming them again is refused).
ALTER TABLE members ADD COLUMN imported_by uuid;
ALTER TABLE members ADD COLUMN workflow_pending boolean NOT NULL DEFAULT false;
CREATE INDEX members_workflow_pending ON members (id) WHERE workflow_pending;

-- +goose Down
DROP INDEX members_workflow_pending;
ALTER TABLE members DROP COLUMN workflow_pending;
ALTER TABLE members DROP COLUMN imported_by;
DROP TABLE import_errors;
DROP TABLE import_batches;
DROP TABLE import_rows;
DROP TABLE imports;
