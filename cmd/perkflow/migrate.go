package main

import "github.com/spf13/cobra"

func init() {
	addCommand(func() *cobra.Command {
		return readsEnv(&cobra.Command{
			Use:   "migrate",
			Short: "Apply database migrations and exit",
			Long:  "Apply the database migrations that DATABASE_URL lacks, and exit (0 when the schema is current).",
			Args:  noArgs,
			RunE:  func(c *cobra.Command, _ []string) error { return runMigrate(c.Context(), nil) },
		}, "DATABASE_URL", "PERKFLOW_LOG_FORMAT", "PERKFLOW_LOG_LEVEL")
	})
}
