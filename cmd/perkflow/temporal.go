package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/perkflow/perkflow/internal/config"
)

// temporalClientOptions is the one place a Temporal client of perkflow is described: where it connects, how
// (TLS, mTLS, Temporal Cloud's API key), under which identity, with the SDK's metrics and tracing. Every command
// that talks to Temporal dials with it.
func temporalClientOptions(cfg config.Config, log *slog.Logger, obs *observability, identity string) (client.Options, error) {
	opts := client.Options{
		HostPort:  cfg.TemporalAddress,
		Namespace: cfg.TemporalNamespace,
		Identity:  identity,
		Logger:    sdklog.NewStructuredLogger(log.With("component", "temporal-sdk")),
	}
	tlsCfg, err := temporalTLS(cfg.TemporalTLS)
	if err != nil {
		return opts, err
	}
	opts.ConnectionOptions.TLS = tlsCfg
	if key := cfg.TemporalTLS.APIKey; key != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(key)
	}
	if obs != nil {
		opts.MetricsHandler = obs.sdk
		if opts.Interceptors, err = obs.tracing.TemporalInterceptors(); err != nil {
			return opts, err
		}
	}
	return opts, nil
}

// temporalTLS is the client's TLS configuration: nil (plaintext) unless TLS is on; the system's roots unless
// TEMPORAL_TLS_CA names a bundle; a client certificate for mTLS when TEMPORAL_TLS_CERT and _KEY are set.
func temporalTLS(t config.TemporalTLS) (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("TEMPORAL_TLS_CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("TEMPORAL_TLS_CA: no PEM certificate in " + t.CAFile)
		}
		c.RootCAs = pool
	}
	return c, nil
}

// processIdentity names this process to Temporal (the pollers of a task queue, who sent a signal): the SDK's
// default form, pid@host, with the role. Worker readiness looks for it among the task queue's pollers.
func processIdentity(role string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%d@%s@perkflow-%s", os.Getpid(), host, role)
}

func dialTemporal(ctx context.Context, cfg config.Config, log *slog.Logger, obs *observability, identity string) (client.Client, error) {
	opts, err := temporalClientOptions(cfg, log, obs, identity)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, err := client.DialContext(dctx, opts)
	if err != nil {
		return nil, fmt.Errorf("cannot reach Temporal at %s (namespace %s): %w", cfg.TemporalAddress, cfg.TemporalNamespace, err)
	}
	return c, nil
}
