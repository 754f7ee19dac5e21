package main

import "github.com/spf13/cobra"

func init() {
	addCommand(func() *cobra.Command {
		return readsEnv(&cobra.Command{
			Use:   "worker",
			Short: "Run the Temporal worker",
			Long: "Run the Temporal worker on PERKFLOW_TASK_QUEUE, with its metrics and probes on PERKFLOW_METRICS_ADDR (ready once it\n" +
				"polls). It stops on SIGINT or SIGTERM.",
			Args: noArgs,
			RunE: func(c *cobra.Command, _ []string) error { return runWorker(c.Context(), nil) },
		}, allEnv)
	})
}
