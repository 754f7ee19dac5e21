package devenv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// defaultLocalDatabaseURL is where perkflow dev looks for Postgres when
// DATABASE_URL is not set.
const defaultLocalDatabaseURL = "postgres://postgres@127.0.0.1:5432/perkflow?sslmode=disable"

// PostgresOptions says where perkflow dev finds Postgres.
type PostgresOptions struct {
	DatabaseURL    string // value of DATABASE_URL (or the default local URL)
	DatabaseURLSet bool   // true when DATABASE_URL was set in the environment
	DataDir        string // throwaway cluster lives in DataDir/postgres
	Logger         *slog.Logger
}

// Postgres is the database perkflow dev uses.
type Postgres struct {
	url     string
	source  string
	cluster *pgCluster // non-nil for the throwaway cluster

	stopOnce sync.Once
	stopErr  error
}

// URL is a DSN ready for pgxpool.
func (p *Postgres) URL() string { return p.url }

// Source says in human words where the database is: "DATABASE_URL", "local
// server on 127.0.0.1:5432" or "throwaway cluster in .perkflow/postgres".
func (p *Postgres) Source() string { return p.source }

// Stop stops the throwaway cluster (whether this process started it or found
// it still running from an earlier run); it does nothing for a database
// given by DATABASE_URL or found on localhost. It is safe to call twice.
func (p *Postgres) Stop() error {
	if p == nil || p.cluster == nil {
		return nil
	}
	p.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		p.stopErr = p.cluster.stop(ctx)
	})
	return p.stopErr
}

// probeTimeout bounds the look for a server on localhost.
const probeTimeout = time.Second

// EnsurePostgres finds or starts the Postgres perkflow dev uses:
//
//  1. DATABASE_URL when set; the database named in it is created (through the
//     server's "postgres" database) when missing.
//  2. Otherwise DatabaseURL (default postgres://postgres@127.0.0.1:5432/perkflow)
//     when a server answers there within a second; the database is created
//     when missing.
//  3. Otherwise a throwaway cluster under DataDir/postgres, made with the
//     machine's initdb and pg_ctl, listening on 127.0.0.1 on a free port that
//     is remembered for the next run, trust auth, database perkflow. A cluster
//     still running from an earlier run is reused. Stop stops it.
func EnsurePostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.DatabaseURLSet {
		if strings.TrimSpace(opts.DatabaseURL) == "" {
			return nil, errors.New("devenv: DATABASE_URL is set but empty")
		}
		if err := ensureDatabase(ctx, opts.DatabaseURL); err != nil {
			return nil, fmt.Errorf("devenv: DATABASE_URL: %w", err)
		}
		return &Postgres{url: opts.DatabaseURL, source: "DATABASE_URL"}, nil
	}

	local := opts.DatabaseURL
	if local == "" {
		local = defaultLocalDatabaseURL
	}
	localCfg, err := pgx.ParseConfig(local)
	if err != nil {
		return nil, fmt.Errorf("devenv: local database URL: %w", err)
	}
	where := net.JoinHostPort(localCfg.Host, strconv.Itoa(int(localCfg.Port)))
	answered, err := probe(ctx, localCfg)
	switch {
	case answered && err == nil:
		if err := ensureDatabase(ctx, local); err != nil {
			return nil, fmt.Errorf("devenv: Postgres on %s: %w", where, err)
		}
		return &Postgres{url: local, source: "local server on " + where}, nil
	case answered:
		logger.Warn("a Postgres server answers on "+where+" but cannot be used; starting a throwaway cluster instead (set DATABASE_URL to use that server)",
			"error", err)
	}

	if opts.DataDir == "" {
		return nil, fmt.Errorf("devenv: no Postgres: DATABASE_URL is not set, nothing usable answers on %s, and no DataDir was given for a throwaway cluster", where)
	}
	c, err := startCluster(ctx, opts.DataDir, logger)
	if err != nil {
		return nil, fmt.Errorf("devenv: no Postgres: DATABASE_URL is not set and nothing usable answers on %s, so perkflow dev tried a throwaway cluster: %w", where, err)
	}
	return &Postgres{url: c.url(), source: "throwaway cluster in " + displayPath(c.dir), cluster: c}, nil
}

// probe reports whether a Postgres server answers at cfg (answered), and if it
// does, why it cannot be used (err); a missing database is fine, it gets
// created.
func probe(ctx context.Context, cfg *pgx.ConnConfig) (answered bool, err error) {
	cfg = cfg.Copy()
	cfg.ConnectTimeout = probeTimeout
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		_ = conn.Close(ctx)
		return true, nil
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false, err // nothing there (or not a Postgres server)
	}
	if pgErr.Code == "3D000" { // invalid_catalog_name: the database does not exist yet
		return true, nil
	}
	return true, err
}

// ensureDatabase makes sure the database named in dsn exists, creating it
// through the server's "postgres" maintenance database when it does not.
func ensureDatabase(ctx context.Context, dsn string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return conn.Close(ctx)
	}
	if !isPgCode(err, "3D000") {
		return err
	}
	var admin *pgx.Conn
	for _, maint := range []string{"postgres", "template1"} {
		acfg := cfg.Copy()
		acfg.Database = maint
		if admin, err = pgx.ConnectConfig(ctx, acfg); err == nil || !isPgCode(err, "3D000") {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("database %q does not exist and the maintenance database is unreachable: %w", cfg.Database, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{cfg.Database}.Sanitize()); err != nil && !isPgCode(err, "42P04") { // duplicate_database: created meanwhile
		return fmt.Errorf("create database %q: %w", cfg.Database, err)
	}
	return nil
}

func isPgCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

// displayPath shows p relative to the working directory when it is inside it.
func displayPath(p string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, p); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return rel
		}
	}
	return p
}
