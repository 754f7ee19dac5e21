-- The leaderboard trigger fires only for the entries it counts (accruals, bonuses and returns that move points): a
-- row trigger without a WHEN clause was queued and called for every entry, expiries and redemptions included, only to
-- return at once (3.5 µs per lot of the nightly expiry, 20,000 calls per chunk). The function keeps its own test, so
-- that what it adds is the same whichever way it is called.

-- +goose Up
DROP TRIGGER ledger_entries_leaderboard ON ledger_entries;
CREATE TRIGGER ledger_entries_leaderboard AFTER INSERT ON ledger_entries
    FOR EACH ROW WHEN (NEW.kind IN ('accrual', 'bonus', 'return') AND NEW.points <> 0)
    EXECUTE FUNCTION leaderboard_points_add();

-- +goose Down
DROP TRIGGER ledger_entries_leaderboard ON ledger_entries;
CREATE TRIGGER ledger_entries_leaderboard AFTER INSERT ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION leaderboard_points_add();
