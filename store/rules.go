package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// RulesAt returns the versions of the earning rules recorded at t (not deleted), whatever their own dates: the
// engine checks starts_at/ends_at against the purchase.
func (s *Store) RulesAt(ctx context.Context, t time.Time) ([]domain.Rule, error) {
	return rulesAt(ctx, s.pool, t)
}

type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func rulesAt(ctx context.Context, q queryer, t time.Time) ([]domain.Rule, error) {
	rows, err := q.Query(ctx, rulesAtSQL, t)
	return collectRules(rows, err)
}

// rulesAtSQL lists the rules recorded as in force at $1 (rulesAt, and an accrual's batch of reads).
const rulesAtSQL = `
		SELECT definition FROM earning_rules
		WHERE recorded_from <= $1 AND (recorded_to IS NULL OR recorded_to > $1) AND NOT deleted
		ORDER BY rule_id`

func rulesByRef(ctx context.Context, q queryer, refs []domain.RuleRef) ([]domain.Rule, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	ids := make([]string, len(refs))
	versions := make([]int64, len(refs))
	for i, r := range refs {
		ids[i], versions[i] = r.ID, r.Version
	}
	rows, err := q.Query(ctx, `
		SELECT definition FROM earning_rules r
		JOIN unnest($1::text[], $2::bigint[]) AS ref(rule_id, version) USING (rule_id, version)
		ORDER BY rule_id`, ids, versions)
	return collectRules(rows, err)
}

func collectRules(rows pgx.Rows, err error) ([]domain.Rule, error) {
	return collectDefinitions("read rules", rows, err, decodedRules.decode)
}

// collectDefinitions decodes rows of one JSON column (a rule's or a challenge's definition); op names the read in
// errors.
func collectDefinitions[T any](op string, rows pgx.Rows, err error, decode func([]byte) (T, error)) ([]T, error) {
	if err != nil {
		return nil, wrap(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) {
		var raw []byte
		if err := r.Scan(&raw); err != nil {
			var zero T
			return zero, err
		}
		return decode(raw)
	})
	return out, wrap(op, err)
}

// CurrentRules lists the rules in force now, newest version of each.
func (s *Store) CurrentRules(ctx context.Context) ([]domain.Rule, error) {
	rows, err := s.pool.Query(ctx, `SELECT definition FROM earning_rules WHERE recorded_to IS NULL AND NOT deleted ORDER BY rule_id`)
	return collectRules(rows, err)
}

// GetRule reads the current version of a rule; deleted or unknown → domain.ErrNotFound.
func (s *Store) GetRule(ctx context.Context, id string) (domain.Rule, error) {
	var raw []byte
	var r domain.Rule
	err := s.pool.QueryRow(ctx, `SELECT definition FROM earning_rules WHERE rule_id = $1 AND recorded_to IS NULL AND NOT deleted`, id).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, domain.Errorf(domain.ErrNotFound, "rule %s not found", id)
	}
	if err != nil {
		return r, wrap("get rule", err)
	}
	return r, json.Unmarshal(raw, &r)
}

// SaveRule records a new version of a rule, in force from `at` for purchases that occur from then on. create says
// whether the rule must be new (→ domain.ErrConflict when it exists) or must exist (→ domain.ErrNotFound).
// Saving the same definition again records nothing and returns the current version.
func (s *Store) SaveRule(ctx context.Context, r domain.Rule, create bool, at time.Time, actor string) (domain.Rule, error) {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var cur int64
		var raw []byte
		var deleted bool
		err := tx.QueryRow(ctx, `SELECT version, definition, deleted FROM earning_rules WHERE rule_id = $1 AND recorded_to IS NULL FOR UPDATE`, r.ID).
			Scan(&cur, &raw, &deleted)
		exists := err == nil && !deleted
		switch {
		case err != nil && !errors.Is(err, pgx.ErrNoRows):
			return err
		case create && exists:
			var prev domain.Rule
			if json.Unmarshal(raw, &prev) == nil && sameRule(prev, r) {
				r = prev // a retried create
				return nil
			}
			return domain.Errorf(domain.ErrConflict, "rule %s exists", r.ID)
		case !create && !exists:
			return domain.Errorf(domain.ErrNotFound, "rule %s not found", r.ID)
		}
		if exists {
			var prev domain.Rule
			if json.Unmarshal(raw, &prev) == nil && sameRule(prev, r) {
				r = prev
				return nil
			}
		}
		r.Version = cur + 1
		def, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if cur > 0 {
			if _, err := tx.Exec(ctx, `UPDATE earning_rules SET recorded_to = $3 WHERE rule_id = $1 AND version = $2`, r.ID, cur, at); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO earning_rules (rule_id, version, definition, recorded_from, actor) VALUES ($1, $2, $3, $4, $5)`,
			r.ID, r.Version, def, at, actor)
		return err
	})
	return r, wrap("save rule", err)
}

// DeleteRule ends a rule: purchases that occur from `at` on no longer use it.
func (s *Store) DeleteRule(ctx context.Context, id string, at time.Time, actor string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var cur int64
		var raw []byte
		var deleted bool
		err := tx.QueryRow(ctx, `SELECT version, definition, deleted FROM earning_rules WHERE rule_id = $1 AND recorded_to IS NULL FOR UPDATE`, id).
			Scan(&cur, &raw, &deleted)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && deleted) {
			return domain.Errorf(domain.ErrNotFound, "rule %s not found", id)
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE earning_rules SET recorded_to = $3 WHERE rule_id = $1 AND version = $2`, id, cur, at); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO earning_rules (rule_id, version, definition, deleted, recorded_from, actor) VALUES ($1, $2, $3, true, $4, $5)`,
			id, cur+1, raw, at, actor)
		return err
	})
	return wrap("delete rule", err)
}

func sameRule(a, b domain.Rule) bool {
	a.Version, b.Version = 0, 0
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
