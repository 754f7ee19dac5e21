package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// Notification statuses.
const (
	NotificationPending = "pending"
	NotificationSending = "sending"
	NotificationSent    = "sent"
	NotificationFailed  = "failed"
	NotificationSkipped = "skipped"
)

// NotificationRecord is what was done with one notification key.
type NotificationRecord struct {
	Key        string
	MemberID   string
	Template   string
	Channel    string
	Status     string
	Provider   string
	ProviderID string
	Attempts   int
	Error      string
}

// BeginNotification claims a notification key for one send. It answers proceed=true when the caller must send now:
// the key is new, or an earlier attempt learnt from the provider that the message was not taken. It answers false
// with the recorded status when the key was sent, failed for good or skipped — and when an earlier attempt stopped
// in the middle of a provider call (its outcome unknown): that one is marked failed rather than risk a second send.
func (s *Store) BeginNotification(ctx context.Context, n domain.Notification) (proceed bool, status string, err error) {
	// One statement: a new key is claimed (sending); a pending one is claimed again; one left sending by an attempt
	// that stopped is failed; any other keeps its status. The row lock of the upsert serialises concurrent claims.
	err = s.pool.QueryRow(ctx, `
		INSERT INTO notifications AS n (notification_key, member_id, template, status, attempts)
		VALUES ($1, $2, $3, 'sending', 1)
		ON CONFLICT (notification_key) DO UPDATE SET
			status = CASE n.status WHEN 'pending' THEN 'sending' WHEN 'sending' THEN 'failed' ELSE n.status END,
			attempts = n.attempts + CASE n.status WHEN 'pending' THEN 1 ELSE 0 END,
			error = CASE n.status WHEN 'sending' THEN 'an attempt stopped during the provider call; not resent' ELSE n.error END,
			updated_at = CASE WHEN n.status IN ('pending', 'sending') THEN now() ELSE n.updated_at END
		RETURNING status`, n.Key, n.MemberID, n.Template).Scan(&status)
	if err != nil {
		return false, "", wrap("begin notification "+n.Key, err)
	}
	if status == NotificationSending {
		return true, status, nil
	}
	return false, status, nil
}

// FinishNotification records the outcome of a send: sent (with the provider's message id), failed, skipped, or
// pending again when the provider answered that it did not take the message (a retry may send it).
func (s *Store) FinishNotification(ctx context.Context, r NotificationRecord) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE notifications SET status = $2, channel = NULLIF($3, ''), provider = NULLIF($4, ''), provider_id = NULLIF($5, ''),
		       error = NULLIF($6, ''), updated_at = now()
		WHERE notification_key = $1`, r.Key, r.Status, r.Channel, r.Provider, r.ProviderID, r.Error)
	return wrap("finish notification "+r.Key, err)
}

// GetNotification reads what was done with a key; unknown → domain.ErrNotFound.
func (s *Store) GetNotification(ctx context.Context, key string) (NotificationRecord, error) {
	var r NotificationRecord
	var ch, prov, pid, e *string
	err := s.pool.QueryRow(ctx, `SELECT notification_key, member_id::text, template, channel, status, provider, provider_id, attempts, error
		FROM notifications WHERE notification_key = $1`, key).
		Scan(&r.Key, &r.MemberID, &r.Template, &ch, &r.Status, &prov, &pid, &r.Attempts, &e)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, domain.Errorf(domain.ErrNotFound, "notification %s not found", key)
	}
	r.Channel, r.Provider, r.ProviderID, r.Error = deref(ch), deref(prov), deref(pid), deref(e)
	return r, wrap("get notification", err)
}

// CountNotifications counts the notifications whose key starts with prefix, by status.
func (s *Store) CountNotifications(ctx context.Context, prefix string) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT status, count(*) FROM notifications WHERE starts_with(notification_key, $1) GROUP BY status`, prefix)
	if err != nil {
		return nil, wrap("count notifications", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, wrap("count notifications", err)
		}
		out[st] = n
	}
	return out, wrap("count notifications", rows.Err())
}
