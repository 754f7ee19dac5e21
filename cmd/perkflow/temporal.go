package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/perkflow/perkflow/internal/config"
	"github.com/perkflow/perkflow/privacy"
)

// temporalClientOptions is the one place a Temporal client of perkflow is described: where it connects, how
// (TLS, mTLS, Temporal Cloud's API key), under which identity, with the SDK's metrics and tracing. Every command
// that talks to Temporal dials with it. Every payload it sends is encrypted under the payload keys (keys; nil only
// in tests of the connection itself), failures' messages too: the Temporal server holds only ciphertext.
func temporalClientOptions(cfg config.Config, log *slog.Logger, obs *observability, identity string, keys *privacy.Keyring) (client.Options, error) {
	opts := client.Options{
		HostPort:  cfg.TemporalAddress,
		Namespace: cfg.TemporalNamespace,
		Identity:  identity,
		Logger:    sdklog.NewStructuredLogger(log.With("component", "temporal-sdk")),
	}
	if keys != nil {
		opts.DataConverter = privacy.DataConverter(keys)
		opts.FailureConverter = privacy.FailureConverter(opts.DataConverter)
	}
	tlsCfg, err := temporalTLS(cfg.TemporalTLS)
	if err != nil {
		return opts, err
	}
	opts.ConnectionOptions.TLS = tlsCfg
	// The SDK gzips every request by default. The payloads are ciphertext, which does not compress, and measured
	// at 100 purchases/s gzip cost the API about 10 % and the worker about 6 % of their CPU per purchase.
	opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	if cfg.TemporalGzip {
		opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionGzip{}
	}
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

// payloadKeys reads PERKFLOW_PAYLOAD_KEYS, else (dev, create) the key `perkflow dev` keeps under the data dir,
// made when missing. Without keys nothing may talk to Temporal: payloads would reach it in clear.
func payloadKeys(cfg config.Config, create bool) (*privacy.Keyring, error) {
	spec := cfg.PayloadKeys
	if spec == "" {
		path := filepath.Join(cfg.DataDir, "payload-keys")
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			spec = strings.TrimSpace(string(b))
		case errors.Is(err, os.ErrNotExist) && create:
			if spec, err = privacy.NewKeySpec("dev1"); err != nil {
				return nil, err
			}
			if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
				return nil, err
			}
			if err := os.WriteFile(path, []byte(spec+"\n"), 0o600); err != nil {
				return nil, err
			}
		default:
			return nil, errors.New("PERKFLOW_PAYLOAD_KEYS is not set: perkflow encrypts every payload it sends to Temporal " +
				"and refuses to run without a key (e.g. PERKFLOW_PAYLOAD_KEYS=k1:$(openssl rand -base64 32); the API and the worker need the same keys; docs/privacy.md)")
		}
	}
	keys, err := privacy.ParseKeys(spec)
	if err != nil {
		return nil, fmt.Errorf("PERKFLOW_PAYLOAD_KEYS: %w", err)
	}
	return keys, nil
}

func dialTemporal(ctx context.Context, cfg config.Config, log *slog.Logger, obs *observability, identity string, keys *privacy.Keyring) (client.Client, error) {
	opts, err := temporalClientOptions(cfg, log, obs, identity, keys)
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
