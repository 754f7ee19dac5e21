package migrations_test

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/perkflow/perkflow/internal/testkit/pgtest"
)

// TestIdempotencyRecordsMoveToTheKeyThatWroteThem: migration 00011 re-keys Idempotency-Key records from a key's name
// to the id of the key that held the name when the record was written; a record of a revoked key whose name was
// given again goes to neither key's successor.
func TestIdempotencyRecordsMoveToTheKeyThatWroteThem(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	sqlDB := stdlib.OpenDBFromPool(db.Pool)
	defer sqlDB.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, os.DirFS("."), goose.WithAllowOutofOrder(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 10); err != nil {
		t.Fatal(err)
	}
	var oldID, newID, otherID int64
	for _, q := range []struct {
		sql string
		dst *int64
	}{
		{`INSERT INTO api_keys (name, role, key_hash, created_at, revoked_at) VALUES ('till', 'pos', 'a', now() - interval '3 hours', now() - interval '2 hours') RETURNING id`, &oldID},
		{`INSERT INTO api_keys (name, role, key_hash, created_at) VALUES ('till', 'admin', 'b', now() - interval '1 hour') RETURNING id`, &newID},
		{`INSERT INTO api_keys (name, role, key_hash, created_at) VALUES ('desk', 'support', 'c', now() - interval '5 hours') RETURNING id`, &otherID},
	} {
		if err := db.Pool.QueryRow(ctx, q.sql).Scan(q.dst); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Pool.Exec(ctx, `
		INSERT INTO idempotency_keys (actor, key, fingerprint, state, lease, status, created_at) VALUES
		  ('apikey:till', 'written-by-the-revoked-key', '\x00', 'done', 'l', 201, now() - interval '150 minutes'),
		  ('apikey:till', 'written-by-the-new-key', '\x00', 'done', 'l', 201, now() - interval '30 minutes'),
		  ('apikey:desk', 'desk-1', '\x00', 'done', 'l', 201, now() - interval '4 hours'),
		  ('apikey:gone', 'no-such-key', '\x00', 'done', 'l', 201, now()),
		  ('member:00000000-0000-4000-8000-000000000001', 'claim', '\x00', 'done', 'l', 201, now())`); err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 11); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Pool.Query(ctx, `SELECT actor || ' ' || key FROM idempotency_keys ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		got[s] = true
	}
	want := []string{
		"apikey:" + strconv.FormatInt(oldID, 10) + " written-by-the-revoked-key",
		"apikey:" + strconv.FormatInt(newID, 10) + " written-by-the-new-key",
		"apikey:" + strconv.FormatInt(otherID, 10) + " desk-1",
		"member:00000000-0000-4000-8000-000000000001 claim",
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("missing %q after the migration; have %v", w, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("records after the migration: %v, want %v", got, want)
	}
	// And back: the active keys' records under their names.
	if _, err := p.DownTo(ctx, 10); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM idempotency_keys WHERE actor IN ('apikey:till', 'apikey:desk')`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("after rolling back: %d records under names (%v), want 2", n, err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
}
