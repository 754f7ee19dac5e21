package api

import (
	"sync"
	"time"

	"github.com/perkflow/perkflow/store"
)

// keyCache keeps the API keys this process authenticated, by the hash of the key, so that a request does not look its
// key up in Postgres: the lookup was the largest share of a balance read's cost.
//
// A revoked key must be refused within a second, in every API process. The store announces each revocation on
// store.APIKeyChannel, which the commit listener hears (listener.go), and the cache forgets every key when it does.
// The cache is only trusted while that listener is connected: while it is not, a revocation could go unheard, so
// every request is authenticated in Postgres, and the cache starts empty once the listener is connected again. A
// lookup caches its answer only if nothing was forgotten while it ran (the generation has not moved), so that an
// answer read before a revocation is never kept after it. Entries are also checked again in Postgres after
// keyCacheTTL, which records the key's last use.
type keyCache struct {
	mu   sync.Mutex
	live bool   // the listener is connected: revocations are heard
	gen  uint64 // moves each time the cache forgets
	keys map[string]cachedKey
}

type cachedKey struct {
	key     store.APIKey
	checked time.Time
}

// keyCacheTTL is how long a cached key is trusted before it is checked in Postgres again.
const keyCacheTTL = time.Minute

func newKeyCache() *keyCache { return &keyCache{keys: map[string]cachedKey{}} }

// get is the cached key of this hash, if the cache may be trusted and the entry is fresh.
func (c *keyCache) get(hash []byte, now time.Time) (store.APIKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.keys[string(hash)]
	if !ok || !c.live || now.Sub(e.checked) >= keyCacheTTL || now.Before(e.checked) {
		return store.APIKey{}, false
	}
	return e.key, true
}

// generation is what a lookup takes before it reads Postgres, to hand to put: 0 when nothing may be cached.
func (c *keyCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live {
		return 0
	}
	return c.gen
}

// put caches a key read in Postgres, unless the cache forgot anything since gen was taken.
func (c *keyCache) put(hash []byte, k store.APIKey, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen == 0 || gen != c.gen || !c.live {
		return
	}
	c.keys[string(hash)] = cachedKey{key: k, checked: now}
}

// forget drops every cached key: a key was revoked (revocations are rare; which one does not matter).
func (c *keyCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgetLocked()
}

func (c *keyCache) forgetLocked() {
	c.gen++
	clear(c.keys)
}

// setLive says whether revocations are heard; either way the cache starts again empty.
func (c *keyCache) setLive(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live = live
	c.forgetLocked()
}
