-- Engagement: gamification challenges and their enrolments, badges, the leaderboard's maintained aggregate, expiry
-- reminders, and the member lifecycle's birthday bonuses.

-- +goose Up
-- A challenge defined by a marketer. The definition is kept whole (goal, dates, reward) as JSON; its columns are what
-- the listing and the auto-enrolment lookup filter on.
CREATE TABLE challenges (
    challenge_id text PRIMARY KEY,
    definition   jsonb NOT NULL,
    auto_enroll  boolean NOT NULL DEFAULT false,
    starts_at    timestamptz,
    ends_at      timestamptz,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX challenges_auto ON challenges (ends_at) WHERE auto_enroll;

-- One enrolment per member and challenge (the challenge/{challenge}/{member} workflow); progress is what that
-- workflow last recorded.
CREATE TABLE challenge_enrolments (
    challenge_id text NOT NULL REFERENCES challenges (challenge_id),
    member_id    uuid NOT NULL REFERENCES members (id),
    status       text NOT NULL CHECK (status IN ('active', 'completed', 'expired')),
    progress     bigint NOT NULL DEFAULT 0,
    target       bigint NOT NULL,
    enrolled_at  timestamptz NOT NULL,
    deadline     timestamptz,
    completed_at timestamptz,
    reward_entry bigint REFERENCES ledger_entries (id),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (member_id, challenge_id)
);
CREATE INDEX challenge_enrolments_challenge ON challenge_enrolments (challenge_id, status);

-- Badges a member holds, one per badge code.
CREATE TABLE member_badges (
    member_id    uuid NOT NULL REFERENCES members (id),
    badge        text NOT NULL,
    challenge_id text NOT NULL,
    awarded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (member_id, badge)
);

-- The leaderboard's maintained aggregate: points earned (accruals, bonuses, less returns) per member and period,
-- kept by a trigger on the ledger in the same transaction as the entry, so that the top of a period is an index
-- scan whatever the number of members. period is 'week' (Monday, UTC), 'month' or 'all' (period_start = epoch).
CREATE TABLE leaderboard_points (
    period       text NOT NULL CHECK (period IN ('week', 'month', 'all')),
    period_start date NOT NULL,
    member_id    uuid NOT NULL REFERENCES members (id),
    points       bigint NOT NULL,
    PRIMARY KEY (period, period_start, member_id)
);
CREATE INDEX leaderboard_points_top ON leaderboard_points (period, period_start, points DESC, member_id);

-- +goose StatementBegin
CREATE FUNCTION leaderboard_points_add() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d date := (NEW.occurred_at AT TIME ZONE 'UTC')::date;
BEGIN
    IF NEW.kind NOT IN ('accrual', 'bonus', 'return') OR NEW.points = 0 THEN
        RETURN NULL;
    END IF;
    INSERT INTO leaderboard_points (period, period_start, member_id, points)
    VALUES ('week', date_trunc('week', d)::date, NEW.member_id, NEW.points),
           ('month', date_trunc('month', d)::date, NEW.member_id, NEW.points),
           ('all', DATE '1970-01-01', NEW.member_id, NEW.points)
    ON CONFLICT (period, period_start, member_id) DO UPDATE SET points = leaderboard_points.points + EXCLUDED.points;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER ledger_entries_leaderboard AFTER INSERT ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION leaderboard_points_add();

INSERT INTO leaderboard_points (period, period_start, member_id, points)
SELECT p.period, p.start, e.member_id, sum(e.points)
FROM ledger_entries e
CROSS JOIN LATERAL (VALUES ('week', date_trunc('week', (e.occurred_at AT TIME ZONE 'UTC')::date)::date),
                           ('month', date_trunc('month', (e.occurred_at AT TIME ZONE 'UTC')::date)::date),
                           ('all', DATE '1970-01-01')) AS p (period, start)
WHERE e.kind IN ('accrual', 'bonus', 'return')
GROUP BY p.period, p.start, e.member_id;

-- Expiry reminders: a lot is announced once (lot_entry_id is the key); the notice to its member is sent once per
-- run and marked when sent, so that a crash between recording and sending resends rather than loses it.
CREATE TABLE expiry_notices (
    notice_key text PRIMARY KEY,
    member_id  uuid NOT NULL REFERENCES members (id),
    points     bigint NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);
CREATE INDEX expiry_notices_unsent ON expiry_notices (created_at) WHERE sent_at IS NULL;

-- The expiry run walks lots past their date in (expires_at, entry_id) order from a cursor.
CREATE INDEX ledger_lots_expiry_cursor ON ledger_lots (expires_at, entry_id) WHERE remaining > 0;

CREATE TABLE expiry_reminders (
    lot_entry_id bigint PRIMARY KEY REFERENCES ledger_lots (entry_id),
    notice_key   text NOT NULL REFERENCES expiry_notices (notice_key),
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE expiry_reminders;
DROP TABLE expiry_notices;
DROP INDEX ledger_lots_expiry_cursor;
DROP TRIGGER ledger_entries_leaderboard ON ledger_entries;
DROP FUNCTION leaderboard_points_add();
DROP TABLE leaderboard_points;
DROP TABLE member_badges;
DROP TABLE challenge_enrolments;
DROP TABLE challenges;
