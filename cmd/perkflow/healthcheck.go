package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/perkflow/perkflow/internal/config"
)

func init() {
	addCommand(func() *cobra.Command {
		var live bool
		var timeout time.Duration
		c := &cobra.Command{
			Use:   "healthcheck api|worker",
			Short: "Ask the api or worker beside it whether it is ready (or, --live, up): exit 0 or 1",
			Long: "Ask the perkflow api or worker running beside it (same container, same environment) whether it is ready\n" +
				"(GET /readyz) or, with --live, up (GET /healthz); exit 0 when it answers 200, 1 otherwise. The api answers on\n" +
				"PERKFLOW_HTTP_ADDR, the worker on PERKFLOW_METRICS_ADDR. For images without a shell (compose, the Helm chart).",
			ValidArgs: []string{"api", "worker"},
			Args: func(c *cobra.Command, args []string) error {
				if len(args) != 1 || (args[0] != "api" && args[0] != "worker") {
					return usagef("%s needs api or worker (got %q)", c.CommandPath(), args)
				}
				return nil
			},
			RunE: func(c *cobra.Command, args []string) error {
				if timeout <= 0 {
					return usagef("--timeout %s: must be positive", timeout)
				}
				return runHealthcheck(c.Context(), c.OutOrStdout(), args[0], live, timeout)
			},
		}
		c.Flags().BoolVar(&live, "live", false, "check that the process is up (/healthz) rather than ready (/readyz)")
		c.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "how long to wait for the answer")
		return readsEnv(c, "PERKFLOW_HTTP_ADDR", "PERKFLOW_METRICS_ADDR")
	})
}

// runHealthcheck asks the process of that role (api or worker) running beside it (same container, same
// environment) whether it is ready (GET /readyz) or, live, up (GET /healthz), and fails unless it answers 200. The
// runtime image is distroless — no shell, no curl — so this is what compose's healthchecks and the chart's probes
// run. The API answers on PERKFLOW_HTTP_ADDR, the worker on PERKFLOW_METRICS_ADDR; a wildcard host is asked on the
// loopback address.
func runHealthcheck(ctx context.Context, out io.Writer, role string, live bool, timeout time.Duration) error {
	name := "PERKFLOW_HTTP_ADDR"
	if role == "worker" {
		name = "PERKFLOW_METRICS_ADDR"
	}
	addr := config.Lookup(name)
	if addr == config.MetricsOff {
		return fmt.Errorf("%s=off: the worker serves no probe", name)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s=%q: %w", name, addr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	path := "/readyz"
	if live {
		path = "/healthz"
	}
	url := "http://" + net.JoinHostPort(host, port) + path
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", url, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck %s: %d %s", url, res.StatusCode, body)
	}
	fmt.Fprintf(out, "%s %s: %s", role, path, body)
	return nil
}
