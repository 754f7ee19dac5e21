// Package privacy keeps members' personal data out of Temporal in clear (docs/privacy.md): a payload codec that
// encrypts every payload perkflow's clients send to the Temporal server (AES-256-GCM, the key's id in each payload's
// metadata, keys rotated by configuration), and members' personal fields sealed under a data key of each member's,
// so that deleting that key (crypto-shredding) makes every copy of them unreadable, the histories the Temporal
// server keeps included.
package privacy

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// KeySize is the length of every key: AES-256.
const KeySize = 32

// Key is one payload key: its id, written in the metadata of what it encrypts, and its secret.
type Key struct {
	ID     string
	Secret []byte
}

var keyID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Keyring holds the payload keys: the first encrypts, every one decrypts (rotation: add a new key first, keep the
// old ones until nothing encrypted under them is still needed).
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
	ids     []string
}

// UnknownKeyError is returned for ciphertext under a key id the keyring does not hold.
type UnknownKeyError struct{ KeyID string }

func (e *UnknownKeyError) Error() string {
	return fmt.Sprintf("payload encrypted under key id %q, which is not configured (PERKFLOW_PAYLOAD_KEYS)", e.KeyID)
}

// ErrCorrupt is returned for ciphertext that does not open: tampered, truncated, or under another key of that id.
var ErrCorrupt = errors.New("encrypted data does not open (tampered, or another secret under the same key id)")

// NewKeyring makes a keyring of keys, the first one encrypting.
func NewKeyring(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("no payload key")
	}
	k := &Keyring{current: keys[0].ID, aeads: map[string]cipher.AEAD{}}
	for _, key := range keys {
		if !keyID.MatchString(key.ID) {
			return nil, fmt.Errorf("key id %q: 1-64 letters, digits, '.', '_' or '-'", key.ID)
		}
		if len(key.Secret) != KeySize {
			return nil, fmt.Errorf("key %q: %d bytes, want %d", key.ID, len(key.Secret), KeySize)
		}
		if _, dup := k.aeads[key.ID]; dup {
			return nil, fmt.Errorf("key id %q given twice", key.ID)
		}
		aead, err := newAEAD(key.Secret)
		if err != nil {
			return nil, err
		}
		k.aeads[key.ID] = aead
		k.ids = append(k.ids, key.ID)
	}
	return k, nil
}

// ParseKeys reads PERKFLOW_PAYLOAD_KEYS: comma-separated `id:base64(32 bytes)` (standard or URL base64, padded or
// not), the first encrypting. Errors never quote a secret.
func ParseKeys(s string) (*Keyring, error) {
	var keys []Key
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, b64, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("key %d: want id:base64-secret", i+1)
		}
		secret, err := decodeBase64(b64)
		if err != nil {
			return nil, fmt.Errorf("key %q: the secret is not base64", id)
		}
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	if len(keys) == 0 {
		return nil, errors.New("no key: want id:base64-secret[,id:base64-secret…]")
	}
	return NewKeyring(keys...)
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawURLEncoding.DecodeString(s)
}

// NewKeySpec makes a new random key in PERKFLOW_PAYLOAD_KEYS form (id:base64).
func NewKeySpec(id string) (string, error) {
	secret := make([]byte, KeySize)
	if _, err := rand.Read(secret); err != nil {
		return "", err
	}
	return id + ":" + base64.StdEncoding.EncodeToString(secret), nil
}

// CurrentKeyID is the id of the key that encrypts.
func (k *Keyring) CurrentKeyID() string { return k.current }

// KeyIDs are the ids of every key, the encrypting one first.
func (k *Keyring) KeyIDs() []string { return append([]string(nil), k.ids...) }

// seal encrypts plain under the current key with aad bound to it: nonce || ciphertext.
func (k *Keyring) seal(plain, aad []byte) (string, []byte, error) {
	return k.current, sealWith(k.aeads[k.current], plain, aad), nil
}

// open decrypts what seal made under the key kid.
func (k *Keyring) open(kid string, sealed, aad []byte) ([]byte, error) {
	aead, ok := k.aeads[kid]
	if !ok {
		return nil, &UnknownKeyError{KeyID: kid}
	}
	return openWith(aead, sealed, aad)
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func sealWith(aead cipher.AEAD, plain, aad []byte) []byte {
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		panic("privacy: no randomness: " + err.Error()) // crypto/rand never fails on supported platforms
	}
	return aead.Seal(out, out, plain, aad)
}

func openWith(aead cipher.AEAD, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrCorrupt
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, ErrCorrupt
	}
	return plain, nil
}
