-- Lifetime points net of returns (docs/api.md, "Points").
--
-- member_balances.lifetime was every point ever credited (releases aside); it is now what the member earned net of
-- returns: credits (releases aside) less what returns reversed (a return entry's qualifying points, recovered from
-- lots or not). Spending, expiry and debit adjustments still do not lower it. Existing balances are recomputed from
-- the ledger's entries, which are left as they are (the ledger is append-only).

-- +goose Up
UPDATE member_balances mb SET lifetime = COALESCE((
    SELECT sum(CASE WHEN e.kind = 'return' THEN e.qualifying_points ELSE e.points END)
    FROM ledger_entries e
    WHERE e.member_id = mb.member_id AND ((e.points > 0 AND e.kind <> 'release') OR e.kind = 'return')), 0);

-- +goose Down
UPDATE member_balances mb SET lifetime = COALESCE((
    SELECT sum(e.points) FROM ledger_entries e
    WHERE e.member_id = mb.member_id AND e.points > 0 AND e.kind <> 'release'), 0);
