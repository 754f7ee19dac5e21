package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/perkflow/perkflow/domain"
)

// Outbound webhooks: the outbox (webhook_events), the endpoints and each endpoint's deliveries. See
// migrations/00014_webhooks.sql for how the outbox keeps events in order and docs/webhooks.md for the contract.

// WebhookChannel is the Postgres NOTIFY channel on which a transaction that wrote an outbox event announces its type,
// when it commits; the worker's dispatcher wakes the endpoints' delivery workflows on it.
const WebhookChannel = "perkflow_webhooks"

// EmitEvent writes a webhook event to the outbox in tx, the transaction of the change it reports, so that the
// event is sent if and only if the change commits. memberID orders the event among that member's ("" for a
// program-wide event, such as a campaign's start); data is its payload's data, ids and figures only. The row is
// written only while some enabled endpoint subscribes to the type: without subscribers it costs one indexed read of
// the (small) endpoints table and writes nothing. In a transaction of the store's (inTx), the dispatchers are told
// once it commits; in another, the event waits for the next wake or the endpoints' idle timers.
func EmitEvent(ctx context.Context, tx pgx.Tx, eventType, memberID string, occurredAt time.Time, data any) error {
	b, err := eventData(eventType, memberID, data)
	if err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO webhook_events (type, order_key, occurred_at, data)
		SELECT $1, $2, $3, $4
		WHERE `+subscribedSQL("$1"), eventType, memberID, occurredAt.UTC(), b)
	if err != nil {
		return wrap("write "+eventType+" event", err)
	}
	if tag.RowsAffected() > 0 {
		effectsOf(tx).webhook(eventType)
	}
	return nil
}

// subscribedSQL is true, in SQL, while an enabled endpoint subscribes to the event type in the parameter param.
func subscribedSQL(param string) string {
	return `EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled AND (events @> ARRAY[` + param + `::text] OR events @> ARRAY['*']))`
}

// eventData is an event's data as the outbox stores it, for a member's event (memberID a member's id) or a
// program-wide one ("").
func eventData(eventType, memberID string, data any) ([]byte, error) {
	if memberID != "" && !domain.ValidMemberID(memberID) {
		return nil, fmt.Errorf("%s event: member id %q is not a member's id", eventType, memberID)
	}
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encode %s event: %w", eventType, err)
	}
	return b, nil
}

// webhookAnnouncer tells the webhook dispatchers (LISTEN on WebhookChannel) which event types were committed. It
// notifies after the commit, in a statement of its own, gathering what this process committed within 10 ms: a
// NOTIFY inside the writing transaction would make every such transaction take Postgres' database-wide notify lock
// at commit, one after another, which is what the ledger's writers must never queue on. A process that stops between
// a commit and its announcement only delays the event (to the next wake, or the endpoints' idle timers).
type webhookAnnouncer struct {
	pool      *pgxpool.Pool
	mu        sync.Mutex
	types     map[string]bool
	scheduled bool
}

func (a *webhookAnnouncer) announce(types []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.types == nil {
		a.types = map[string]bool{}
	}
	for _, t := range types {
		a.types[t] = true
	}
	if !a.scheduled {
		a.scheduled = true
		time.AfterFunc(10*time.Millisecond, a.flush)
	}
}

func (a *webhookAnnouncer) flush() {
	a.mu.Lock()
	types := make([]string, 0, len(a.types))
	for t := range a.types {
		types = append(types, t)
	}
	a.types, a.scheduled = nil, false
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Best effort: a lost announcement delays, never drops, an event.
	_, _ = a.pool.Exec(ctx, `SELECT pg_notify($1, t) FROM unnest($2::text[]) t`, WebhookChannel, types)
}

// ledgerEvent is the data of a points.* event.
type ledgerEvent struct {
	MemberID     string    `json:"member_id"`
	EntryID      int64     `json:"entry_id"`
	Kind         string    `json:"kind"`
	Points       int64     `json:"points"`
	BalanceAfter int64     `json:"balance_after"`
	SourceType   string    `json:"source_type"`
	SourceID     string    `json:"source_id"`
	OccurredAt   time.Time `json:"occurred_at"`
}

// emitLedgerEvent reports a ledger entry just appended.
func emitLedgerEvent(ctx context.Context, tx pgx.Tx, memberID string, id int64, e entry, balanceAfter int64) error {
	t := domain.LedgerEventType(e.kind)
	if t == "" {
		return nil
	}
	return EmitEvent(ctx, tx, t, memberID, e.occurredAt, ledgerEventData(memberID, id, e, balanceAfter))
}

func ledgerEventData(memberID string, id int64, e entry, balanceAfter int64) ledgerEvent {
	return ledgerEvent{MemberID: memberID, EntryID: id, Kind: string(e.kind), Points: e.points, BalanceAfter: balanceAfter,
		SourceType: e.sourceType, SourceID: e.sourceID, OccurredAt: e.occurredAt.UTC()}
}

// ledgerEventOf is the webhook event of an entry not written yet, for a statement that writes both (creditSQL): its
// type ("" for none) and its data, whose entry_id the statement sets.
func ledgerEventOf(memberID string, e entry, balanceAfter int64) (string, []byte, error) {
	t := domain.LedgerEventType(e.kind)
	if t == "" {
		return "", []byte(`{}`), nil
	}
	b, err := eventData(t, memberID, ledgerEventData(memberID, 0, e, balanceAfter))
	return t, b, err
}

// WebhookEndpointRecord is an endpoint with what only the store and the delivery see.
type WebhookEndpointRecord struct {
	domain.WebhookEndpoint
	Secret              string
	PreviousSecret      string
	PreviousSecretUntil *time.Time
}

// SigningSecrets are the secrets a delivery at now is signed with: the current one, and the previous one during the
// overlap after a rotation.
func (e WebhookEndpointRecord) SigningSecrets(now time.Time) []string {
	out := []string{e.Secret}
	if e.PreviousSecret != "" && e.PreviousSecretUntil != nil && now.Before(*e.PreviousSecretUntil) {
		out = append(out, e.PreviousSecret)
	}
	return out
}

const endpointColumns = `endpoint_id::text, url, events, description, enabled, include_personal_data, disabled_at,
	COALESCE(disabled_reason, ''), failing_since, created_at, created_by, updated_at, secret, COALESCE(previous_secret, ''),
	previous_secret_until`

func scanEndpoint(r pgx.Row) (WebhookEndpointRecord, error) {
	var e WebhookEndpointRecord
	err := r.Scan(&e.ID, &e.URL, &e.Events, &e.Description, &e.Enabled, &e.IncludePersonalData, &e.DisabledAt,
		&e.DisabledReason, &e.FailingSince, &e.CreatedAt, &e.CreatedBy, &e.UpdatedAt, &e.Secret, &e.PreviousSecret,
		&e.PreviousSecretUntil)
	if errors.Is(err, pgx.ErrNoRows) {
		return e, domain.Errorf(domain.ErrNotFound, "no such webhook endpoint")
	}
	return e, err
}

// CreateWebhookEndpoint registers an endpoint with a new secret; it receives the events committed from now on.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, e domain.WebhookEndpoint) (WebhookEndpointRecord, error) {
	var out WebhookEndpointRecord
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanEndpoint(tx.QueryRow(ctx, `
			INSERT INTO webhook_endpoints (endpoint_id, url, events, description, include_personal_data, secret, cursor,
			                               created_at, created_by, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, (SELECT last_seq FROM webhook_sequencer), $7, $8, $7)
			RETURNING `+endpointColumns, e.ID, e.URL, e.Events, e.Description, e.IncludePersonalData,
			domain.NewWebhookSecret(), s.Now(), e.CreatedBy))
		return err
	})
	return out, wrap("create webhook endpoint", err)
}

// GetWebhookEndpoint reads an endpoint; unknown → domain.ErrNotFound.
func (s *Store) GetWebhookEndpoint(ctx context.Context, id string) (WebhookEndpointRecord, error) {
	if !domain.ValidMemberID(id) {
		return WebhookEndpointRecord{}, domain.Errorf(domain.ErrNotFound, "no such webhook endpoint")
	}
	e, err := scanEndpoint(s.pool.QueryRow(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE endpoint_id = $1`, id))
	return e, wrap("read webhook endpoint", err)
}

// ListWebhookEndpoints lists endpoints, oldest first, limit at a time after the endpoint id after ("" first).
func (s *Store) ListWebhookEndpoints(ctx context.Context, after string, limit int) ([]WebhookEndpointRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints
		WHERE $1 = '' OR (created_at, endpoint_id) > (SELECT created_at, endpoint_id FROM webhook_endpoints WHERE endpoint_id::text = $1)
		ORDER BY created_at, endpoint_id LIMIT $2`, after, limit)
	if err != nil {
		return nil, wrap("list webhook endpoints", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (WebhookEndpointRecord, error) { return scanEndpoint(r) })
	return out, wrap("list webhook endpoints", err)
}

// WebhookEndpointChange is a PATCH of an endpoint: nil fields stay.
type WebhookEndpointChange struct {
	URL         *string
	Events      []string
	Description *string
	Enabled     *bool
}

// UpdateWebhookEndpoint changes an endpoint. Enabling a disabled endpoint clears its failure record; it receives
// the events committed from then on (what it missed can be replayed), and its deliveries still pending resume.
func (s *Store) UpdateWebhookEndpoint(ctx context.Context, id string, c WebhookEndpointChange) (WebhookEndpointRecord, error) {
	if _, err := s.GetWebhookEndpoint(ctx, id); err != nil {
		return WebhookEndpointRecord{}, err
	}
	var out WebhookEndpointRecord
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanEndpoint(tx.QueryRow(ctx, `
			UPDATE webhook_endpoints SET
				url = COALESCE($2, url),
				events = COALESCE($3, events),
				description = COALESCE($4, description),
				cursor = CASE WHEN $5::boolean AND NOT enabled THEN (SELECT last_seq FROM webhook_sequencer) ELSE cursor END,
				failing_since = CASE WHEN $5::boolean AND NOT enabled THEN NULL ELSE failing_since END,
				disabled_at = CASE WHEN $5::boolean THEN NULL WHEN NOT $5::boolean AND enabled THEN $6 ELSE disabled_at END,
				disabled_reason = CASE WHEN $5::boolean THEN NULL WHEN NOT $5::boolean AND enabled THEN 'disabled by an admin' ELSE disabled_reason END,
				enabled = COALESCE($5, enabled),
				updated_at = $6
			WHERE endpoint_id = $1
			RETURNING `+endpointColumns, id, c.URL, c.Events, c.Description, c.Enabled, s.Now()))
		return err
	})
	return out, wrap("update webhook endpoint", err)
}

// DeleteWebhookEndpoint deletes an endpoint and its delivery log; unknown → domain.ErrNotFound.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, id string) error {
	if !domain.ValidMemberID(id) {
		return domain.Errorf(domain.ErrNotFound, "no such webhook endpoint")
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM webhook_endpoints WHERE endpoint_id = $1`, id)
	if err == nil && tag.RowsAffected() == 0 {
		return domain.Errorf(domain.ErrNotFound, "no such webhook endpoint")
	}
	return wrap("delete webhook endpoint", err)
}

// RotateWebhookSecret gives the endpoint a new secret; the previous one still signs for domain.WebhookSecretOverlap.
func (s *Store) RotateWebhookSecret(ctx context.Context, id string) (WebhookEndpointRecord, error) {
	if _, err := s.GetWebhookEndpoint(ctx, id); err != nil {
		return WebhookEndpointRecord{}, err
	}
	now := s.Now()
	e, err := scanEndpoint(s.pool.QueryRow(ctx, `
		UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_until = $3, secret = $2, updated_at = $4
		WHERE endpoint_id = $1 RETURNING `+endpointColumns, id, domain.NewWebhookSecret(), now.Add(domain.WebhookSecretOverlap), now))
	return e, wrap("rotate webhook secret", err)
}

// EnabledWebhookEndpoints lists the enabled endpoints, for the dispatcher to wake.
func (s *Store) EnabledWebhookEndpoints(ctx context.Context) ([]domain.WebhookEndpoint, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE enabled ORDER BY created_at`)
	if err != nil {
		return nil, wrap("list enabled webhook endpoints", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.WebhookEndpoint, error) {
		e, err := scanEndpoint(r)
		return e.WebhookEndpoint, err
	})
	return out, wrap("list enabled webhook endpoints", err)
}

// WebhookDelivery is a line of an endpoint's delivery log.
type WebhookDelivery struct {
	ID            int64      `json:"id"`
	EventID       string     `json:"event_id"`
	EventType     string     `json:"event_type"`
	OccurredAt    time.Time  `json:"occurred_at"`
	Replay        bool       `json:"replay"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	StatusCodes   []int32    `json:"status_codes"`
	LastError     string     `json:"last_error,omitempty"`
	DurationMS    *int32     `json:"duration_ms,omitempty"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	DeliveredAt   *time.Time `json:"delivered_at,omitempty"`
}

// WebhookDeliveries is the endpoint's delivery log, newest first, limit lines before the line id before (0: the
// newest), and the cursor of the next page (0: none).
func (s *Store) WebhookDeliveries(ctx context.Context, endpointID string, before int64, limit int) ([]WebhookDelivery, int64, error) {
	if _, err := s.GetWebhookEndpoint(ctx, endpointID); err != nil {
		return nil, 0, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT d.id, e.event_id::text, e.type, e.occurred_at, d.replay, d.status, d.attempts, d.status_codes,
		       COALESCE(d.last_error, ''), d.duration_ms, CASE WHEN d.status = 'pending' THEN d.next_attempt_at END,
		       d.created_at, d.delivered_at
		FROM webhook_deliveries d JOIN webhook_events e ON e.seq = d.event_seq
		WHERE d.endpoint_id = $1 AND ($2 = 0 OR d.id < $2)
		ORDER BY d.id DESC LIMIT $3`, endpointID, before, limit+1)
	if err != nil {
		return nil, 0, wrap("read delivery log", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (WebhookDelivery, error) {
		var d WebhookDelivery
		return d, r.Scan(&d.ID, &d.EventID, &d.EventType, &d.OccurredAt, &d.Replay, &d.Status, &d.Attempts, &d.StatusCodes,
			&d.LastError, &d.DurationMS, &d.NextAttemptAt, &d.CreatedAt, &d.DeliveredAt)
	})
	if err != nil {
		return nil, 0, wrap("read delivery log", err)
	}
	var next int64
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}

// WebhookReplay names what to deliver again: one event, or the events that occurred in [Since, Until) (Until zero:
// up to now) of the types the endpoint subscribes to.
type WebhookReplay struct {
	EventID      string
	Since, Until time.Time
}

// ReplayWebhookEvents queues the events again for the endpoint, as replays, and says how many. An unknown event id
// → domain.ErrNotFound.
func (s *Store) ReplayWebhookEvents(ctx context.Context, endpointID string, r WebhookReplay) (int64, error) {
	if _, err := s.GetWebhookEndpoint(ctx, endpointID); err != nil {
		return 0, err
	}
	if err := s.sequenceWebhookEvents(ctx); err != nil {
		return 0, err
	}
	now := s.Now()
	if r.EventID != "" {
		if !domain.ValidMemberID(r.EventID) {
			return 0, domain.Errorf(domain.ErrNotFound, "no such event")
		}
		tag, err := s.pool.Exec(ctx, `
			INSERT INTO webhook_deliveries (endpoint_id, event_seq, order_key, replay, next_attempt_at, created_at)
			SELECT $1, seq, order_key, true, $3, $3 FROM webhook_events WHERE event_id = $2 AND seq IS NOT NULL`, endpointID, r.EventID, now)
		if err == nil && tag.RowsAffected() == 0 {
			return 0, domain.Errorf(domain.ErrNotFound, "no such event")
		}
		return tag.RowsAffected(), wrap("replay event", err)
	}
	until := r.Until
	if until.IsZero() {
		until = now
	}
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO webhook_deliveries (endpoint_id, event_seq, order_key, replay, next_attempt_at, created_at)
		SELECT $1, ev.seq, ev.order_key, true, $4, $4
		FROM webhook_events ev, webhook_endpoints ep
		WHERE ep.endpoint_id = $1 AND ev.seq IS NOT NULL AND ev.occurred_at >= $2 AND ev.occurred_at < $3
		  AND (ev.type = ANY(ep.events) OR '*' = ANY(ep.events))
		ORDER BY ev.seq`, endpointID, r.Since, until, now)
	return tag.RowsAffected(), wrap("replay events", err)
}

// sequenceWebhookEvents gives the outbox rows committed so far, in the order they were written, the next seqs. One
// sequencer runs at a time (the webhook_sequencer row lock), and each of its statements sees what committed before
// it took the lock, so a seq is never given below one already visible.
func (s *Store) sequenceWebhookEvents(ctx context.Context) error {
	for {
		var pending bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM webhook_events WHERE seq IS NULL)`).Scan(&pending); err != nil {
			return wrap("look for unsequenced events", err)
		}
		if !pending {
			return nil
		}
		var n int64
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var last int64
			if err := tx.QueryRow(ctx, `SELECT last_seq FROM webhook_sequencer FOR UPDATE`).Scan(&last); err != nil {
				return err
			}
			tag, err := tx.Exec(ctx, `
				WITH todo AS (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM webhook_events WHERE seq IS NULL ORDER BY id LIMIT 5000)
				UPDATE webhook_events e SET seq = $1 + todo.rn FROM todo WHERE e.id = todo.id`, last)
			if err != nil {
				return err
			}
			n = tag.RowsAffected()
			_, err = tx.Exec(ctx, `UPDATE webhook_sequencer SET last_seq = $1`, last+n)
			return err
		})
		if err != nil {
			return wrap("sequence webhook events", err)
		}
		if n < 5000 {
			return nil
		}
	}
}

// queueWebhookDeliveries queues, for the endpoint, the sequenced events after its cursor that it subscribes to.
func (s *Store) queueWebhookDeliveries(ctx context.Context, endpointID string, now time.Time) error {
	return wrap("queue webhook deliveries", pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var cursor, last int64
		var enabled bool
		err := tx.QueryRow(ctx, `SELECT cursor, enabled FROM webhook_endpoints WHERE endpoint_id = $1 FOR UPDATE`, endpointID).Scan(&cursor, &enabled)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && !enabled) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT last_seq FROM webhook_sequencer`).Scan(&last); err != nil {
			return err
		}
		if last <= cursor {
			return nil
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO webhook_deliveries (endpoint_id, event_seq, order_key, next_attempt_at, created_at)
			SELECT $1, ev.seq, ev.order_key, $4, $4
			FROM webhook_events ev, webhook_endpoints ep
			WHERE ep.endpoint_id = $1 AND ev.seq > $2 AND ev.seq <= $3
			  AND (ev.type = ANY(ep.events) OR '*' = ANY(ep.events))
			ORDER BY ev.seq`, endpointID, cursor, last, now); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE webhook_endpoints SET cursor = $2 WHERE endpoint_id = $1`, endpointID, last)
		return err
	}))
}

// DueWebhookDelivery is a delivery to attempt now, with its event.
type DueWebhookDelivery struct {
	ID         int64
	OrderKey   string
	Replay     bool
	Attempts   int
	EventID    string
	EventType  string
	OccurredAt time.Time
	Data       json.RawMessage
	// Personal is the member's email, phone and name, for endpoints that include personal data (nil otherwise).
	Personal map[string]string
}

// WebhookRound is what one round of an endpoint's delivery has to do.
type WebhookRound struct {
	Endpoint WebhookEndpointRecord
	// Gone: the endpoint was deleted; Endpoint is empty.
	Gone bool
	Due  []DueWebhookDelivery
}

// DueWebhookDeliveries queues the endpoint's new events and returns up to limit deliveries due at now, in event
// order: a delivery waits while an earlier one of the same key (member) is waiting for its retry, so that a member's
// events arrive in the order they happened. Replays wait for nothing.
func (s *Store) DueWebhookDeliveries(ctx context.Context, endpointID string, now time.Time, limit int) (WebhookRound, error) {
	ep, err := s.GetWebhookEndpoint(ctx, endpointID)
	if domain.CodeOf(err) == domain.ErrNotFound {
		return WebhookRound{Gone: true}, nil
	}
	if err != nil {
		return WebhookRound{}, err
	}
	round := WebhookRound{Endpoint: ep}
	if !ep.Enabled {
		return round, nil
	}
	if err := s.sequenceWebhookEvents(ctx); err != nil {
		return round, err
	}
	if err := s.queueWebhookDeliveries(ctx, endpointID, now); err != nil {
		return round, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT d.id, d.order_key, d.replay, d.attempts, ev.event_id::text, ev.type, ev.occurred_at, ev.data,
		       m.email, m.phone, m.name
		FROM webhook_deliveries d
		JOIN webhook_events ev ON ev.seq = d.event_seq
		LEFT JOIN members m ON $4::boolean AND d.order_key <> '' AND m.id = NULLIF(d.order_key, '')::uuid
		WHERE d.endpoint_id = $1 AND d.status = 'pending' AND d.next_attempt_at <= $2
		  AND (d.replay OR NOT EXISTS (
			SELECT 1 FROM webhook_deliveries b
			WHERE b.endpoint_id = d.endpoint_id AND b.order_key = d.order_key AND b.status = 'pending' AND NOT b.replay
			  AND b.event_seq < d.event_seq AND b.next_attempt_at > $2))
		ORDER BY d.event_seq, d.id LIMIT $3`, endpointID, now, limit, ep.IncludePersonalData)
	if err != nil {
		return round, wrap("read due deliveries", err)
	}
	round.Due, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (DueWebhookDelivery, error) {
		var d DueWebhookDelivery
		var email, phone, name *string
		if err := r.Scan(&d.ID, &d.OrderKey, &d.Replay, &d.Attempts, &d.EventID, &d.EventType, &d.OccurredAt, &d.Data,
			&email, &phone, &name); err != nil {
			return d, err
		}
		if ep.IncludePersonalData && d.OrderKey != "" {
			d.Personal = map[string]string{}
			for k, v := range map[string]*string{"email": email, "phone": phone, "name": name} {
				if v != nil {
					d.Personal[k] = *v
				}
			}
		}
		return d, nil
	})
	return round, wrap("read due deliveries", err)
}

// NextWebhookAttempt is when the endpoint's next pending delivery is due (nil: none pending).
func (s *Store) NextWebhookAttempt(ctx context.Context, endpointID string) (*time.Time, error) {
	var t *time.Time
	// A member's first pending delivery decides when their chain is next due; a replay is due on its own.
	err := s.pool.QueryRow(ctx, `
		SELECT min(t) FROM (
			SELECT DISTINCT ON (order_key) next_attempt_at AS t FROM webhook_deliveries
			WHERE endpoint_id = $1 AND status = 'pending' AND NOT replay ORDER BY order_key, event_seq) heads
		UNION ALL SELECT min(next_attempt_at) FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'pending' AND replay
		ORDER BY 1 NULLS LAST LIMIT 1`, endpointID).Scan(&t)
	return t, wrap("next webhook attempt", err)
}

// WebhookAttempt is the outcome of one delivery attempt.
type WebhookAttempt struct {
	DeliveryID int64
	Replay     bool
	// StatusCode is the receiver's answer, 0 when none came.
	StatusCode int
	Error      string
	Duration   time.Duration
	// Delivered: a 2xx answer.
	Delivered bool
	// Gone: a 410 answer; the endpoint is disabled.
	Gone bool
	// NextAttempt is when to try again (zero: never; the delivery is given up).
	NextAttempt time.Time
}

// WebhookAttemptResult says what recording an attempt did to the endpoint.
type WebhookAttemptResult struct {
	// Disabled is the reason the endpoint was disabled by this attempt ("" if it was not).
	Disabled string
}

// RecordWebhookAttempt writes an attempt into the delivery log and moves the endpoint's failure record: a delivery
// (not a replay) that succeeds clears it, one that fails starts it; an endpoint failing since
// domain.WebhookFailingLimit, or answering 410 Gone, is disabled, and an endpoint-disabled event is written.
func (s *Store) RecordWebhookAttempt(ctx context.Context, endpointID string, a WebhookAttempt) (WebhookAttemptResult, error) {
	now := s.Now()
	var res WebhookAttemptResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		status, next := "pending", a.NextAttempt
		switch {
		case a.Delivered:
			status = "delivered"
		case a.NextAttempt.IsZero():
			status, next = "failed", now
		}
		ms := int32(a.Duration.Milliseconds())
		if _, err := tx.Exec(ctx, `
			UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, status_codes = status_codes || $3::integer,
			       last_error = NULLIF($4, ''), duration_ms = $5, next_attempt_at = $6,
			       delivered_at = CASE WHEN $2 = 'delivered' THEN $7::timestamptz END
			WHERE id = $1`, a.DeliveryID, status, a.StatusCode, a.Error, ms, next, now); err != nil {
			return err
		}
		if a.Replay && !a.Gone {
			return nil
		}
		// The endpoint's row is written only when its failure record changes: a healthy endpoint's deliveries leave
		// it alone (every transaction that emits an event reads it).
		if a.Delivered {
			_, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET failing_since = NULL WHERE endpoint_id = $1 AND failing_since IS NOT NULL`, endpointID)
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET failing_since = $2 WHERE endpoint_id = $1 AND failing_since IS NULL`, endpointID, now); err != nil {
			return err
		}
		var failingSince *time.Time
		var enabled bool
		err := tx.QueryRow(ctx, `SELECT failing_since, enabled FROM webhook_endpoints WHERE endpoint_id = $1`, endpointID).Scan(&failingSince, &enabled)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case !enabled:
			return nil
		case a.Gone:
			res.Disabled = "the receiver answered 410 Gone"
		case failingSince != nil && !now.Before(failingSince.Add(domain.WebhookFailingLimit)):
			res.Disabled = "every delivery failed for " + domain.WebhookFailingLimit.String()
		default:
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET enabled = false, disabled_at = $2, disabled_reason = $3, updated_at = $2
			WHERE endpoint_id = $1`, endpointID, now, res.Disabled); err != nil {
			return err
		}
		return EmitEvent(ctx, tx, domain.EventEndpointDisabled, "", now, map[string]string{"endpoint_id": endpointID, "reason": res.Disabled})
	})
	return res, wrap("record webhook attempt", err)
}

// ListenWebhookEvents calls wake with the type of each outbox event committed, as Postgres announces it, until ctx
// ends or the connection fails (then it returns the error; the caller listens again).
func (s *Store) ListenWebhookEvents(ctx context.Context, listening func(), wake func(eventType string)) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A LISTENing connection must not go back to the pool: take it out for good.
	pc := conn.Hijack()
	defer pc.Close(context.Background())
	if _, err := pc.Exec(ctx, "LISTEN "+pgx.Identifier{WebhookChannel}.Sanitize()); err != nil {
		return err
	}
	listening()
	for {
		n, err := pc.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		wake(n.Payload)
	}
}
