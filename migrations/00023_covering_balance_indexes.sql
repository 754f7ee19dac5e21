-- A balance read answered from the indexes alone (docs/architecture.md, "The ledger", "Reading a balance").
--
-- A balance read sums the member's open lots (available and pending) and the entries that count towards their tier
-- over the tier window. With 40 purchases behind a member, visiting those lots' and entries' rows was most of what
-- the read cost Postgres beyond the balance row. The two partial indexes that find them now also carry the columns
-- the sums read, so Postgres answers both from the index: entries are never updated, and a lot only when points are
-- spent or expire, so their pages are all-visible once vacuumed (autovacuum does so after inserts too).
--
-- Each index is replaced under the same name, with the same keys and predicate: what uses them (spending in expiry
-- order, the tier window) finds them as before.

-- +goose Up
CREATE INDEX ledger_lots_open_covering ON ledger_lots (member_id, expires_at, entry_id)
    INCLUDE (remaining, available_at) WHERE remaining > 0;
DROP INDEX ledger_lots_open;
ALTER INDEX ledger_lots_open_covering RENAME TO ledger_lots_open;

CREATE INDEX ledger_entries_qualifying_covering ON ledger_entries (member_id, occurred_at)
    INCLUDE (kind, source_type, points, qualifying_points)
    WHERE qualifying_points <> 0 OR kind IN ('bonus', 'adjustment');
DROP INDEX ledger_entries_qualifying_kinds;
ALTER INDEX ledger_entries_qualifying_covering RENAME TO ledger_entries_qualifying_kinds;

-- +goose Down
CREATE INDEX ledger_entries_qualifying_plain ON ledger_entries (member_id, occurred_at)
    WHERE qualifying_points <> 0 OR kind IN ('bonus', 'adjustment');
DROP INDEX ledger_entries_qualifying_kinds;
ALTER INDEX ledger_entries_qualifying_plain RENAME TO ledger_entries_qualifying_kinds;

CREATE INDEX ledger_lots_open_plain ON ledger_lots (member_id, expires_at, entry_id) WHERE remaining > 0;
DROP INDEX ledger_lots_open;
ALTER INDEX ledger_lots_open_plain RENAME TO ledger_lots_open;
