package api

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// JWKS caching. Keys are fetched when first needed, kept jwksMaxAge, and fetched again on a token whose key id is
// unknown — at most once per jwksMinRefresh, so that tokens with made-up key ids cannot make perkflow hammer the
// identity provider. When a refresh fails, the keys already known stay in use.
const (
	jwksMaxAge       = 10 * time.Minute
	jwksMinRefresh   = 30 * time.Second
	jwksFetchTimeout = 5 * time.Second
	jwksMaxBytes     = 1 << 20
	minRSABits       = 2048
)

// jwksCache holds the verification keys published at a JWKS URL.
type jwksCache struct {
	url    string
	client *http.Client
	log    *slog.Logger
	now    func() time.Time

	flight singleflight.Group

	mu          sync.Mutex
	keys        map[string]publicJWK // by kid
	fetchedAt   time.Time            // last successful fetch
	attemptedAt time.Time            // last fetch, successful or not
}

// publicJWK is one usable verification key.
type publicJWK struct {
	key crypto.PublicKey
	alg string // "" when the set does not pin the key's algorithm
}

// CheckJWKSURL says whether a JWKS URL is one the API accepts (https, or http to a loopback address), so that the
// command line can refuse a bad PERKFLOW_JWKS_URL at start instead of the API refusing every member token.
func CheckJWKSURL(rawURL string) error {
	_, err := newJWKSCache(rawURL, slog.Default(), time.Now)
	return err
}

// newJWKSCache checks the URL: https, or http only to a loopback address (tests, a sidecar).
func newJWKSCache(rawURL string, log *slog.Logger, now func() time.Time) (*jwksCache, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("JWKS URL %q is not an absolute URL", rawURL)
	}
	switch u.Scheme {
	case "https":
	case "http":
		ip := net.ParseIP(u.Hostname())
		if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("JWKS URL %q must use https (http only to a loopback address)", rawURL)
		}
	default:
		return nil, fmt.Errorf("JWKS URL %q must use https", rawURL)
	}
	return &jwksCache{
		url:    u.String(),
		client: &http.Client{Timeout: jwksFetchTimeout},
		log:    log,
		now:    now,
		keys:   map[string]publicJWK{},
	}, nil
}

// key returns the key that verifies a token signed with alg under kid (kid may be empty when the set holds a single
// key usable with alg).
func (c *jwksCache) key(ctx context.Context, kid, alg string) (any, error) {
	c.mu.Lock()
	fresh := !c.fetchedAt.IsZero() && c.now().Sub(c.fetchedAt) < jwksMaxAge
	k, found := c.lookup(kid, alg)
	mayRefresh := c.attemptedAt.IsZero() || c.now().Sub(c.attemptedAt) >= jwksMinRefresh
	c.mu.Unlock()
	if (!found || !fresh) && mayRefresh {
		c.refresh(ctx)
		c.mu.Lock()
		k, found = c.lookup(kid, alg)
		c.mu.Unlock()
	}
	if !found {
		return nil, errors.New("no key in the JWKS for this token")
	}
	if k.alg != "" && k.alg != alg {
		return nil, errors.New("the token's algorithm is not its key's")
	}
	return k.key, nil
}

// lookup finds a key; c.mu is held.
func (c *jwksCache) lookup(kid, alg string) (publicJWK, bool) {
	if kid != "" {
		k, ok := c.keys[kid]
		return k, ok
	}
	// No kid: only unambiguous when exactly one key fits the algorithm.
	var match []publicJWK
	for _, k := range c.keys {
		if keyFitsAlg(k, alg) {
			match = append(match, k)
		}
	}
	if len(match) != 1 {
		return publicJWK{}, false
	}
	return match[0], true
}

func keyFitsAlg(k publicJWK, alg string) bool {
	if k.alg != "" {
		return k.alg == alg
	}
	switch k.key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		return strings.HasPrefix(alg, "ES")
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// refresh fetches the set once for all concurrent callers, waiting at most until ctx ends.
func (c *jwksCache) refresh(ctx context.Context) {
	ch := c.flight.DoChan("jwks", func() (any, error) {
		fctx, cancel := context.WithTimeout(context.Background(), jwksFetchTimeout)
		defer cancel()
		keys, err := c.fetch(fctx)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.attemptedAt = c.now()
		if err != nil {
			c.log.Warn("cannot refresh the JWKS; the keys already known stay in use", slog.String("url", c.url),
				slog.Int("keys_known", len(c.keys)), slog.Any("error", err))
			return nil, err
		}
		c.keys, c.fetchedAt = keys, c.now()
		return nil, nil
	})
	select {
	case <-ch:
	case <-ctx.Done():
	}
}

func (c *jwksCache) fetch(ctx context.Context) (map[string]publicJWK, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	res, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET JWKS: status %d", res.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, jwksMaxBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > jwksMaxBytes {
		return nil, errors.New("the JWKS is over 1 MiB")
	}
	return parseJWKS(body)
}

// rawJWK is a JSON Web Key (RFC 7517) as published, public members only.
type rawJWK struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	Alg    string   `json:"alg"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
}

// parseJWKS keeps the set's signature-verification keys of the kinds perkflow accepts (RSA of 2048 bits or more,
// EC P-256/P-384/P-521, Ed25519) and skips the others; a set with none is an error.
func parseJWKS(body []byte) (map[string]publicJWK, error) {
	var set struct {
		Keys []rawJWK `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("the JWKS is not valid JSON: %w", err)
	}
	keys := map[string]publicJWK{}
	var skipped []string
	for i, raw := range set.Keys {
		if raw.Use != "" && raw.Use != "sig" || len(raw.KeyOps) > 0 && !slices.Contains(raw.KeyOps, "verify") {
			continue
		}
		if raw.Alg != "" && !slices.Contains(AsymmetricAlgorithms, raw.Alg) {
			skipped = append(skipped, fmt.Sprintf("key %d: algorithm %q not accepted", i, raw.Alg))
			continue
		}
		k, err := raw.publicKey()
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("key %d: %v", i, err))
			continue
		}
		kid := raw.Kid
		if kid == "" {
			kid = fmt.Sprintf("#%d", i) // reachable only by tokens without kid
		}
		keys[kid] = publicJWK{key: k, alg: raw.Alg}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("the JWKS has no usable signing key (%s)", strings.Join(skipped, "; "))
	}
	return keys, nil
}

func (k rawJWK) publicKey() (crypto.PublicKey, error) {
	switch k.Kty {
	case "RSA":
		n, err := b64Int(k.N)
		if err != nil {
			return nil, fmt.Errorf("n: %w", err)
		}
		e, err := b64Int(k.E)
		if err != nil {
			return nil, fmt.Errorf("e: %w", err)
		}
		if n.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits; at least %d needed", n.BitLen(), minRSABits)
		}
		if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
			return nil, errors.New("unusable RSA exponent")
		}
		return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
	case "EC":
		var curve elliptic.Curve
		switch k.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, fmt.Errorf("curve %q not accepted", k.Crv)
		}
		size := (curve.Params().BitSize + 7) / 8
		x, err1 := b64Fixed(k.X, size)
		y, err2 := b64Fixed(k.Y, size)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		return ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
	case "OKP":
		if k.Crv != "Ed25519" {
			return nil, fmt.Errorf("curve %q not accepted", k.Crv)
		}
		x, err := b64Fixed(k.X, ed25519.PublicKeySize)
		if err != nil {
			return nil, err
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, fmt.Errorf("key type %q not accepted", k.Kty)
}

func b64Int(s string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil || len(b) == 0 {
		return nil, errors.New("not base64url")
	}
	return new(big.Int).SetBytes(b), nil
}

func b64Fixed(s string, size int) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil || len(b) != size {
		return nil, fmt.Errorf("coordinate is not %d base64url bytes", size)
	}
	return b, nil
}
