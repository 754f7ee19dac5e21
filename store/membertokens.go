package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// Member tokens are revocable: a member has a "not before", and the API refuses the member's tokens issued at or
// before it. Signing out everywhere, an erasure or a suspension moves it to now.

// RevokeMemberTokens refuses, from now on, every token of the member issued at or before at (the moment is never
// moved back). An unknown member → domain.ErrNotFound.
func (s *Store) RevokeMemberTokens(ctx context.Context, memberID string, at time.Time) error {
	if !domain.ValidMemberID(memberID) {
		return domain.Errorf(domain.ErrNotFound, "no such member")
	}
	tag, err := s.pool.Exec(ctx, `UPDATE members SET tokens_not_before = GREATEST(tokens_not_before, $2) WHERE id = $1`, memberID, at)
	if err != nil {
		return wrap("revoke member tokens", err)
	}
	if tag.RowsAffected() == 0 {
		return domain.Errorf(domain.ErrNotFound, "no such member")
	}
	return nil
}

// MemberTokensNotBefore is the moment at or before which the member's tokens are refused; zero when they never
// were revoked, or when there is no such member (a token for nobody reaches nothing).
func (s *Store) MemberTokensNotBefore(ctx context.Context, memberID string) (time.Time, error) {
	var nb *time.Time
	err := s.pool.QueryRow(ctx, `SELECT tokens_not_before FROM members WHERE id = $1`, memberID).Scan(&nb)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && nb == nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, wrap("read member tokens' not-before", err)
	}
	return *nb, nil
}
