package api

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/perkflow/perkflow/store"
)

// accrualWaiter lets requests wait for an operation (an accrual, a return) to be committed. The store announces each
// operation's idempotency key with pg_notify in the transaction that writes it; one listening connection per API
// process wakes the waiters.
// Waiters also poll Postgres now and then, so a lost connection delays an answer but never loses it.
type accrualWaiter struct {
	pool *pgxpool.Pool
	log  *slog.Logger

	mu      sync.Mutex
	waiters map[string][]chan struct{}
}

func newAccrualWaiter(pool *pgxpool.Pool, log *slog.Logger) *accrualWaiter {
	return &accrualWaiter{pool: pool, log: log, waiters: map[string][]chan struct{}{}}
}

// run listens until ctx ends, reconnecting after failures.
func (a *accrualWaiter) run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := a.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		a.log.Warn("accrual listener lost its connection; waiters fall back to polling", "error", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (a *accrualWaiter) listen(ctx context.Context) error {
	conn, err := a.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A LISTENing connection must not go back to the pool: take it out for good.
	pc := conn.Hijack()
	defer pc.Close(context.Background())
	if _, err := pc.Exec(ctx, "LISTEN "+pgx.Identifier{store.EventChannel}.Sanitize()); err != nil {
		return err
	}
	for {
		n, err := pc.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		a.wake(n.Payload)
	}
}

func (a *accrualWaiter) subscribe(key string) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	a.mu.Lock()
	a.waiters[key] = append(a.waiters[key], ch)
	a.mu.Unlock()
	return ch, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		list := a.waiters[key]
		for i, c := range list {
			if c == ch {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(a.waiters, key)
		} else {
			a.waiters[key] = list
		}
	}
}

func (a *accrualWaiter) wake(key string) {
	a.mu.Lock()
	list := a.waiters[key]
	delete(a.waiters, key)
	a.mu.Unlock()
	for _, ch := range list {
		close(ch)
	}
}
