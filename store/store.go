// Package store is perkflow's Postgres data access, written by hand with pgx. Every write that touches points
// happens here, in one database transaction with its balance, keyed by a deterministic idempotency key.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/perkflow/perkflow/internal/metrics"
)

// EventChannel is the Postgres NOTIFY channel on which every processed operation is announced by its key
// ("accrual:<transaction id>", "return:<return id>", domain.RedemptionEventKey, domain.CampaignEventKey,
// domain.EnrolmentEventKey), so that API replicas waiting for it learn of it at once.
const EventChannel = "perkflow_events"

// Store wraps the connection pool.
type Store struct {
	pool  *pgxpool.Pool
	clock func() time.Time
	// metrics counts committed effects (effects.go); nil counts nothing.
	metrics *metrics.Business
	// coupons are the keys coupon codes are found and sealed with (WithCouponSecret); nil until given.
	coupons *couponKeys
	// revokeHooks run after a key is revoked (apikeys.go); shared by the store's copies.
	revokeHooks *revokeHooks
	// webhooks announces committed outbox events to the webhook dispatchers (webhooks.go); shared by copies.
	webhooks *webhookAnnouncer
}

// New returns a Store over pool that reads the time from the system clock.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool, clock: time.Now, revokeHooks: &revokeHooks{}, webhooks: &webhookAnnouncer{pool: pool}}
}

// WithClock returns a copy of the store that reads "now" from clock: where the store decides by the time itself (a
// balance read now, the day a member joins), tests can fix the day instead of depending on the one they run on.
// Writes that take a time argument are judged by that argument, not by the clock.
func (s *Store) WithClock(clock func() time.Time) *Store {
	c := *s
	c.clock = clock
	return &c
}

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.clock() }

// Pool exposes the pool for health checks and listeners.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping checks that Postgres answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// inTx runs fn in a transaction, committing when it returns nil, then counts what the transaction wrote
// (effects.go).
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	eff := &effects{}
	if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(effectTx{Tx: tx, eff: eff}) }); err != nil {
		return err
	}
	s.count(eff)
	if len(eff.webhookTypes) > 0 && s.webhooks != nil {
		s.webhooks.announce(eff.webhookTypes)
	}
	return nil
}

// uniqueViolation returns the constraint name when err is a unique violation, else "".
func uniqueViolation(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return pgErr.ConstraintName
	}
	return ""
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", op, err)
}

// OpenPool opens a pgx pool on url with pgxpool's defaults, changed by opts (a query tracer, say), and checks that
// Postgres answers within 10 s.
func OpenPool(ctx context.Context, url string, opts ...func(*pgxpool.Config)) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("not a valid Postgres URL: %w", err)
	}
	for _, o := range opts {
		o(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot reach Postgres: %w", err)
	}
	return pool, nil
}
