package devenv

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// freeAddr returns 127.0.0.1:<port> for a port the OS considers free.
func freeAddr(t *testing.T) string {
	t.Helper()
	p, err := freePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
}

// testLogger sends slog output to t.Log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func greetWorkflow(ctx workflow.Context, name string) (string, error) {
	return "hello " + name, nil
}

// counterWorkflow adds signals and updates named "add" until it reaches 10.
func counterWorkflow(ctx workflow.Context) (int, error) {
	total := 0
	// The update returns once the total reaches 10, so its result does not
	// depend on whether the signal was applied first.
	if err := workflow.SetUpdateHandler(ctx, "add", func(ctx workflow.Context, n int) (int, error) {
		total += n
		err := workflow.Await(ctx, func() bool { return total >= 10 })
		return total, err
	}); err != nil {
		return 0, err
	}
	ch := workflow.GetSignalChannel(ctx, "add")
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var n int
			ch.Receive(ctx, &n)
			total += n
		}
	})
	if err := workflow.Await(ctx, func() bool { return total >= 10 }); err != nil {
		return 0, err
	}
	return total, nil
}

func TestTemporalDevServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	const ns = "perkflow-test"
	opts := TemporalOptions{
		DataDir:      t.TempDir(),
		FrontendAddr: freeAddr(t),
		UIAddr:       freeAddr(t),
		Namespace:    ns,
		SearchAttributes: map[string]enums.IndexedValueType{
			"MemberId":  enums.INDEXED_VALUE_TYPE_KEYWORD,
			"TierLevel": enums.INDEXED_VALUE_TYPE_INT,
		},
		Logger: testLogger(t),
	}

	began := time.Now()
	srv, err := StartTemporal(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first start took %v", time.Since(began))
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = srv.Stop()
		}
	})
	if srv.FrontendAddr() != opts.FrontendAddr {
		t.Errorf("FrontendAddr() = %q, want %q", srv.FrontendAddr(), opts.FrontendAddr)
	}
	if want := "http://" + opts.UIAddr; srv.UIURL() != want {
		t.Errorf("UIURL() = %q, want %q", srv.UIURL(), want)
	}

	c := dialTest(t, srv.FrontendAddr(), ns)
	const tq = "devenv-test"
	w := worker.New(c, tq, worker.Options{})
	w.RegisterWorkflowWithOptions(greetWorkflow, workflow.RegisterOptions{Name: "Greet"})
	w.RegisterWorkflowWithOptions(counterWorkflow, workflow.RegisterOptions{Name: "Counter"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	run := checkSearchAttributeFindsWorkflow(ctx, t, c, ns, tq)
	checkSignalThenUpdateWithStart(ctx, t, c, tq)
	checkUIAnswers(t, srv.UIURL())

	w.Stop()
	c.Close()
	began = time.Now()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	t.Logf("stop took %v", time.Since(began))
	if err := srv.Stop(); err != nil { // idempotent
		t.Fatal(err)
	}
	// No SDK worker of the stopped server (nor ours) is left polling: it would
	// poll the restarted server below with the old server's state.
	if stacks := sdkWorkerGoroutines(5 * time.Second); stacks != "" {
		t.Fatalf("SDK worker goroutines left after Stop:\n%s", stacks)
	}

	// Restart on the same data dir and the same ports: the first workflow,
	// the namespace and the search attribute are still there.
	began = time.Now()
	srv2, err := StartTemporal(ctx, opts)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Logf("second start took %v", time.Since(began))
	defer func() {
		if err := srv2.Stop(); err != nil {
			t.Error(err)
		}
	}()
	c2 := dialTest(t, srv2.FrontendAddr(), ns)
	defer c2.Close()
	desc, err := c2.DescribeWorkflowExecution(ctx, "greet-1", run.GetRunID())
	if err != nil {
		t.Fatalf("workflow lost across restart: %v", err)
	}
	if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enums.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Fatalf("greet-1 status after restart = %v", st)
	}
	waitListed(ctx, t, c2, ns, `MemberId = "x"`, "greet-1")
}

// dialTest dials the Temporal frontend at addr, namespace ns, with the SDK's logs discarded.
func dialTest(t *testing.T, addr, ns string) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort:  addr,
		Namespace: ns,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkSearchAttributeFindsWorkflow runs a workflow with a typed search attribute to completion, and finds it (and
// only it) by that attribute.
func checkSearchAttributeFindsWorkflow(ctx context.Context, t *testing.T, c client.Client, ns, tq string) client.WorkflowRun {
	t.Helper()
	memberID := temporal.NewSearchAttributeKeyKeyword("MemberId")
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                    "greet-1",
		TaskQueue:             tq,
		TypedSearchAttributes: temporal.NewSearchAttributes(memberID.ValueSet("x")),
	}, "Greet", "perk")
	if err != nil {
		t.Fatal(err)
	}
	var greeting string
	if err := run.Get(ctx, &greeting); err != nil {
		t.Fatal(err)
	}
	if greeting != "hello perk" {
		t.Fatalf("workflow returned %q", greeting)
	}
	waitListed(ctx, t, c, ns, `MemberId = "x"`, "greet-1")
	if ids := listIDs(ctx, t, c, ns, `MemberId = "y"`); len(ids) != 0 {
		t.Fatalf(`ListWorkflow(MemberId = "y") = %v, want none`, ids)
	}
	return run
}

// listIDs lists the ids of the workflows a visibility query matches.
func listIDs(ctx context.Context, t *testing.T, c client.Client, ns, query string) []string {
	t.Helper()
	resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: ns, Query: query})
	if err != nil {
		t.Fatalf("ListWorkflow(%q): %v", query, err)
	}
	var ids []string
	for _, e := range resp.GetExecutions() {
		ids = append(ids, e.GetExecution().GetWorkflowId())
	}
	return ids
}

// waitListed waits until a visibility query lists exactly the workflow id (visibility may lag a little).
func waitListed(ctx context.Context, t *testing.T, c client.Client, ns, query, id string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ids := listIDs(ctx, t, c, ns, query)
		if len(ids) == 1 && ids[0] == id {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ListWorkflow(%q) = %v, want [%s]", query, ids, id)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkSignalThenUpdateWithStart: SignalWithStart, then Update-With-Start on the same workflow.
func checkSignalThenUpdateWithStart(ctx context.Context, t *testing.T, c client.Client, tq string) {
	t.Helper()
	startOpts := client.StartWorkflowOptions{
		ID:                       "counter-1",
		TaskQueue:                tq,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}
	counterRun, err := c.SignalWithStartWorkflow(ctx, "counter-1", "add", 3, startOpts, "Counter")
	if err != nil {
		t.Fatalf("SignalWithStart: %v", err)
	}
	upd, err := c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: c.NewWithStartWorkflowOperation(startOpts, "Counter"),
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateName:   "add",
			Args:         []any{7},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	if err != nil {
		t.Fatalf("UpdateWithStart: %v", err)
	}
	var afterUpdate, total int
	if err := upd.Get(ctx, &afterUpdate); err != nil {
		t.Fatalf("update result: %v", err)
	}
	if err := counterRun.Get(ctx, &total); err != nil {
		t.Fatal(err)
	}
	if afterUpdate != 10 || total != 10 {
		t.Fatalf("update returned %d and workflow %d, want 10 and 10", afterUpdate, total)
	}
}

// checkUIAnswers: the Temporal UI serves its HTML page.
func checkUIAnswers(t *testing.T, uiURL string) {
	t.Helper()
	resp, err := http.Get(uiURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/ = %d", uiURL, resp.StatusCode)
	}
	if !strings.Contains(strings.ToLower(string(body)), "<html") {
		t.Fatalf("GET %s/ did not return HTML: %.200q", uiURL, body)
	}
}

// sdkWorkerGoroutines waits up to timeout for goroutines of Temporal SDK
// workers to end and returns the stacks of those left.
func sdkWorkerGoroutines(timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	for {
		buf := make([]byte, 8<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var left []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "go.temporal.io/sdk/internal.(*baseWorker)") {
				left = append(left, g)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return strings.Join(left, "\n\n")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestCheckSearchAttributes(t *testing.T) {
	ok := map[string]enums.IndexedValueType{"MemberId": enums.INDEXED_VALUE_TYPE_KEYWORD}
	if err := checkSearchAttributes(ok); err != nil {
		t.Fatal(err)
	}
	tooMany := map[string]enums.IndexedValueType{}
	for i := range 4 {
		tooMany["Int"+strconv.Itoa(i)] = enums.INDEXED_VALUE_TYPE_INT
	}
	if err := checkSearchAttributes(tooMany); err == nil || !strings.Contains(err.Error(), "at most 3") {
		t.Fatalf("4 Int search attributes: err = %v", err)
	}
}
