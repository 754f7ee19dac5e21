package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Coupon codes are never stored in clear. A code is found by lookupHash — an HMAC-SHA256 of its normalised form
// under a key derived from the coupon secret, so that a database dump gives no code away and nobody without the
// secret can test a guess against it — and kept sealed with AES-256-GCM under another key derived from the same
// secret, the redemption id as additional data, so that the redemption's member can read their code again (GET
// /v1/redemptions/{id}) and a sealed code moved to another redemption does not open.

// MinCouponSecret is the shortest coupon secret accepted.
const MinCouponSecret = 32

// errNoCouponSecret: the store was not given the coupon secret (WithCouponSecret).
var errNoCouponSecret = errors.New("no coupon secret configured (PERKFLOW_COUPON_SECRET)")

type couponKeys struct {
	lookup []byte
	seal   cipher.AEAD
}

// WithCouponSecret returns a copy of the store that issues, finds and reads coupon codes under secret (at least
// MinCouponSecret bytes). The API and the worker must be given the same one.
func (s *Store) WithCouponSecret(secret []byte) (*Store, error) {
	if len(secret) < MinCouponSecret {
		return nil, fmt.Errorf("the coupon secret must be at least %d bytes", MinCouponSecret)
	}
	block, err := aes.NewCipher(derive(secret, "perkflow coupon seal v1"))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	c := *s
	c.coupons = &couponKeys{lookup: derive(secret, "perkflow coupon lookup v1"), seal: aead}
	return &c, nil
}

// derive is a 32-byte key of its own for each purpose, from one secret.
func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

func (s *Store) couponKeys() (*couponKeys, error) {
	if s.coupons == nil {
		return nil, errNoCouponSecret
	}
	return s.coupons, nil
}

// lookupHash is what a normalised code is found by.
func (k *couponKeys) lookupHash(normalized string) []byte {
	m := hmac.New(sha256.New, k.lookup)
	m.Write([]byte(normalized))
	return m.Sum(nil)
}

// sealCode encrypts a code for its redemption: a random nonce, then the ciphertext.
func (k *couponKeys) sealCode(redemptionID, code string) ([]byte, error) {
	nonce := make([]byte, k.seal.NonceSize(), k.seal.NonceSize()+len(code)+k.seal.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return k.seal.Seal(nonce, nonce, []byte(code), []byte(redemptionID)), nil
}

// openCode decrypts what sealCode made for the redemption.
func (k *couponKeys) openCode(redemptionID string, sealed []byte) (string, error) {
	n := k.seal.NonceSize()
	if len(sealed) < n {
		return "", errors.New("sealed coupon code too short")
	}
	code, err := k.seal.Open(nil, sealed[:n], sealed[n:], []byte(redemptionID))
	if err != nil {
		return "", fmt.Errorf("open the coupon code of %s (another PERKFLOW_COUPON_SECRET?): %w", redemptionID, err)
	}
	return string(code), nil
}
