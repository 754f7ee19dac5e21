package api

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/perkflow/perkflow/domain"
)

// Waiting for a committed effect. A request that starts asynchronous work (signals a workflow, starts one) may wait
// within its budget for the work's effect to be committed in Postgres, and answer with it; at the budget it answers
// 202 with the Location of a status resource instead: the work is durably accepted and will happen (docs/api.md,
// "Asynchronous work"). Every such wait goes the same way:
//
//	sub := s.commits.subscribe(domain.AccrualKey(id)) // before acting, so that no announcement is missed
//	defer sub.close()
//	... signal or start the workflow ...
//	v, ok := await(ctx, sub, s.waitBudget(r), read, done)
//	if !ok {
//		accepted(w, location, body)
//		return
//	}
//	... answer with v ...

// maxWait caps the wait a client may ask for with Prefer: wait=N.
const maxWait = 60 * time.Second

// pollInterval is how often a waiting request reads again without being woken: what a lost announcement costs.
const pollInterval = 250 * time.Millisecond

// await reads, each time sub is woken and every pollInterval, until read finds what done accepts (done nil: anything
// read), or until the budget or the request ends. It returns the last value read and whether done accepted it.
// domain.ErrNotFound from read means "not committed yet"; another error is taken as passing (it is retried, and the
// last one logged when the wait ends without the effect). It reads nothing before the first wake-up or poll: a
// caller whose effect may be committed already calls sub.wake() first.
func await[T any](ctx context.Context, sub *subscription, budget time.Duration, read func(context.Context) (T, error),
	done func(T) bool) (last T, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	poll := time.NewTicker(pollInterval)
	defer poll.Stop()
	var lastErr error
	for {
		select {
		case <-sub.woken:
		case <-poll.C:
		case <-ctx.Done():
			if lastErr != nil {
				logFrom(ctx).WarnContext(ctx, "effect not read within the wait budget; answered as accepted",
					slog.String("key", sub.key), slog.Any("error", lastErr))
			}
			return last, false
		}
		v, err := read(ctx)
		switch {
		case err == nil:
			last = v
			if done == nil || done(v) {
				return v, true
			}
		case codeOf(err) == domain.ErrNotFound || ctx.Err() != nil:
		default:
			lastErr = err
		}
	}
}

// waitBudget is how long this request may wait for asynchronous work: the server's budget, or the client's
// `Prefer: wait=N` (RFC 7240, seconds), capped at maxWait.
func (s *Server) waitBudget(r *http.Request) time.Duration {
	for _, pref := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(pref, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(k), "wait") {
				continue
			}
			n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(v), `"`))
			if err != nil || n < 0 {
				continue
			}
			return min(time.Duration(n)*time.Second, maxWait)
		}
	}
	return s.cfg.WaitBudget
}
