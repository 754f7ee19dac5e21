package api

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Failed authentication is limited per client address (Limits.AuthFailures): a client sending bad bearer tokens
// gets 429 once its bucket is empty, and its API keys are then looked up in the database only if this process saw
// them valid lately (recentKeys). A real key, even one used from the same address as an attacker, is still served;
// random keys from that address cost no database lookup.

// ClientAddress is who a failure counts against (and the member app's per-address limit of sign-in links): the
// peer's IPv4 address, or its IPv6 /64 (a single host is often given a whole /64). Behind a reverse proxy this is
// the proxy's address; valid tokens are served whatever it is.
func ClientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// recentKeyTTL is how long a key authenticated by this process stays known for addresses over their failure budget.
const recentKeyTTL = time.Hour

// maxRecentKeys bounds recentKeys; past it the keys last seen before the midpoint of all last uses are forgotten
// (those keys are looked up again as soon as their address is under its budget).
const maxRecentKeys = 100_000

// recentKeys are the hashes of the API keys this process authenticated lately. Only the hash is kept, as in the
// database; revocation is still checked in the database on every request.
type recentKeys struct {
	mu sync.Mutex
	m  map[[32]byte]time.Time
}

func newRecentKeys() *recentKeys { return &recentKeys{m: map[[32]byte]time.Time{}} }

func (k *recentKeys) add(hash []byte, now time.Time) {
	var h [32]byte
	copy(h[:], hash)
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.m) >= maxRecentKeys {
		k.forgetOlderThan(k.midpoint())
	}
	k.m[h] = now
}

func (k *recentKeys) has(hash []byte, now time.Time) bool {
	var h [32]byte
	copy(h[:], hash)
	k.mu.Lock()
	defer k.mu.Unlock()
	seen, ok := k.m[h]
	return ok && now.Sub(seen) < recentKeyTTL
}

// sweep forgets keys not seen within recentKeyTTL.
func (k *recentKeys) sweep(now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.forgetOlderThan(now.Add(-recentKeyTTL))
}

func (k *recentKeys) forgetOlderThan(t time.Time) {
	for h, seen := range k.m {
		if !seen.After(t) {
			delete(k.m, h)
		}
	}
}

// midpoint is halfway between the oldest and the newest last use (k.mu held).
func (k *recentKeys) midpoint() time.Time {
	var oldest, newest time.Time
	for _, seen := range k.m {
		if oldest.IsZero() || seen.Before(oldest) {
			oldest = seen
		}
		if seen.After(newest) {
			newest = seen
		}
	}
	return oldest.Add(newest.Sub(oldest) / 2)
}
