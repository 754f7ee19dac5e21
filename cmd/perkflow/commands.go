package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/config"
	"github.com/perkflow/perkflow/internal/version"
	"github.com/perkflow/perkflow/store"
)

func runVersion() error {
	fmt.Println("perkflow", version.Version)
	return nil
}

// production loads configuration and connects to Postgres, for the commands that run against a real deployment.
func production(ctx context.Context) (config.Config, *store.Store, func(), error) {
	cfg, err := config.FromEnv()
	if err != nil {
		return cfg, nil, nil, err
	}
	pool, err := openPool(ctx, cfg.DatabaseURL)
	if err != nil {
		return cfg, nil, nil, err
	}
	return cfg, store.New(pool), pool.Close, nil
}

// withTemporal is production plus the logger and a Temporal client, for the commands that drive workflows; closeAll
// releases both connections.
func withTemporal(ctx context.Context) (cfg config.Config, st *store.Store, log *slog.Logger, tc client.Client, closeAll func(), err error) {
	cfg, st, closeDB, err := production(ctx)
	if err != nil {
		return cfg, nil, nil, nil, nil, err
	}
	log = newLogger(cfg)
	if tc, err = dialTemporal(ctx, cfg, log); err != nil {
		closeDB()
		return cfg, nil, nil, nil, nil, err
	}
	return cfg, st, log, tc, func() { tc.Close(); closeDB() }, nil
}

func runAPI(ctx context.Context, args []string) error {
	if len(args) != 0 {
		return errUsage
	}
	cfg, st, log, tc, closeAll, err := withTemporal(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	jwt, err := jwtConfig(cfg, false)
	if err != nil {
		return err
	}
	if len(jwt.Secret) == 0 && jwt.JWKSURL == "" {
		log.Warn("neither PERKFLOW_JWT_SECRET nor PERKFLOW_JWKS_URL is set: member tokens are refused")
	}
	ids, err := idSecret(cfg, false)
	if err != nil {
		return err
	}
	if st, err = withCoupons(ctx, cfg, st, log, false); err != nil {
		return err
	}
	ln, err := listenAPI(cfg)
	if err != nil {
		return err
	}
	return serveAPI(ctx, cfg, log, st, tc, jwt, ids, ln)
}

func runWorker(ctx context.Context, args []string) error {
	if len(args) != 0 {
		return errUsage
	}
	cfg, st, log, tc, closeAll, err := withTemporal(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	if st, err = withCoupons(ctx, cfg, st, log, false); err != nil {
		return err
	}
	w, err := startWorker(ctx, cfg, log, st, tc)
	if err != nil {
		return err
	}
	<-ctx.Done()
	w.Stop()
	return nil
}

func runMigrate(ctx context.Context, args []string) error {
	if len(args) != 0 {
		return errUsage
	}
	cfg, st, closeDB, err := production(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	return migrate(ctx, st.Pool(), newLogger(cfg))
}

func runAPIKey(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errUsage
	}
	fs := flag.NewFlagSet("apikey "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	role := fs.String("role", "", "pos, marketer, support or admin")
	name := fs.String("name", "", "a name for the key")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 0 || *name == "" {
		return errUsage
	}
	_, st, closeDB, err := production(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	switch args[0] {
	case "create":
		if *role == "" {
			return errUsage
		}
		key, err := st.CreateAPIKey(ctx, *name, *role)
		if err != nil {
			return err
		}
		fmt.Println(key)
		return nil
	case "revoke":
		if err := st.RevokeAPIKey(ctx, *name); err != nil {
			return err
		}
		fmt.Printf("revoked API key %q\n", *name)
		return nil
	}
	return errUsage
}

func runToken(_ context.Context, args []string) error {
	if len(args) < 2 || args[0] != "member" {
		return errUsage
	}
	memberID := args[1]
	if !domain.ValidMemberID(memberID) {
		return fmt.Errorf("%q is not a member id (a UUID)", memberID)
	}
	fs := flag.NewFlagSet("token member", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	ttl := fs.Duration("ttl", 0, "how long the token is valid (default and at most PERKFLOW_MEMBER_TOKEN_MAX_TTL)")
	if err := fs.Parse(args[2:]); err != nil || fs.NArg() != 0 || *ttl < 0 {
		return errUsage
	}
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	jwt, err := jwtConfig(cfg, false)
	if err != nil {
		return err
	}
	if len(jwt.Secret) == 0 {
		return errors.New("no signing secret: set PERKFLOW_JWT_SECRET, or run perkflow dev once to create " + cfg.DataDir + "/jwt-secret")
	}
	if *ttl == 0 {
		*ttl = cfg.MemberTokenMaxTTL
	}
	tok, err := api.MintMemberToken(jwt, memberID, *ttl, time.Now())
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}
