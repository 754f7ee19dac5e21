package privacy

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/perkflow/perkflow/domain"
)

// Crypto-shredding. Each member has a data key of their own (32 random bytes), kept in Postgres only wrapped
// (encrypted) under the payload keyring. The personal fields that travel through Temporal — in workflow inputs,
// activity inputs and results, update results — are sealed under it before they enter any payload, so that the
// Temporal server holds them twice encrypted. Deleting the member's key makes every sealed copy unreadable,
// wherever it is kept and for as long as it is kept: the histories a Temporal server (or Temporal Cloud) retains
// included.

// Sealed is one personal value sealed under its member's data key: "pfs1:<member id>:<base64url(nonce ||
// AES-256-GCM(value))>", the member id as additional data; "" is an empty value. It is a plain string in JSON, and
// any string decodes into it (replaying histories written before sealing); only Open checks it.
type Sealed string

const sealedPrefix = "pfs1:"

// ErrShredded is returned for a sealed value whose member's key no longer exists: it cannot be read by anyone.
var ErrShredded = errors.New("the member's data key has been deleted: their sealed personal data is unreadable")

// ErrNotSealed is returned for a value that is not a sealed value of the member it should belong to.
var ErrNotSealed = errors.New("not a sealed value of this member")

// MemberKeyStore keeps members' data keys, wrapped (store.Store implements it).
type MemberKeyStore interface {
	// InsertMemberKey keeps a member's wrapped key unless they have one already (then it changes nothing).
	InsertMemberKey(ctx context.Context, memberID, keyID string, wrapped []byte) error
	// MemberKey is the member's wrapped key and the id of the payload key it is wrapped under; an error of code
	// domain.ErrNotFound when there is none (never made, or deleted).
	MemberKey(ctx context.Context, memberID string) (keyID string, wrapped []byte, err error)
}

// Members seals and opens members' personal fields under their data keys.
type Members struct {
	Keys  *Keyring
	Store MemberKeyStore
}

// EnsureKey makes the member's data key unless they have one.
func (m *Members) EnsureKey(ctx context.Context, memberID string) error {
	if _, _, err := m.Store.MemberKey(ctx, memberID); err == nil {
		return nil
	} else if domain.CodeOf(err) != domain.ErrNotFound {
		return err
	}
	raw := make([]byte, KeySize)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	kid, wrapped, err := m.Keys.seal(raw, wrapAAD(memberID))
	if err != nil {
		return err
	}
	return m.Store.InsertMemberKey(ctx, memberID, kid, wrapped)
}

func wrapAAD(memberID string) []byte { return []byte("perkflow member key v1:" + memberID) }

// memberAEAD is the member's data key, unwrapped.
func (m *Members) memberAEAD(ctx context.Context, memberID string) (cipher.AEAD, error) {
	kid, wrapped, err := m.Store.MemberKey(ctx, memberID)
	if domain.CodeOf(err) == domain.ErrNotFound {
		return nil, ErrShredded
	}
	if err != nil {
		return nil, err
	}
	raw, err := m.Keys.open(kid, wrapped, wrapAAD(memberID))
	if err != nil {
		return nil, fmt.Errorf("member data key: %w", err)
	}
	return newAEAD(raw)
}

// sealer seals values of one member.
type sealer struct {
	memberID string
	aead     cipher.AEAD
}

func (s sealer) seal(v string) Sealed {
	if v == "" {
		return ""
	}
	ct := sealWith(s.aead, []byte(v), []byte(s.memberID))
	return Sealed(sealedPrefix + s.memberID + ":" + base64.RawURLEncoding.EncodeToString(ct))
}

func (s sealer) open(v Sealed) (string, error) {
	if v == "" {
		return "", nil
	}
	id, ct, ok := parseSealed(v)
	if !ok || id != s.memberID {
		return "", ErrNotSealed
	}
	plain, err := openWith(s.aead, ct, []byte(s.memberID))
	return string(plain), err
}

func parseSealed(v Sealed) (memberID string, ct []byte, ok bool) {
	rest, ok := strings.CutPrefix(string(v), sealedPrefix)
	if !ok {
		return "", nil, false
	}
	memberID, b64, ok := strings.Cut(rest, ":")
	if !ok || !domain.ValidMemberID(memberID) {
		return "", nil, false
	}
	ct, err := base64.RawURLEncoding.DecodeString(b64)
	return memberID, ct, err == nil
}

func (m *Members) sealer(ctx context.Context, memberID string) (sealer, error) {
	aead, err := m.memberAEAD(ctx, memberID)
	return sealer{memberID: memberID, aead: aead}, err
}

// SealedRegistration is a domain.Registration with its personal fields sealed: what the member workflow's input
// and its registration activity carry.
type SealedRegistration struct {
	MemberID   string         `json:"member_id"`
	ExternalID string         `json:"external_id,omitempty"`
	Email      Sealed         `json:"email"`
	Phone      Sealed         `json:"phone,omitempty"`
	Name       Sealed         `json:"name"`
	Birthdate  Sealed         `json:"birthdate,omitempty"`
	Consent    domain.Consent `json:"consent"`
}

// SealedMember is a domain.Member with its personal fields sealed: the registration activity's and update's result.
type SealedMember struct {
	SealedRegistration
	Status   domain.MemberStatus `json:"status"`
	JoinedAt time.Time           `json:"joined_at"`
}

// SealRegistration seals r's personal fields under its member's key, which it makes if need be.
func (m *Members) SealRegistration(ctx context.Context, r domain.Registration) (SealedRegistration, error) {
	if err := m.EnsureKey(ctx, r.MemberID); err != nil {
		return SealedRegistration{}, err
	}
	s, err := m.sealer(ctx, r.MemberID)
	if err != nil {
		return SealedRegistration{}, err
	}
	return s.registration(r), nil
}

func (s sealer) registration(r domain.Registration) SealedRegistration {
	return SealedRegistration{MemberID: r.MemberID, ExternalID: r.ExternalID, Email: s.seal(r.Email), Phone: s.seal(r.Phone),
		Name: s.seal(r.Name), Birthdate: s.seal(r.Birthdate), Consent: r.Consent}
}

func (s sealer) openRegistration(r SealedRegistration) (domain.Registration, error) {
	out := domain.Registration{MemberID: r.MemberID, ExternalID: r.ExternalID, Consent: r.Consent}
	var errs []error
	for _, f := range []struct {
		dst *string
		src Sealed
	}{{&out.Email, r.Email}, {&out.Phone, r.Phone}, {&out.Name, r.Name}, {&out.Birthdate, r.Birthdate}} {
		v, err := s.open(f.src)
		*f.dst = v
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// OpenRegistration opens what SealRegistration sealed; ErrShredded once the member's key is deleted.
func (m *Members) OpenRegistration(ctx context.Context, r SealedRegistration) (domain.Registration, error) {
	s, err := m.sealer(ctx, r.MemberID)
	if err != nil {
		return domain.Registration{}, err
	}
	return s.openRegistration(r)
}

// SealMember seals mem's personal fields under their key (which must exist).
func (m *Members) SealMember(ctx context.Context, mem domain.Member) (SealedMember, error) {
	s, err := m.sealer(ctx, mem.MemberID)
	if err != nil {
		return SealedMember{}, err
	}
	return SealedMember{SealedRegistration: s.registration(mem.Registration), Status: mem.Status, JoinedAt: mem.JoinedAt}, nil
}

// OpenMember opens what SealMember sealed.
func (m *Members) OpenMember(ctx context.Context, sm SealedMember) (domain.Member, error) {
	s, err := m.sealer(ctx, sm.MemberID)
	if err != nil {
		return domain.Member{}, err
	}
	r, err := s.openRegistration(sm.SealedRegistration)
	return domain.Member{Registration: r, Status: sm.Status, JoinedAt: sm.JoinedAt}, err
}

// OpenJSON replaces, in a JSON document, every string that is a sealed value by its clear value, where the
// member's key still exists (for support reading payloads through the codec endpoint); values of shredded members
// stay sealed. It returns the document and how many values it opened; a document that is not JSON is returned as
// it is.
func (m *Members) OpenJSON(ctx context.Context, doc []byte) ([]byte, int, error) {
	if !bytes.Contains(doc, []byte(sealedPrefix)) {
		return doc, 0, nil
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return doc, 0, nil
	}
	sealers := map[string]*sealer{}
	opened := 0
	var walk func(v any) (any, error)
	walk = func(v any) (any, error) {
		switch t := v.(type) {
		case map[string]any:
			for k, e := range t {
				n, err := walk(e)
				if err != nil {
					return nil, err
				}
				t[k] = n
			}
		case []any:
			for i, e := range t {
				n, err := walk(e)
				if err != nil {
					return nil, err
				}
				t[i] = n
			}
		case string:
			id, _, ok := parseSealed(Sealed(t))
			if !ok {
				return t, nil
			}
			s, seen := sealers[id]
			if !seen {
				got, err := m.sealer(ctx, id)
				switch {
				case errors.Is(err, ErrShredded):
					s = nil
				case err != nil:
					return nil, err
				default:
					s = &got
				}
				sealers[id] = s
			}
			if s == nil {
				return t, nil
			}
			clear, err := s.open(Sealed(t))
			if err != nil {
				return t, nil
			}
			opened++
			return clear, nil
		}
		return v, nil
	}
	v, err := walk(v)
	if err != nil {
		return nil, 0, err
	}
	if opened == 0 {
		return doc, 0, nil
	}
	out, err := json.Marshal(v)
	return out, opened, err
}
