package api

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// The limits behind the rate guard (guards.go): token buckets per caller and caps on requests in flight.

// Rate is a token bucket: PerSecond requests a second on average, bursts of up to Burst. PerSecond 0 means no limit.
type Rate struct {
	PerSecond float64
	Burst     int
}

// Limits bound what one caller can make the API do, so that no client — buggy or hostile — can take the service
// down for the others. Zero in any field means no limit of that kind. Limits are per API process.
type Limits struct {
	// APIKey is the request rate of each API key (by its id: a replacement key under the same name starts afresh).
	APIKey Rate
	// Member is the request rate of each member token (by member id).
	Member Rate
	// APIKeyInFlight caps the requests of one API key being served at once (a request may wait up to 60 s for
	// asynchronous work; without a cap a fast client could pile up waiting requests).
	APIKeyInFlight int
	// AuthFailures is the rate of failed authentications (a bearer token that is unknown, revoked or not valid)
	// each client address may make: beyond, 429 with Retry-After, and API keys this process has not seen valid
	// lately are refused without a database lookup. A valid member token, or an API key used from anywhere lately,
	// is still served, so that an attacker sharing an address with a real client cannot lock it out. Addresses
	// count by IPv4 address and by IPv6 /64.
	AuthFailures Rate
	// CouponMisses is the rate at which each caller may look up or use coupon codes that do not exist: beyond, every
	// coupon request of the caller answers 429 until the bucket refills, so that codes cannot be guessed.
	CouponMisses Rate
	// MemberWrites caps the writes (POST, PUT, PATCH, DELETE) concerning one member being served at once, whoever
	// sends them: the member named in the path, the member token's own, and the member the handler finds (a body's
	// member_id once checked, the member of a returned purchase).
	MemberWrites int
}

// DefaultLimits are generous: far above what a till, a member app or an integration sends, low enough that one
// runaway client cannot starve the others.
func DefaultLimits() Limits {
	return Limits{
		APIKey:         Rate{PerSecond: 200, Burst: 400},
		Member:         Rate{PerSecond: 10, Burst: 40},
		APIKeyInFlight: 256,
		MemberWrites:   32,
		AuthFailures:   Rate{PerSecond: 1, Burst: 30},
		CouponMisses:   Rate{PerSecond: 0.2, Burst: 20},
	}
}

// rateLimiters holds a token bucket per caller. Buckets unused for a while are dropped by sweep.
type rateLimiters struct {
	rate Rate
	mu   sync.Mutex
	m    map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newRateLimiters(r Rate) *rateLimiters {
	return &rateLimiters{rate: r, m: map[string]*bucket{}}
}

// take spends one token of who's bucket, or says how long until one is available.
func (l *rateLimiters) take(who string, now time.Time) (ok bool, retryAfter time.Duration) {
	if l.rate.PerSecond <= 0 {
		return true, 0
	}
	l.mu.Lock()
	b := l.m[who]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.rate.PerSecond), max(1, l.rate.Burst))}
		l.m[who] = b
	}
	b.seen = now
	l.mu.Unlock()
	if b.lim.AllowN(now, 1) {
		return true, 0
	}
	res := b.lim.ReserveN(now, 1)
	defer res.CancelAt(now)
	if !res.OK() {
		return false, time.Second
	}
	return false, res.DelayFrom(now)
}

// exhausted reports whether who's bucket is empty now (and when it will have a token), without spending one.
func (l *rateLimiters) exhausted(who string, now time.Time) (bool, time.Duration) {
	if l.rate.PerSecond <= 0 {
		return false, 0
	}
	l.mu.Lock()
	b := l.m[who]
	l.mu.Unlock()
	if b == nil {
		return false, 0
	}
	tokens := b.lim.TokensAt(now)
	if tokens >= 1 {
		return false, 0
	}
	return true, time.Duration((1 - tokens) / l.rate.PerSecond * float64(time.Second))
}

// sweep drops buckets idle for longer than it takes them to refill.
func (l *rateLimiters) sweep(now time.Time) {
	if l.rate.PerSecond <= 0 {
		return
	}
	idle := time.Duration(float64(max(1, l.rate.Burst))/l.rate.PerSecond*float64(time.Second)) + time.Minute
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, b := range l.m {
		if now.Sub(b.seen) > idle {
			delete(l.m, k)
		}
	}
}

// concurrency counts requests in flight per caller, refusing beyond a cap.
type concurrency struct {
	limit int
	mu    sync.Mutex
	m     map[string]int
}

func newConcurrency(limit int) *concurrency { return &concurrency{limit: limit, m: map[string]int{}} }

// acquire takes a slot for each of who (all or none), returning the release function, or false when one of them is
// at the cap.
func (c *concurrency) acquire(who ...string) (release func(), ok bool) {
	if c.limit <= 0 || len(who) == 0 {
		return func() {}, true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range who {
		if c.m[k] >= c.limit {
			return nil, false
		}
	}
	for _, k := range who {
		c.m[k]++
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, k := range who {
				if c.m[k]--; c.m[k] <= 0 {
					delete(c.m, k)
				}
			}
		})
	}, true
}
