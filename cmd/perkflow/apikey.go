package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/perkflow/perkflow/store"
)

func init() {
	addCommand(func() *cobra.Command {
		return group("apikey", "Create, revoke and list API keys", apiKeyCreateCommand(), apiKeyRevokeCommand(), apiKeyListCommand())
	})
}

func apiKeyCreateCommand() *cobra.Command {
	var role, name string
	c := &cobra.Command{
		Use:   "create --role ROLE --name NAME",
		Short: "Print a new API key (shown once)",
		Long: "Create an API key with a role and print it (pk_…): the only time it is shown; only its SHA-256 hash is stored.\n" +
			"The name must not be that of an active key.",
		Example: "  perkflow apikey create --role admin --name first-admin",
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			_, st, closeDB, err := production(c.Context())
			if err != nil {
				return err
			}
			defer closeDB()
			key, err := st.CreateAPIKey(c.Context(), name, role)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.OutOrStdout(), key)
			return nil
		},
	}
	c.Flags().StringVar(&role, "role", "", "the key's role: pos, marketer, support or admin (required)")
	c.Flags().StringVar(&name, "name", "", "a name for the key, unique among active keys (required)")
	_ = c.MarkFlagRequired("role")
	_ = c.MarkFlagRequired("name")
	_ = c.RegisterFlagCompletionFunc("role", cobra.FixedCompletions(store.Roles, cobra.ShellCompDirectiveNoFileComp))
	return readsEnv(c, "DATABASE_URL")
}

func apiKeyRevokeCommand() *cobra.Command {
	var name string
	c := &cobra.Command{
		Use:   "revoke --name NAME",
		Short: "Revoke the active API key of that name",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			_, st, closeDB, err := production(c.Context())
			if err != nil {
				return err
			}
			defer closeDB()
			if err := st.RevokeAPIKey(c.Context(), name); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "revoked API key %q\n", name)
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", "", "the name of the key to revoke (required)")
	_ = c.MarkFlagRequired("name")
	return readsEnv(c, "DATABASE_URL")
}

// apiKeyPage is how many keys one query of apikey list reads.
const apiKeyPage = 500

func apiKeyListCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List every API key, active and revoked, newest first (never the keys themselves)",
		Long: "List every API key, active and revoked, newest first: its name, role, prefix (pk_ and six characters, to\n" +
			"recognise it), when it was created, last used and revoked. Keys themselves are never stored, so never shown.",
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			_, st, closeDB, err := production(c.Context())
			if err != nil {
				return err
			}
			defer closeDB()
			var keys []store.APIKey
			for before := int64(0); ; {
				page, next, err := st.ListAPIKeys(c.Context(), before, apiKeyPage)
				if err != nil {
					return err
				}
				keys = append(keys, page...)
				if next == 0 {
					break
				}
				before = next
			}
			if asJSON {
				return writeAPIKeysJSON(c.OutOrStdout(), keys)
			}
			return writeAPIKeys(c.OutOrStdout(), keys)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON lines (one key per line) instead of a table")
	return readsEnv(c, "DATABASE_URL")
}

// writeAPIKeys prints keys as a table; times are UTC, "-" where there is none.
func writeAPIKeys(w io.Writer, keys []store.APIKey) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tROLE\tPREFIX\tCREATED\tLAST USED\tREVOKED")
	for _, k := range keys {
		prefix := k.Prefix
		if prefix == "" {
			prefix = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Role, prefix, k.CreatedAt.UTC().Format(time.RFC3339),
			optionalTime(k.LastUsedAt), optionalTime(k.RevokedAt))
	}
	return tw.Flush()
}

func optionalTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// apiKeyLine is a key as apikey list --json prints it: the fields of GET /v1/api-keys.
type apiKeyLine struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	Prefix     string     `json:"prefix,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	CreatedBy  string     `json:"created_by,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	RevokedBy  string     `json:"revoked_by,omitempty"`
}

func writeAPIKeysJSON(w io.Writer, keys []store.APIKey) error {
	enc := json.NewEncoder(w)
	for _, k := range keys {
		if err := enc.Encode(apiKeyLine{ID: k.ID, Name: k.Name, Role: k.Role, Prefix: k.Prefix, CreatedAt: k.CreatedAt,
			CreatedBy: k.CreatedBy, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt, RevokedBy: k.RevokedBy}); err != nil {
			return err
		}
	}
	return nil
}
