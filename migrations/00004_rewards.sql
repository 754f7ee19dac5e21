-- The rewards catalog and the redemption saga: offers with their stock, one reservation of stock per redemption,
-- the points hold each redemption takes, and the redemption's own row that the API reads.

-- +goose Up
CREATE TABLE offers (
    offer_id              uuid PRIMARY KEY,
    title                 text NOT NULL,
    description           text NOT NULL DEFAULT '',
    points_cost           bigint NOT NULL CHECK (points_cost >= 0),
    cash_amount           bigint CHECK (cash_amount > 0),
    cash_currency         text,
    -- NULL stock = unlimited.
    stock_total           bigint CHECK (stock_total >= 0),
    stock_remaining       bigint CHECK (stock_remaining >= 0 AND stock_remaining <= stock_total),
    starts_at             timestamptz,
    ends_at               timestamptz,
    eligible_tiers        text[] NOT NULL DEFAULT '{}',
    cancel_window_seconds bigint NOT NULL CHECK (cancel_window_seconds >= 0),
    actor                 text NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    CHECK ((cash_amount IS NULL) = (cash_currency IS NULL)),
    CHECK ((stock_total IS NULL) = (stock_remaining IS NULL)),
    CHECK (points_cost > 0 OR cash_amount IS NOT NULL),
    CHECK (ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at)
);
CREATE INDEX offers_created ON offers (created_at, offer_id);

-- A redemption as the API shows it; written only by the saga's activities.
CREATE TABLE redemptions (
    redemption_id     uuid PRIMARY KEY,
    offer_id          uuid NOT NULL REFERENCES offers (offer_id),
    member_id         uuid NOT NULL REFERENCES members (id),
    status            text NOT NULL CHECK (status IN ('pending', 'reserved', 'awaiting_payment', 'charged', 'fulfilled',
                                                      'completed', 'failed', 'cancelled')),
    points            bigint NOT NULL,
    cash_amount       bigint,
    cash_currency     text,
    payment_intent_id text,
    client_secret     text,
    refund_id         text,
    code              text UNIQUE,
    failure_reason    text,
    cancel_until      timestamptz NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX redemptions_member ON redemptions (member_id, created_at);

-- One unit of an offer's stock held for a redemption; released gives it back (once).
CREATE TABLE offer_reservations (
    redemption_id uuid PRIMARY KEY,
    offer_id      uuid NOT NULL REFERENCES offers (offer_id),
    released      boolean NOT NULL DEFAULT false,
    reserved_at   timestamptz NOT NULL DEFAULT now(),
    released_at   timestamptz
);
CREATE INDEX offer_reservations_offer ON offer_reservations (offer_id) WHERE NOT released;

-- The points a redemption holds: a debit ('redemption' entry keyed hold:<id>) that other spends cannot use; a
-- release gives back exactly the lots it took ('release' entry keyed release:<id>).
CREATE TABLE points_holds (
    redemption_id    uuid PRIMARY KEY,
    member_id        uuid NOT NULL REFERENCES members (id),
    points           bigint NOT NULL CHECK (points > 0),
    hold_entry_id    bigint NOT NULL REFERENCES ledger_entries (id),
    status           text NOT NULL CHECK (status IN ('held', 'committed', 'released')),
    release_entry_id bigint REFERENCES ledger_entries (id),
    CHECK ((status = 'released') = (release_entry_id IS NOT NULL))
);

-- +goose Down
DROP TABLE points_holds;
DROP TABLE offer_reservations;
DROP TABLE redemptions;
DROP TABLE offers;
