package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// An ExportSection is a part of a member's export: the rows of one table that name the member, each as the table
// holds it (to_jsonb of the row) less the columns Omit names (secrets of perkflow's, never the member's data).
type ExportSection struct {
	Name, Table string
	// Where selects the member's rows ($1 is the member id; "member_id = $1" when empty).
	Where   string
	OrderBy string
	Omit    []string
}

// ExportSections are the parts of a member's export, by table. Every table with a member_id column is among them
// (a test enumerates information_schema), so that the export leaves nothing out.
var ExportSections = []ExportSection{
	{Name: "balance", Table: "member_balances"},
	{Name: "tier", Table: "member_tiers"},
	{Name: "ledger_entries", Table: "ledger_entries", OrderBy: "id"},
	{Name: "lots", Table: "ledger_lots", OrderBy: "entry_id"},
	{Name: "transactions", Table: "transactions", OrderBy: "occurred_at, transaction_id"},
	// Purchases reported for the member and accepted (a day's worth: claims are pruned with Idempotency-Keys).
	{Name: "accrual_claims", Table: "accrual_claims", OrderBy: "claimed_at, transaction_id"},
	// Purchases the member's workflow parked in Postgres behind a backlog, not accrued yet (docs/architecture.md).
	{Name: "parked_purchases", Table: "member_backlog", OrderBy: "seq"},
	{Name: "returns", Table: "transaction_returns", OrderBy: "created_at, return_id"},
	{Name: "till_redemptions", Table: "till_redemptions", OrderBy: "created_at, redemption_id"},
	{Name: "adjustments", Table: "adjustments", OrderBy: "created_at, adjustment_id"},
	{Name: "redemptions", Table: "redemptions", OrderBy: "created_at, redemption_id", Omit: []string{"client_secret"}},
	{Name: "coupons", Table: "coupons", Where: "redemption_id IN (SELECT redemption_id FROM redemptions WHERE member_id = $1)",
		OrderBy: "issued_at, redemption_id", Omit: []string{"code_hash", "code_sealed"}},
	{Name: "points_holds", Table: "points_holds", OrderBy: "redemption_id"},
	{Name: "campaign_issuances", Table: "campaign_issuances", OrderBy: "campaign_id"},
	{Name: "notifications", Table: "notifications", OrderBy: "created_at, notification_key"},
	{Name: "challenges", Table: "challenge_enrolments", OrderBy: "challenge_id"},
	{Name: "badges", Table: "member_badges", OrderBy: "badge"},
	{Name: "leaderboard", Table: "leaderboard_points", OrderBy: "period, period_start"},
	{Name: "expiry_notices", Table: "expiry_notices", OrderBy: "created_at, notice_key"},
	{Name: "lookups", Table: "member_lookups", Where: "$1::uuid = ANY (member_ids)", OrderBy: "looked_up_at, id",
		Omit: []string{"member_ids"}},
	// That the member has a key of their own, and since when; never the key itself (perkflow's secret, not data on
	// the member).
	{Name: "encryption_key", Table: "member_keys", Omit: []string{"wrapped"}},
	// The member app's sign-in links sent to them (a day's worth: older ones are pruned) and their sessions: when,
	// and whether used or ended; never a token's hash, the hashed address, or a session's CSRF token.
	{Name: "app_sign_in_links", Table: "member_app_links", OrderBy: "created_at",
		Omit: []string{"token_hash", "email_hash", "ip_hash"}},
	{Name: "app_sessions", Table: "member_app_sessions", OrderBy: "created_at",
		Omit: []string{"token_hash", "csrf_token"}},
	// The sign-ins handed to the app by the retailer's identity provider: when; never the token's hash.
	{Name: "app_sign_in_handoffs", Table: "member_app_handoffs", OrderBy: "used_at", Omit: []string{"token_hash"}},
}

// MemberExport is everything perkflow holds on a member, as GET /v1/members/{memberId}/export answers it.
type MemberExport struct {
	ExportedAt time.Time                  `json:"exported_at"`
	Member     domain.Member              `json:"member"`
	Sections   map[string]json.RawMessage `json:"-"`
}

// MarshalJSON writes the member and each section as top-level fields.
func (e MemberExport) MarshalJSON() ([]byte, error) {
	doc := map[string]any{"exported_at": e.ExportedAt, "member": e.Member}
	for k, v := range e.Sections {
		doc[k] = v
	}
	return json.Marshal(doc)
}

// ExportMember reads everything perkflow holds on a member, in one repeatable-read transaction so that the parts
// agree. A missing member → domain.ErrNotFound.
func (s *Store) ExportMember(ctx context.Context, memberID string, at time.Time) (MemberExport, error) {
	out := MemberExport{ExportedAt: at, Sections: map[string]json.RawMessage{}}
	tx, err := s.pool.BeginTx(ctx, pgxRepeatableReadOnly)
	if err != nil {
		return out, wrap("export member", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read-only
	if out.Member, err = memberQuery(memberID).run(ctx, tx); err != nil {
		return out, err
	}
	for _, sec := range ExportSections {
		where, order := sec.Where, sec.OrderBy
		if where == "" {
			where = "member_id = $1"
		}
		if order == "" {
			order = "1"
		}
		row := "to_jsonb(t)"
		for _, c := range sec.Omit {
			row += " - '" + c + "'"
		}
		var b []byte
		// Table, column and clause names come from ExportSections, never from a request.
		q := `SELECT COALESCE(jsonb_agg(` + row + ` ORDER BY ` + order + `), '[]'::jsonb) FROM ` + sec.Table + ` t WHERE ` + where
		if err := tx.QueryRow(ctx, q, memberID).Scan(&b); err != nil {
			return out, wrap("export "+sec.Table, err)
		}
		out.Sections[sec.Name] = b
	}
	return out, nil
}

var pgxRepeatableReadOnly = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
