package main

import "github.com/spf13/cobra"

func init() {
	addCommand(func() *cobra.Command {
		return readsEnv(&cobra.Command{
			Use:   "api",
			Short: "Run the HTTP API against TEMPORAL_ADDRESS and DATABASE_URL",
			Long: "Run the HTTP API (and the console) on PERKFLOW_HTTP_ADDR, its metrics and probes on PERKFLOW_METRICS_ADDR,\n" +
				"against the Temporal frontend at TEMPORAL_ADDRESS and the database at DATABASE_URL. It stops on SIGINT or SIGTERM.",
			Args: noArgs,
			RunE: func(c *cobra.Command, _ []string) error { return runAPI(c.Context(), nil) },
		}, allEnv)
	})
}
