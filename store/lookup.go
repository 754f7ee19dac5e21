package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// LookUpMembers finds the members whose field (domain.LookupEmail, LookupPhone or LookupExternalID) is exactly value
// (already normalised; emails compare case-insensitively), and records the lookup with actor and the members it
// found, in the same transaction: no lookup goes unaudited. The value itself is not kept.
func (s *Store) LookUpMembers(ctx context.Context, field, value, actor string) ([]domain.Member, error) {
	cond := map[string]string{
		domain.LookupEmail:      `email IS NOT NULL AND lower(email) = lower($1)`,
		domain.LookupPhone:      `phone = $1`,
		domain.LookupExternalID: `external_id = $1`,
	}[field]
	if cond == "" {
		return nil, domain.Errorf(domain.ErrInvalid, "members are looked up by email, phone or external_id")
	}
	var out []domain.Member
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id::text FROM members WHERE `+cond+` ORDER BY joined_at, id LIMIT 20`, value)
		if err != nil {
			return wrap("look up members", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return wrap("look up members", err)
		}
		if ids == nil {
			ids = []string{}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO member_lookups (actor, field, member_ids) VALUES ($1, $2, $3::uuid[])`, actor, field, ids); err != nil {
			return wrap("audit member lookup", err)
		}
		for _, id := range ids {
			m, err := memberQuery(id).run(ctx, tx)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// MemberLookup is one recorded lookup of members.
type MemberLookup struct {
	Actor     string
	Field     string
	MemberIDs []string
}

// MemberLookups lists the lookups actor made, oldest first (for audits and tests).
func (s *Store) MemberLookups(ctx context.Context, actor string) ([]MemberLookup, error) {
	rows, err := s.pool.Query(ctx, `SELECT actor, field, member_ids::text[] FROM member_lookups WHERE actor = $1 ORDER BY id`, actor)
	if err != nil {
		return nil, wrap("member lookups", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (MemberLookup, error) {
		var l MemberLookup
		return l, r.Scan(&l.Actor, &l.Field, &l.MemberIDs)
	})
	return out, wrap("member lookups", err)
}
