package activities

import (
	"context"

	"github.com/perkflow/perkflow/domain"
)

// EraseMember erases the member's personal data in the store (store.EraseMember: one transaction, tokens revoked),
// then deletes the member's payload key through ShredMemberKey when one is configured, so that every copy of the
// member's encrypted payloads — Temporal histories included — can no longer be read. Both steps are idempotent: a
// retry, or a second erasure, changes nothing more.
func (a *Activities) EraseMember(ctx context.Context, e domain.Erasure) (domain.ErasureReport, error) {
	rep, err := a.Store.EraseMember(ctx, e.MemberID)
	if err != nil {
		return rep, classify(err)
	}
	// Crypto-shredding: the member's encryption key is deleted here, after the store no longer holds their data.
	if a.ShredMemberKey != nil {
		if err := a.ShredMemberKey(ctx, e.MemberID); err != nil {
			return rep, classify(err)
		}
	}
	a.logger().InfoContext(ctx, "member erased", "member_id", e.MemberID, "actor", e.Actor, "already_erased", rep.AlreadyErased)
	return rep, nil
}
