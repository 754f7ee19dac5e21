-- Returns give campaign budgets back what they reverse.
--
-- campaign_returns is what a return of a purchase gave back to a campaign's budget: the campaign's part of the points
-- the return reversed (campaigns.issued_points went down by as much in the same transaction). One row per campaign
-- and return, written once (a replayed return writes nothing); the rows of one purchase add up to what its returns
-- gave back so far, so that the next return gives back only the rest. It names no member: the transaction does.

-- +goose Up
CREATE TABLE campaign_returns (
    campaign_id    text NOT NULL REFERENCES campaigns (campaign_id),
    return_id      text NOT NULL REFERENCES transaction_returns (return_id),
    transaction_id text NOT NULL REFERENCES transactions (transaction_id),
    points         bigint NOT NULL CHECK (points > 0),
    returned_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign_id, return_id)
);
CREATE INDEX campaign_returns_transaction ON campaign_returns (campaign_id, transaction_id);

-- +goose Down
DROP TABLE campaign_returns;
