package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// ErasedMarker replaces free text that may name an erased member (an adjustment's reason, a console audit target).
const ErasedMarker = "(erased)"

// EraseMember removes or overwrites, in one transaction, every personal field perkflow stores of a member:
//
//   - members: email, phone, name, birthdate and external id cleared, consent withdrawn, status erased, every member
//     token issued until now revoked (tokens_not_before);
//   - notifications: the provider's error text (which may quote the recipient) cleared; perkflow stores neither the
//     recipient nor the rendered body of a message;
//   - adjustments: the reason, free text a person typed about the member, overwritten;
//   - idempotency_keys: the stored answers that hold the member's profile or were given to the member (a
//     registration's answer, a member's own requests) removed;
//   - member_lookups: the member removed from what each lookup found (the lookup itself stays, with its actor);
//   - console_audit: lines whose target names the member overwritten.
//   - import_rows: the staging lines of import files that name the member (id, email, external id or phone)
//     emptied.
//
// The ledger (entries, lots, allocations, balances) and the business records keyed by the member id (transactions,
// redemptions, holds, challenges, campaign issuances) keep their rows, which hold ids, amounts and dates only: the
// member id names nobody once the members row is erased, and every ledger invariant still holds. Purchases may go
// on accruing to the erased member (those acknowledged before the erasure). An unknown member →
// domain.ErrNotFound; an erased one answers AlreadyErased, changing nothing.
func (s *Store) EraseMember(ctx context.Context, memberID string) (domain.ErasureReport, error) {
	rep := domain.ErasureReport{MemberID: memberID, Rows: map[string]int64{}}
	if !domain.ValidMemberID(memberID) {
		return rep, domain.Errorf(domain.ErrNotFound, "no such member")
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var status string
		var values []string // what names the member in an import's staging rows: the id, email, external id, phone
		// Locked: waits for a message being sent to the member (LockMemberForSend), so none goes out after.
		err := tx.QueryRow(ctx, `
			SELECT status, array_remove(ARRAY[id::text, lower(email), lower(external_id), phone], NULL)
			FROM members WHERE id = $1 FOR UPDATE`, memberID).Scan(&status, &values)
		if errors.Is(err, pgx.ErrNoRows) {
			return domain.Errorf(domain.ErrNotFound, "no such member")
		}
		if err != nil {
			return err
		}
		if status == string(domain.MemberErased) {
			rep.AlreadyErased = true
			return nil
		}
		steps := []struct{ table, sql string }{
			{"members", `UPDATE members SET email = NULL, phone = NULL, name = NULL, birthdate = NULL, external_id = NULL,
			        consent_email = false, consent_sms = false, status = 'erased', updated_at = $2,
			        tokens_not_before = GREATEST(tokens_not_before, $2)
			 WHERE id = $1`},
			{"notifications", `UPDATE notifications SET error = NULL WHERE member_id = $1 AND error IS NOT NULL`},
			{"adjustments", `UPDATE adjustments SET reason = '` + ErasedMarker + `' WHERE member_id = $1`},
			{"idempotency_keys", `DELETE FROM idempotency_keys
			 WHERE actor = 'member:' || $1::text
			    OR position(convert_to($1::text, 'UTF8') IN COALESCE(body, ''::bytea)) > 0
			    OR position($1::text IN COALESCE(headers::text, '')) > 0`},
			{"member_lookups", `UPDATE member_lookups SET member_ids = array_remove(member_ids, $1::uuid) WHERE $1::uuid = ANY (member_ids)`},
			{"console_audit", `UPDATE console_audit SET target = '` + ErasedMarker + `' WHERE position($1::text IN target) > 0`},
			// The member app's links (each holds a keyed hash of the address it was sent to), sessions and hand-offs.
			{"member_app_links", `DELETE FROM member_app_links WHERE member_id = $1`},
			{"member_app_sessions", `DELETE FROM member_app_sessions WHERE member_id = $1`},
			{"member_app_handoffs", `DELETE FROM member_app_handoffs WHERE member_id = $1`},
		}
		// The lines of import files that name the member keep their place (the file's line numbers and error report
		// stay true) but lose every value: a resumed import refuses them instead of bringing the member back.
		tag, err := tx.Exec(ctx, `
			UPDATE import_rows SET fields = array_fill(''::text, ARRAY[cardinality(fields)])
			WHERE EXISTS (SELECT 1 FROM unnest(fields) f WHERE lower(f) = ANY ($1))`, values)
		if err != nil {
			return wrap("erase import_rows", err)
		}
		rep.Rows["import_rows"] = tag.RowsAffected()
		for _, st := range steps {
			args := []any{memberID}
			if st.table == "members" {
				args = append(args, s.Now())
			}
			tag, err := tx.Exec(ctx, st.sql, args...)
			if err != nil {
				return wrap("erase "+st.table, err)
			}
			rep.Rows[st.table] = tag.RowsAffected()
		}
		return EmitEvent(ctx, tx, domain.EventMemberErased, memberID, s.Now(), map[string]any{"member_id": memberID})
	})
	if err != nil {
		return domain.ErasureReport{MemberID: memberID}, wrap("erase member", err)
	}
	if rep.AlreadyErased {
		rep.Rows = nil
	}
	return rep, nil
}
