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

// commitListener hears what the store commits. The store announces each committed effect by a key (an accrual's
// idempotency key, a redemption's or a campaign's event key) with pg_notify on store.EventChannel, in the
// transaction that commits it; one listening connection per API process wakes the requests subscribed to that key.
// A lost connection only delays answers: await polls as well (await.go).
type commitListener struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	// listenOnce holds one listening connection until it fails, calling connected once it listens (l.listen; tests
	// replace it); sleep waits d or until ctx ends, and says whether d passed.
	listenOnce func(ctx context.Context, connected func()) error
	sleep      func(ctx context.Context, d time.Duration) bool
	// keys is the API-key cache: it is trusted only while this listener hears revocations on store.APIKeyChannel.
	keys *keyCache

	mu   sync.Mutex
	subs map[string]map[*subscription]struct{}
}

func newCommitListener(pool *pgxpool.Pool, log *slog.Logger, keys *keyCache) *commitListener {
	l := &commitListener{pool: pool, log: log, keys: keys, subs: map[string]map[*subscription]struct{}{}, sleep: sleepCtx}
	l.listenOnce = l.listen
	return l
}

// The listener's reconnect backoff: from listenBackoffMin, doubling after each failure to connect up to
// listenBackoffMax, and back to listenBackoffMin once a connection listened.
const (
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 5 * time.Second
)

// run listens until ctx ends, reconnecting after failures.
func (l *commitListener) run(ctx context.Context) {
	backoff := listenBackoffMin
	for ctx.Err() == nil {
		err := l.listenOnce(ctx, func() { backoff = listenBackoffMin })
		if ctx.Err() != nil {
			return
		}
		l.log.Warn("commit listener lost its connection; waiting requests fall back to polling", "error", err, "retry_in", backoff)
		if !l.sleep(ctx, backoff) {
			return
		}
		backoff = min(backoff*2, listenBackoffMax)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// listen holds one listening connection until it fails, calling connected once it listens.
func (l *commitListener) listen(ctx context.Context, connected func()) error {
	conn, err := l.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A LISTENing connection must not go back to the pool: take it out for good.
	pc := conn.Hijack()
	defer pc.Close(context.Background())
	if _, err := pc.Exec(ctx, "LISTEN "+pgx.Identifier{store.EventChannel}.Sanitize()+"; LISTEN "+
		pgx.Identifier{store.APIKeyChannel}.Sanitize()); err != nil {
		return err
	}
	connected()
	// Revocations are heard from now on: the key cache may be used again, starting empty (a key revoked while the
	// connection was down was not heard).
	l.keys.setLive(true)
	defer l.keys.setLive(false)
	for {
		n, err := pc.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if n.Channel == store.APIKeyChannel {
			l.keys.forget()
			continue
		}
		l.wake(n.Payload)
	}
}

// subscription is a request's interest in one key. It stays subscribed until close, and remembers that it was
// woken until await takes the wake-up, so that an announcement made while the request reads is not lost.
type subscription struct {
	l     *commitListener
	key   string
	woken chan struct{} // holds at most one pending wake-up
}

// subscribe starts listening for key. Subscribe before acting (signalling, starting a workflow), so that the
// announcement of the effect cannot come before the subscription, and close when done.
func (l *commitListener) subscribe(key string) *subscription {
	sub := &subscription{l: l, key: key, woken: make(chan struct{}, 1)}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.subs[key] == nil {
		l.subs[key] = map[*subscription]struct{}{}
	}
	l.subs[key][sub] = struct{}{}
	return sub
}

// close ends the subscription.
func (sub *subscription) close() {
	l := sub.l
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.subs[sub.key], sub)
	if len(l.subs[sub.key]) == 0 {
		delete(l.subs, sub.key)
	}
}

// wake marks the subscription woken: await reads at once. The listener calls it on an announcement; a handler calls
// it when the effect may be committed already (a retried request).
func (sub *subscription) wake() {
	select {
	case sub.woken <- struct{}{}:
	default: // a wake-up is pending already
	}
}

func (l *commitListener) wake(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for sub := range l.subs[key] {
		sub.wake()
	}
}
