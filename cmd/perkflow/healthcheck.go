package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/perkflow/perkflow/internal/config"
)

// runHealthcheck is `perkflow healthcheck api|worker [--live]`: it asks the process running beside it (same
// container, same environment) whether it is ready (GET /readyz) or, with --live, up (GET /healthz), and exits 0
// when it answers 200, 1 otherwise. The runtime image is distroless — no shell, no curl — so this is what compose's
// healthchecks and the chart's probes run. The API answers on PERKFLOW_HTTP_ADDR, the worker on
// PERKFLOW_METRICS_ADDR; a wildcard host is asked on the loopback address.
func runHealthcheck(ctx context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "api" && args[0] != "worker") {
		return errUsage
	}
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	live := fs.Bool("live", false, "check that the process is up (/healthz) rather than ready (/readyz)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 0 || *timeout <= 0 {
		return errUsage
	}
	name := "PERKFLOW_HTTP_ADDR"
	if args[0] == "worker" {
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
	if *live {
		path = "/healthz"
	}
	url := "http://" + net.JoinHostPort(host, port) + path
	ctx, cancel := context.WithTimeout(ctx, *timeout)
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
	fmt.Printf("%s %s: %s", args[0], path, body)
	return nil
}
