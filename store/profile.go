package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// UpdateMemberProfile applies a profile and consent change to an active member in one transaction and returns the
// member as changed and the names of the fields whose value changed (none when the patch changes nothing). The
// member's row is locked for the change: a notification being sent to the member holds it shared
// (LockMemberForSend), so a consent withdrawn here is in force, once this returns, for every message not yet sent.
// A missing or erased member → domain.ErrNotFound; an email another member holds → domain.ErrConflict; nothing is
// written on any error.
func (s *Store) UpdateMemberProfile(ctx context.Context, id string, p domain.ProfilePatch) (domain.Member, []string, error) {
	var (
		out     domain.Member
		changed []string
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		m, err := rowQuery[domain.Member]{sql: memberQuery(id).sql + ` FOR UPDATE`, args: []any{id}, scan: memberQuery(id).scan}.run(ctx, tx)
		if err != nil {
			return err
		}
		if m.Status != domain.MemberActive {
			return domain.Errorf(domain.ErrNotFound, "member %s not found", id)
		}
		out, changed = p.Apply(m)
		if len(changed) == 0 {
			return nil
		}
		var birth *time.Time
		if out.Birthdate != "" {
			d, err := time.Parse(time.DateOnly, out.Birthdate)
			if err != nil {
				return domain.Errorf(domain.ErrInvalid, "birthdate is not a date")
			}
			birth = &d
		}
		_, err = tx.Exec(ctx, `
			UPDATE members SET email = $2, phone = NULLIF($3, ''), name = $4, birthdate = $5, consent_email = $6,
			       consent_sms = $7, updated_at = $8
			WHERE id = $1`,
			id, out.Email, out.Phone, out.Name, birth, out.Consent.Email, out.Consent.SMS, s.Now())
		if uniqueViolation(err) != "" {
			return domain.Errorf(domain.ErrConflict, "a member with this email already exists")
		}
		if err != nil {
			return err
		}
		// Merchant systems hear which fields changed, never their values (an endpoint made with
		// include_personal_data reads the profile when the event is delivered).
		return EmitEvent(ctx, tx, domain.EventMemberUpdated, id, s.Now(), map[string]any{"member_id": id, "fields": changed})
	})
	if err != nil {
		return domain.Member{}, nil, wrap("update member profile", err)
	}
	return out, changed, nil
}

// SetConsent turns a channel's consent (domain.ChannelEmail or domain.ChannelSMS) of an active member on or off and
// reports whether it changed; as UpdateMemberProfile, it waits for a message being sent to the member. A missing or
// erased member → domain.ErrNotFound.
func (s *Store) SetConsent(ctx context.Context, id, channel string, on bool) (bool, error) {
	var p domain.ProfilePatch
	switch channel {
	case domain.ChannelEmail:
		p.Consent = &domain.ConsentPatch{Email: &on}
	case domain.ChannelSMS:
		p.Consent = &domain.ConsentPatch{SMS: &on}
	default:
		return false, domain.Errorf(domain.ErrInvalid, "unknown channel %q", channel)
	}
	_, changed, err := s.UpdateMemberProfile(ctx, id, p)
	return len(changed) > 0, err
}

// MembersByPhone lists the active members holding a phone number (E.164), for the SMS opt-out of an inbound STOP.
func (s *Store) MembersByPhone(ctx context.Context, phone string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id::text FROM members WHERE phone = $1 AND status = 'active' ORDER BY id`, phone)
	if err != nil {
		return nil, wrap("members by phone", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, wrap("members by phone", err)
}

// LockMemberForSend reads the member with their row held shared for as long as send runs, so that a consent change
// (UpdateMemberProfile, SetConsent) waits for a message being sent and every message after it reads the new
// consent: a withdrawal is in force for every message not yet handed to a provider when it returns. send must not
// write to the store (the connection is held); its error is returned as is.
func (s *Store) LockMemberForSend(ctx context.Context, id string, send func(domain.Member) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return wrap("lock member for send", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read-only: nothing to keep
	m, err := rowQuery[domain.Member]{sql: memberQuery(id).sql + ` FOR SHARE`, args: []any{id}, scan: memberQuery(id).scan}.run(ctx, tx)
	if err != nil {
		return err
	}
	return send(m)
}
