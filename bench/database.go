package bench

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
)

// seedProgram installs what perkflow dev installs on a fresh database: the default program and its earning rules
// (one point per euro), effective from 2000.
func seedProgram(ctx context.Context, st *store.Store) error {
	epoch := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := st.SaveProgram(ctx, domain.DefaultProgram(), epoch, "perkflow bench"); err != nil {
		return err
	}
	for _, r := range domain.DefaultRules() {
		if _, err := st.SaveRule(ctx, r, true, epoch, "perkflow bench"); err != nil {
			return err
		}
	}
	return nil
}

// createDatabase makes a fresh database on the server of adminURL and returns its URL.
func createDatabase(ctx context.Context, adminURL, name string) (string, string, error) {
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	admin, err := pgx.Connect(cctx, adminURL)
	if err != nil {
		return "", "", fmt.Errorf("the bench makes a fresh database on the Postgres server at %s and cannot reach it "+
			"(start one, or pass --pg-admin URL with a user allowed to CREATE DATABASE): %w", redact(adminURL), err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(cctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", "", fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", "", err
	}
	u.Path = "/" + name
	return u.String(), name, nil
}

func dropDatabase(ctx context.Context, adminURL, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer admin.Close(context.Background())
	_, err = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}

// dbNameOf is the name of the database the stack uses.
func (s *stack) dbNameOf() string {
	if s.dbName != "" {
		return s.dbName
	}
	if u, err := url.Parse(s.dbURL); err == nil {
		return strings.TrimPrefix(u.Path, "/")
	}
	return ""
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparseable URL)"
	}
	return p.Redacted()
}
