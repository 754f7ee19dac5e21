package devenv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/common/searchattribute/sadefs"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// TemporalOptions configures the embedded Temporal server.
type TemporalOptions struct {
	DataDir          string                            // SQLite database file(s) kept here (DataDir/temporal.db) so workflows survive a restart
	FrontendAddr     string                            // host:port for the gRPC frontend, e.g. "127.0.0.1:7233"
	UIAddr           string                            // host:port for the Temporal UI, e.g. "127.0.0.1:8233"; "" disables the UI
	Namespace        string                            // created on start if missing (idempotent); "" means "default"
	SearchAttributes map[string]enums.IndexedValueType // custom search attributes registered on start, idempotently, in Namespace
	Logger           *slog.Logger                      // server logs go here at warn level and above; nil = discard
	// CodecEndpoint is the remote payload codec the UI decodes payloads through (it calls CodecEndpoint+"/decode");
	// "" shows payloads as the server holds them.
	CodecEndpoint string
}

// Temporal is a running embedded Temporal server (and, optionally, its UI).
type Temporal struct {
	server       temporal.Server
	ui           *uiserver.Server
	frontendAddr string // where clients dial
	bindAddr     string // what the frontend listens on
	uiAddr       string
	uiURL        string
	logger       *slog.Logger
	stopping     *atomic.Bool // silences the server's logs once Stop begins

	stopOnce sync.Once
	stopErr  error
}

// temporalDBFile is the SQLite file StartTemporal keeps in DataDir.
const temporalDBFile = "temporal.db"

// How long StartTemporal waits for the server, the namespace, the search
// attributes and the UI when the caller's context has no deadline.
const temporalStartTimeout = 2 * time.Minute

// StartTemporal starts an in-process Temporal server (all four services, SQLite
// persistence in DataDir) and, unless UIAddr is empty, the Temporal UI. It
// returns once the frontend answers and the namespace and search attributes
// exist. The caller must call Stop.
func StartTemporal(ctx context.Context, opts TemporalOptions) (*Temporal, error) {
	if opts.DataDir == "" {
		return nil, errors.New("devenv: TemporalOptions.DataDir is required")
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	feHost, fePort, err := splitAddr("Temporal frontend address", opts.FrontendAddr)
	if err != nil {
		return nil, err
	}
	bindAddr := net.JoinHostPort(feHost, strconv.Itoa(fePort))
	// Clients (and the other services) reach a wildcard bind over loopback.
	frontendAddr := net.JoinHostPort(reachableHost(feHost), strconv.Itoa(fePort))
	var uiHost string
	var uiPort int
	if opts.UIAddr != "" {
		if uiHost, uiPort, err = splitAddr("Temporal UI address", opts.UIAddr); err != nil {
			return nil, err
		}
	}
	if err := checkSearchAttributes(opts.SearchAttributes); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, temporalStartTimeout)
		defer cancel()
	}

	// Fail early and clearly on busy ports: the server would otherwise fail
	// deep inside its start-up, and the UI server exits the process.
	if err := portFree(bindAddr); err != nil {
		return nil, fmt.Errorf("devenv: Temporal frontend address %s is not available (is another Temporal server running?): %w", bindAddr, err)
	}
	uiAddr := ""
	if opts.UIAddr != "" {
		uiAddr = net.JoinHostPort(uiHost, strconv.Itoa(uiPort))
		if err := portFree(uiAddr); err != nil {
			return nil, fmt.Errorf("devenv: Temporal UI address %s is not available: %w", uiAddr, err)
		}
	}

	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("devenv: Temporal data dir: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("devenv: create Temporal data dir: %w", err)
	}
	sqlConf, err := prepareSQLite(filepath.Join(dataDir, temporalDBFile))
	if err != nil {
		return nil, err
	}

	stopping := new(atomic.Bool)
	serverOpts, err := buildServerOptions(feHost, fePort, sqlConf, newServerLogger(opts.Logger, stopping))
	if err != nil {
		return nil, err
	}
	srv, err := temporal.NewServer(serverOpts...)
	if err != nil {
		return nil, fmt.Errorf("devenv: create Temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		_ = srv.Stop()
		return nil, fmt.Errorf("devenv: start Temporal server: %w", err)
	}
	t := &Temporal{server: srv, frontendAddr: frontendAddr, bindAddr: bindAddr, uiAddr: uiAddr, logger: opts.Logger, stopping: stopping}

	if err := t.setUp(ctx, opts); err != nil {
		_ = t.Stop()
		return nil, err
	}
	if uiAddr != "" {
		if err := t.startUI(ctx, uiHost, uiPort, opts.Namespace, opts.CodecEndpoint); err != nil {
			_ = t.Stop()
			return nil, err
		}
	}
	return t, nil
}

// FrontendAddr is the host:port of the gRPC frontend, for client.Dial.
func (t *Temporal) FrontendAddr() string { return t.frontendAddr }

// UIURL is the Temporal UI's address ("http://127.0.0.1:8233"), or "" when the
// UI is disabled.
func (t *Temporal) UIURL() string { return t.uiURL }

// Stop shuts down the UI and the server and waits until their ports are free
// again, so that a new StartTemporal can bind them. It is safe to call twice.
func (t *Temporal) Stop() error {
	t.stopOnce.Do(func() {
		// The server warns and errs about every connection it loses while
		// shutting down ("context canceled"); that is noise.
		t.stopping.Store(true)
		if t.ui != nil {
			t.ui.Stop()
		}
		var errs []error
		if err := t.server.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop Temporal server: %w", err))
		}
		ctx := context.Background()
		if err := waitPortFree(ctx, t.bindAddr, 10*time.Second); err != nil {
			errs = append(errs, err)
		}
		if t.ui != nil {
			if err := waitPortFree(ctx, t.uiAddr, 10*time.Second); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			t.stopErr = fmt.Errorf("devenv: %w", errors.Join(errs...))
		}
	})
	return t.stopErr
}

// prepareSQLite returns the SQLite persistence config for file, creating the
// schema when the file does not exist yet.
func prepareSQLite(file string) (*config.SQL, error) {
	conf := &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: file,
		// A write-ahead log, and commits that do not wait for the disk (synchronous=NORMAL): the log is made durable at
		// each checkpoint, so a crash of perkflow dev loses nothing, and a power cut loses at most the last
		// transactions of a development machine. With the default rollback journal and synchronous=FULL every
		// Temporal write waited for several fsyncs, and the dev server topped out at a few dozen purchases a second
		// (BENCHMARKS.md).
		ConnectAttributes: map[string]string{"mode": "rwc", "journal_mode": "wal", "synchronous": "NORMAL"},
	}
	if _, err := os.Stat(file); err == nil {
		return conf, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("devenv: Temporal database: %w", err)
	}
	if err := sqliteschema.SetupSchema(conf); err != nil {
		// Do not leave a half-initialised file behind: the next start would
		// take it for a working database.
		for _, f := range []string{file, file + "-wal", file + "-shm"} {
			_ = os.Remove(f)
		}
		return nil, fmt.Errorf("devenv: create Temporal schema in %s: %w", file, err)
	}
	return conf, nil
}

// devDynamicConfig is the dynamic config of the dev server, after the Temporal
// CLI's "temporal server start-dev".
func devDynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		// New search attributes are visible at once instead of after the
		// cache refresh (eventual consistency is pointless in dev).
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
		dynamicconfig.ForceNexusEndpointRefreshOnRead.Key():         true,
		// ...which costs persistence reads, so raise the QPS limits the way
		// the CLI does.
		dynamicconfig.FrontendPersistenceMaxQPS.Key(): 10000,
		dynamicconfig.HistoryPersistenceMaxQPS.Key():  45000,
		// Smaller mutable state cache, more visibility RPS (CLI values).
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key():                 8096,
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
		// Workflow Update and Update-With-Start (both already default to on
		// in v1.32; pinned so a server upgrade cannot silently turn them off).
		dynamicconfig.FrontendEnableUpdateWorkflowExecution.Key():              true,
		dynamicconfig.FrontendEnableUpdateWorkflowExecutionAsyncAccepted.Key(): true,
		dynamicconfig.EnableEagerWorkflowStart.Key():                           true,
		// Server v1.32 never stops the SDK workers of the task queue and
		// history scanners or of the parent-close-policy processor ("TODO:
		// Nothing is gracefully stopping these workers" in
		// service/worker/scanner): after Stop their pollers live on and, on a
		// restart on the same address, poll the new server with the old
		// server's dependencies. A dev database does not need the scavengers,
		// and with the processor off, history applies parent close policies
		// itself.
		dynamicconfig.TaskQueueScannerEnabled.Key():       false,
		dynamicconfig.HistoryScannerEnabled.Key():         false,
		dynamicconfig.EnableParentClosePolicyWorker.Key(): false,
		// Signals buffered while a workflow task is open (a member's purchases arriving while its task accrues a
		// batch in a local activity): past 100 (the default) the server fails the task, and a member whose purchases
		// stream in faster than it replays its history never gets a task through until the stream stops
		// (BENCHMARKS.md, history bound). 1,000 purchases are about 500 KB; the 2 MiB bound on their bytes stays.
		dynamicconfig.MaximumBufferedEventsBatch.Key(): 1000,
	}
}

func buildServerOptions(feHost string, fePort int, sqlConf *config.SQL, slogger log.Logger) ([]temporal.ServerOption, error) {
	const loopback = "127.0.0.1"
	httpPort, err := freePort(feHost)
	if err != nil {
		return nil, err
	}
	internalPorts := make([]int, 3)
	for i := range internalPorts {
		if internalPorts[i], err = freePort(loopback); err != nil {
			return nil, err
		}
	}
	feReach := reachableHost(feHost)
	feAddr := net.JoinHostPort(feReach, strconv.Itoa(fePort))
	hostPort := func(p int) string { return net.JoinHostPort(loopback, strconv.Itoa(p)) }

	var conf config.Config
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = loopback
	conf.Persistence.DefaultStore = "sqlite-default"
	conf.Persistence.VisibilityStore = "sqlite-default"
	conf.Persistence.NumHistoryShards = 1
	conf.Persistence.DataStores = map[string]config.DataStore{"sqlite-default": {SQL: sqlConf}}
	const clusterName = "active"
	conf.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             feAddr,
				HTTPAddress:            net.JoinHostPort(feReach, strconv.Itoa(httpPort)),
				// Used only when the database is new; afterwards the stored
				// cluster metadata wins.
				ClusterID: uuid.NewString(),
			},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Services = map[string]config.Service{
		"frontend": {RPC: config.RPC{GRPCPort: fePort, BindOnIP: feHost, HTTPPort: httpPort}},
		"history":  {RPC: config.RPC{GRPCPort: internalPorts[0], BindOnIP: loopback}},
		"matching": {RPC: config.RPC{GRPCPort: internalPorts[1], BindOnIP: loopback}},
		"worker":   {RPC: config.RPC{GRPCPort: internalPorts[2], BindOnIP: loopback}},
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	conf.PublicClient.HostPort = feAddr

	authorizer, err := authorization.GetAuthorizerFromConfig(&conf.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("devenv: Temporal authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&conf.Global.Authorization, slogger)
	if err != nil {
		return nil, fmt.Errorf("devenv: Temporal claim mapper: %w", err)
	}
	return []temporal.ServerOption{
		temporal.WithConfig(&conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(map[primitives.ServiceName]static.Hosts{
			primitives.FrontendService: static.SingleLocalHost(feAddr),
			primitives.HistoryService:  static.SingleLocalHost(hostPort(internalPorts[0])),
			primitives.MatchingService: static.SingleLocalHost(hostPort(internalPorts[1])),
			primitives.WorkerService:   static.SingleLocalHost(hostPort(internalPorts[2])),
		}),
		temporal.WithLogger(slogger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(devDynamicConfig()),
	}, nil
}

// checkSearchAttributes rejects more custom search attributes of one type
// than SQLite visibility has pre-allocated columns for (e.g. 10 Keyword,
// 3 Int), with a clearer message than the server's.
func checkSearchAttributes(sas map[string]enums.IndexedValueType) error {
	capacity := map[enums.IndexedValueType]int{}
	for _, typ := range sadefs.GetDBIndexSearchAttributes(nil).CustomSearchAttributes {
		capacity[typ]++
	}
	want := map[enums.IndexedValueType][]string{}
	for name, typ := range sas {
		if name == "" {
			return errors.New("devenv: empty search attribute name")
		}
		if typ == enums.INDEXED_VALUE_TYPE_UNSPECIFIED {
			return fmt.Errorf("devenv: search attribute %q has no type", name)
		}
		want[typ] = append(want[typ], name)
	}
	for typ, names := range want {
		if len(names) > capacity[typ] {
			sort.Strings(names)
			return fmt.Errorf("devenv: the dev server's SQLite visibility store holds at most %d custom search attributes of type %s, got %d: %v",
				capacity[typ], typ, len(names), names)
		}
	}
	return nil
}

// setUp waits for the frontend, then makes sure the namespace and the search
// attributes exist.
func (t *Temporal) setUp(ctx context.Context, opts TemporalOptions) error {
	conn, err := grpc.NewClient(t.frontendAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("devenv: connect to Temporal frontend: %w", err)
	}
	defer conn.Close()
	wf := workflowservice.NewWorkflowServiceClient(conn)
	op := operatorservice.NewOperatorServiceClient(conn)
	ns := opts.Namespace

	err = retry(ctx, func(ctx context.Context) error {
		_, err := wf.DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
		if status.Code(err) != codes.NotFound {
			return err
		}
		_, err = wf.RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace:                        ns,
			Description:                      "created by perkflow dev",
			WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
		})
		if status.Code(err) == codes.AlreadyExists {
			err = nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("devenv: create Temporal namespace %q: %w", ns, err)
	}
	if len(opts.SearchAttributes) == 0 {
		return nil
	}
	err = retry(ctx, func(ctx context.Context) error {
		resp, err := op.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
		if err != nil {
			return err
		}
		missing := map[string]enums.IndexedValueType{}
		for name, typ := range opts.SearchAttributes {
			have, ok := resp.GetCustomAttributes()[name]
			if !ok {
				if sys, isSys := resp.GetSystemAttributes()[name]; isSys {
					return permanent(fmt.Errorf("%q is a system search attribute (type %s)", name, sys))
				}
				missing[name] = typ
			} else if have != typ {
				return permanent(fmt.Errorf("search attribute %q already exists in namespace %q with type %s, want %s", name, ns, have, typ))
			}
		}
		if len(missing) == 0 {
			return nil
		}
		_, err = op.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace:        ns,
			SearchAttributes: missing,
		})
		if err == nil || status.Code(err) == codes.AlreadyExists {
			err = errors.New("search attributes added, not listed yet")
		}
		return err // list again to confirm
	})
	if err != nil {
		return fmt.Errorf("devenv: register Temporal search attributes: %w", err)
	}
	return nil
}

func (t *Temporal) startUI(ctx context.Context, host string, port int, namespace, codec string) error {
	urlHost := reachableHost(host)
	ui := uiserver.NewServer(uioptions.WithConfigProvider(&uiconfig.Config{
		Host:                host,
		Port:                port,
		TemporalGRPCAddress: t.frontendAddr,
		EnableUI:            true,
		DefaultNamespace:    namespace,
		CORS:                uiconfig.CORS{CookieInsecure: true},
		HideLogs:            true,
		Codec: uiconfig.Codec{Endpoint: codec,
			DefaultErrorMessage: "perkflow's codec endpoint did not decode these payloads (is perkflow dev still running?)"},
	}))
	// ui.Start blocks, and on a listen error it calls echo's Logger.Fatal,
	// which exits the process; the port was checked just before.
	if err := portFree(t.uiAddr); err != nil {
		return fmt.Errorf("devenv: Temporal UI address %s is not available: %w", t.uiAddr, err)
	}
	go func() {
		if err := ui.Start(); err != nil && t.logger != nil {
			t.logger.Error("Temporal UI stopped", "error", err)
		}
	}()
	t.ui = ui
	t.uiURL = "http://" + net.JoinHostPort(urlHost, strconv.Itoa(port))

	// Wait until it serves, so Stop can never race with the listener being set up.
	client := &http.Client{Timeout: 2 * time.Second}
	err := retry(ctx, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.uiURL+"/", nil)
		if err != nil {
			return permanent(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	if err != nil {
		return fmt.Errorf("devenv: Temporal UI on %s did not come up: %w", t.uiURL, err)
	}
	return nil
}

type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

func permanent(err error) error { return permanentError{err} }

// retry calls f until it returns nil, a permanent error, an InvalidArgument /
// PermissionDenied / FailedPrecondition gRPC error, or ctx is done.
func retry(ctx context.Context, f func(context.Context) error) error {
	delay := 50 * time.Millisecond
	for {
		callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := f(callCtx)
		cancel()
		if err == nil {
			return nil
		}
		var p permanentError
		if errors.As(err, &p) {
			return p.err
		}
		switch status.Code(err) {
		case codes.InvalidArgument, codes.PermissionDenied, codes.FailedPrecondition, codes.Unauthenticated:
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(delay):
		}
		if delay < time.Second {
			delay *= 2
		}
	}
}
