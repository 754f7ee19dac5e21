-- Lifetime points net of returns, and the kinds of credit that count towards tiers (docs/api.md, "Points").
--
-- member_balances.lifetime was every point ever credited (releases aside); it is now what the member earned net of
-- returns: credits (releases aside) less what returns reversed (a return entry's qualifying points, recovered from
-- lots or not). Spending, expiry and debit adjustments still do not lower it. Existing balances are recomputed from
-- the ledger's entries, which are left as they are (the ledger is append-only).
--
-- Qualifying points are counted by the kinds of credit the program lists (qualifying_kinds): purchases and campaign
-- bonuses carry their qualifying points in the entry, the other bonuses and adjustments count their points. The
-- partial index that served the tier window now holds every entry that may qualify.
--
-- offers.min_tier opens an offer to a tier and every tier above it (NULL: no such bound), beside the exact
-- eligible_tiers; an offer has one or the other.

-- +goose Up
UPDATE member_balances mb SET lifetime = COALESCE((
    SELECT sum(CASE WHEN e.kind = 'return' THEN e.qualifying_points ELSE e.points END)
    FROM ledger_entries e
    WHERE e.member_id = mb.member_id AND ((e.points > 0 AND e.kind <> 'release') OR e.kind = 'return')), 0);

CREATE INDEX ledger_entries_qualifying_kinds ON ledger_entries (member_id, occurred_at)
    WHERE qualifying_points <> 0 OR kind IN ('bonus', 'adjustment');
DROP INDEX ledger_entries_qualifying;

ALTER TABLE offers ADD COLUMN min_tier text;

-- +goose Down
ALTER TABLE offers DROP COLUMN min_tier;
CREATE INDEX ledger_entries_qualifying ON ledger_entries (member_id, occurred_at) WHERE qualifying_points <> 0;
DROP INDEX ledger_entries_qualifying_kinds;

UPDATE member_balances mb SET lifetime = COALESCE((
    SELECT sum(e.points) FROM ledger_entries e
    WHERE e.member_id = mb.member_id AND e.points > 0 AND e.kind <> 'release'), 0);
