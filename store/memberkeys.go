package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// Members' data keys (privacy.Members): each member's personal fields are sealed under a key of their own, kept
// here only wrapped under a payload key. See docs/privacy.md.

// InsertMemberKey keeps a member's wrapped data key and the id of the payload key it is wrapped under, unless the
// member has one already (then it changes nothing: the first key stays, so values sealed under it still open).
func (s *Store) InsertMemberKey(ctx context.Context, memberID, keyID string, wrapped []byte) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO member_keys (member_id, key_id, wrapped, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (member_id) DO NOTHING`, memberID, keyID, wrapped, s.Now())
	return wrap("keep member key", err)
}

// MemberKey is a member's wrapped data key and the id of the payload key it is wrapped under; none (never made, or
// deleted) → domain.ErrNotFound.
func (s *Store) MemberKey(ctx context.Context, memberID string) (keyID string, wrapped []byte, err error) {
	if !domain.ValidMemberID(memberID) {
		return "", nil, domain.Errorf(domain.ErrNotFound, "no key for member %s", memberID)
	}
	err = s.pool.QueryRow(ctx, `SELECT key_id, wrapped FROM member_keys WHERE member_id = $1`, memberID).Scan(&keyID, &wrapped)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil, domain.Errorf(domain.ErrNotFound, "no key for member %s", memberID)
	}
	return keyID, wrapped, wrap("read member key", err)
}

// DeleteMemberKey deletes a member's data key: crypto-shredding. Every personal value of theirs sealed under it —
// in workflow histories kept by the Temporal server, in payloads anywhere — can no longer be read by anyone, nor by
// perkflow (privacy.ErrShredded). Irreversible; deleting a key that is gone already succeeds. The member's erase
// calls it once the rows perkflow keeps in clear are erased.
func (s *Store) DeleteMemberKey(ctx context.Context, memberID string) error {
	if !domain.ValidMemberID(memberID) {
		return nil
	}
	_, err := s.pool.Exec(ctx, `DELETE FROM member_keys WHERE member_id = $1`, memberID)
	return wrap("delete member key", err)
}

// CodecUse is one use of the codec endpoints, as audited: never a payload or a value.
type CodecUse struct {
	At        time.Time
	Actor     string
	Operation string // decode or encode
	Namespace string
	Payloads  int
	// Opened is how many sealed personal values the decode opened.
	Opened int
}

// RecordCodecUse audits a use of the codec endpoints.
func (s *Store) RecordCodecUse(ctx context.Context, u CodecUse) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO codec_audit (at, actor, operation, namespace, payloads, opened) VALUES ($1, $2, $3, $4, $5, $6)`,
		u.At, u.Actor, u.Operation, u.Namespace, u.Payloads, u.Opened)
	return wrap("audit codec use", err)
}

// CodecUses lists the codec uses of actor, oldest first (for audits and tests).
func (s *Store) CodecUses(ctx context.Context, actor string) ([]CodecUse, error) {
	rows, err := s.pool.Query(ctx, `SELECT at, actor, operation, namespace, payloads, opened FROM codec_audit WHERE actor = $1 ORDER BY id`, actor)
	if err != nil {
		return nil, wrap("list codec uses", err)
	}
	defer rows.Close()
	var out []CodecUse
	for rows.Next() {
		var u CodecUse
		if err := rows.Scan(&u.At, &u.Actor, &u.Operation, &u.Namespace, &u.Payloads, &u.Opened); err != nil {
			return nil, wrap("list codec uses", err)
		}
		out = append(out, u)
	}
	return out, wrap("list codec uses", rows.Err())
}
