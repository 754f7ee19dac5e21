package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/config"
)

func init() {
	addCommand(func() *cobra.Command { return group("token", "Mint tokens", tokenMemberCommand()) })
}

func tokenMemberCommand() *cobra.Command {
	var ttl time.Duration
	c := &cobra.Command{
		Use:   "member MEMBER_ID",
		Short: "Print a member token (JWT), valid at most PERKFLOW_MEMBER_TOKEN_MAX_TTL",
		Long: "Print a member token (an HS256 JWT signed with PERKFLOW_JWT_SECRET, or perkflow dev's secret under\n" +
			"PERKFLOW_DATA_DIR) for the member with that id.",
		Example: "  perkflow token member 0b6f6f4e-8f0c-4c1e-9a57-2f7f1e0e3c11 --ttl 1h",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("%s needs one MEMBER_ID (got %d arguments)", c.CommandPath(), len(args))
			}
			if !domain.ValidMemberID(args[0]) {
				return usagef("%q is not a member id (a UUID)", args[0])
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			if ttl < 0 {
				return usagef("--ttl %s: must not be negative", ttl)
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
			if ttl == 0 {
				ttl = cfg.MemberTokenMaxTTL
			}
			tok, err := api.MintMemberToken(jwt, args[0], ttl, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintln(c.OutOrStdout(), tok)
			return nil
		},
	}
	c.Flags().DurationVar(&ttl, "ttl", 0, "how long the token is valid (default and at most PERKFLOW_MEMBER_TOKEN_MAX_TTL)")
	return readsEnv(c, "PERKFLOW_JWT_SECRET", "PERKFLOW_DATA_DIR", "PERKFLOW_JWT_ISSUER", "PERKFLOW_JWT_AUDIENCE", "PERKFLOW_MEMBER_TOKEN_MAX_TTL")
}
