package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/perkflow/perkflow/internal/config"
)

// writeCert writes a self-signed certificate and its key as PEM files, returning their paths.
func writeCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "perkflow-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestTemporalClientOptionsForEachDeployment: plaintext for a local cluster, mTLS with a CA for a self-hosted one or
// Temporal Cloud, an API key over TLS for Temporal Cloud; a file that cannot be used names its variable.
func TestTemporalClientOptionsForEachDeployment(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cert, key := writeCert(t)
	base := config.Config{TemporalAddress: "ns.acct.tmprl.cloud:7233", TemporalNamespace: "ns.acct"}

	opts, err := temporalClientOptions(base, log, nil, "1@host@perkflow-api", nil)
	if err != nil || opts.ConnectionOptions.TLS != nil || opts.Credentials != nil || opts.Identity != "1@host@perkflow-api" {
		t.Fatalf("plaintext: %+v %v", opts.ConnectionOptions, err)
	}

	mtls := base
	mtls.TemporalTLS = config.TemporalTLS{Enabled: true, CertFile: cert, KeyFile: key, CAFile: cert, ServerName: "frontend"}
	opts, err = temporalClientOptions(mtls, log, nil, "id", nil)
	if err != nil {
		t.Fatal(err)
	}
	tc := opts.ConnectionOptions.TLS
	if tc == nil || len(tc.Certificates) != 1 || tc.RootCAs == nil || tc.ServerName != "frontend" || opts.Credentials != nil {
		t.Fatalf("mTLS: %+v", tc)
	}

	// Requests go uncompressed unless TEMPORAL_GRPC_COMPRESSION=gzip (the SDK's own default is gzip).
	if _, none := opts.ConnectionOptions.GrpcCompression.(*client.GrpcCompressionNone); !none {
		t.Errorf("compression by default: %T, want none", opts.ConnectionOptions.GrpcCompression)
	}
	gz := mtls
	gz.TemporalGzip = true
	if opts, err = temporalClientOptions(gz, log, nil, "id", nil); err != nil {
		t.Fatal(err)
	} else if _, gzip := opts.ConnectionOptions.GrpcCompression.(*client.GrpcCompressionGzip); !gzip {
		t.Errorf("compression with TEMPORAL_GRPC_COMPRESSION=gzip: %T", opts.ConnectionOptions.GrpcCompression)
	}

	cloud := base
	cloud.TemporalTLS = config.TemporalTLS{Enabled: true, APIKey: "key"}
	opts, err = temporalClientOptions(cloud, log, nil, "id", nil)
	if err != nil || opts.ConnectionOptions.TLS == nil || opts.ConnectionOptions.TLS.RootCAs != nil || opts.Credentials == nil {
		t.Fatalf("API key: %+v %v", opts, err)
	}

	for name, tls := range map[string]config.TemporalTLS{
		"TEMPORAL_TLS_CA":   {Enabled: true, CAFile: key},
		"TEMPORAL_TLS_CERT": {Enabled: true, CertFile: cert, KeyFile: cert},
	} {
		c := base
		c.TemporalTLS = tls
		if _, err := temporalClientOptions(c, log, nil, "id", nil); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("a bad %s: %v", name, err)
		}
	}
}
