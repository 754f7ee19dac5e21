// Package pgtest gives each test package a fresh, migrated Postgres database of its own, dropped when the tests end.
// It needs a real server: PERKFLOW_TEST_DATABASE_URL, or postgres://postgres@127.0.0.1:5432/postgres by default.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/perkflow/perkflow/migrations"
)

// AdminURL is the server tests create their databases on.
func AdminURL() string {
	if u := os.Getenv("PERKFLOW_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// DB is a throwaway database.
type DB struct {
	Name string
	URL  string
	Pool *pgxpool.Pool
}

// New creates a fresh database, applies the migrations and registers its removal with t.Cleanup.
func New(tb testing.TB) *DB {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := Create(ctx)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Drop(context.Background()); err != nil {
			tb.Errorf("pgtest: %v", err)
		}
	})
	return db
}

// Create makes a fresh migrated database; the caller drops it.
func Create(ctx context.Context) (*DB, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "perkflow_test_" + hex.EncodeToString(b[:])
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		return nil, fmt.Errorf("connect to test server (set PERKFLOW_TEST_DATABASE_URL): %w", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(AdminURL())
	if err != nil {
		return nil, err
	}
	u.Path = "/" + name
	cfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = 20
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	db := &DB{Name: name, URL: u.String(), Pool: pool}
	if err := migrations.Up(ctx, pool, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		_ = db.Drop(ctx)
		return nil, err
	}
	return db, nil
}

// Drop closes the pool and removes the database.
func (d *DB) Drop(ctx context.Context) error {
	d.Pool.Close()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	_, err = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{d.Name}.Sanitize()+" WITH (FORCE)")
	return err
}
