//go:build !nodev

package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/perkflow/perkflow/internal/testkit"
	"github.com/perkflow/perkflow/internal/testkit/pgtest"
)

// These tests run the real binary as a newcomer would (`perkflow dev`), drive it over HTTP, stop it with SIGINT and
// start it again on the same state.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "perkflow-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "perkflow")
	// PERKFLOW_TEST_BINARY runs the tests against a perkflow built already (make chaos builds one without -race).
	if prebuilt := os.Getenv("PERKFLOW_TEST_BINARY"); prebuilt != "" {
		binary = prebuilt
	} else {
		build := exec.Command("go", "build", "-race", "-o", binary, ".")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build perkflow:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// devProcess is a running `perkflow dev`.
type devProcess struct {
	cmd  *exec.Cmd
	keys map[string]string
	out  *testkit.SyncBuffer
	done chan error
}

var keyLine = regexp.MustCompile(`^\s+(pos|marketer|support|admin)\s+(pk_\S+)$`)

func startDev(t *testing.T, env []string) *devProcess {
	t.Helper()
	cmd := exec.Command(binary, "dev")
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &devProcess{cmd: cmd, keys: map[string]string{}, out: &testkit.SyncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.out, line)
			if m := keyLine.FindStringSubmatch(line); m != nil {
				p.keys[m[1]] = m[2]
				if len(p.keys) == 4 && !signalled {
					signalled = true
					close(ready)
				}
			}
		}
	}()
	go func() { p.done <- cmd.Wait() }()
	select {
	case <-ready:
	case err := <-p.done:
		t.Fatalf("perkflow dev exited early (%v):\n%s", err, p.out)
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("perkflow dev not ready after 3 minutes:\n%s", p.out)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// stop sends SIGINT (Ctrl-C) and expects a clean exit.
func (p *devProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("perkflow dev did not exit cleanly on SIGINT: %v\n%s", err, p.out)
		}
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		t.Fatalf("perkflow dev still running a minute after SIGINT:\n%s", p.out)
	}
}

func call(t *testing.T, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var v map[string]any
	_ = json.NewDecoder(res.Body).Decode(&v)
	return res.StatusCode, v
}

// checkOperations: the process's own listener serves the metrics (the points just earned, the points outstanding,
// the Temporal SDK's figures), and `perkflow healthcheck` finds the API and the worker ready, as compose and the
// chart ask it.
func checkOperations(t *testing.T, env []string, ops string) {
	t.Helper()
	res, err := http.Get("http://" + ops + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{`perkflow_points_issued_total{kind="accrual"} 25`, "perkflow_points_outstanding 25",
		"perkflow_http_requests_total{", "temporal_workflow_task_execution_latency_seconds_bucket{", "perkflow_pgxpool_total_conns "} {
		if !strings.Contains(string(body), want) {
			t.Errorf("GET /metrics lacks %q", want)
		}
	}
	for _, role := range []string{"api", "worker"} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			cmd := exec.Command(binary, "healthcheck", role)
			cmd.Env = append(os.Environ(), env...)
			out, err := cmd.CombinedOutput()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("perkflow healthcheck %s: %v\n%s", role, err, out)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	cmd := exec.Command(binary, "healthcheck", "api", "--no-such-flag")
	if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() != 2 {
		t.Errorf("healthcheck with a bad flag: %v, want exit code 2", err)
	}
}

func TestDevModeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test of the binary")
	}
	db := pgtest.New(t)
	api, ui, ops := freeAddr(t), freeAddr(t), freeAddr(t)
	env := []string{
		"DATABASE_URL=" + db.URL,
		"TEMPORAL_ADDRESS=" + freeAddr(t),
		"PERKFLOW_HTTP_ADDR=" + api,
		"PERKFLOW_UI_ADDR=" + ui,
		"PERKFLOW_METRICS_ADDR=" + ops,
		"PERKFLOW_DATA_DIR=" + t.TempDir(),
		"PERKFLOW_JWT_SECRET=",
	}
	base := "http://" + api
	p := startDev(t, env)

	if st, v := call(t, "GET", base+"/readyz", "", nil); st != 200 {
		t.Fatalf("readyz %d %v", st, v)
	}
	if res, err := http.Get("http://" + ui + "/"); err != nil || res.StatusCode != 200 {
		t.Fatalf("Temporal UI: %v %v", res, err)
	}
	// The console is served beside the API, its address printed with the keys; the demo catalog is there.
	if !strings.Contains(p.out.String(), "Console      "+base+"/console/") {
		t.Fatalf("the banner does not give the console's address:\n%s", p.out)
	}
	if res, err := http.Get(base + "/console/sign-in"); err != nil || res.StatusCode != 200 || res.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("console: %v %v", res, err)
	}
	if !strings.Contains(p.out.String(), "Member app   "+base+"/app/") {
		t.Fatalf("the banner does not give the member app's address:\n%s", p.out)
	}
	if st, v := call(t, "GET", base+"/v1/offers", p.keys["marketer"], nil); st != 200 || len(v["items"].([]any)) != 3 {
		t.Fatalf("demo catalog: %d %v", st, v)
	}
	st, m := call(t, "POST", base+"/v1/members/register", p.keys["pos"], map[string]any{
		"email": "newcomer@example.com", "name": "New Comer", "consent": map[string]bool{"email": true},
	})
	if st != 201 {
		t.Fatalf("register %d %v\n%s", st, m, p.out)
	}
	id := m["member_id"].(string)
	devMemberAppSignIn(t, p, base, "newcomer@example.com")
	accrue := func(tx string, cents int) {
		t.Helper()
		st, v := call(t, "POST", base+"/v1/transactions/accrue", p.keys["pos"], map[string]any{
			"transaction_id": tx, "member_id": id, "store_id": "s1", "channel": "store",
			"occurred_at": time.Now().UTC().Format(time.RFC3339), "total": map[string]any{"amount": cents, "currency": "EUR"},
		})
		if st != 201 {
			t.Fatalf("accrue %s: %d %v\n%s", tx, st, v, p.out)
		}
	}
	accrue("E2E-1", 2_500)
	checkOperations(t, env, ops)

	// The member token minted by the CLI is accepted by the running server.
	tokenCmd := exec.Command(binary, "token", "member", id)
	tokenCmd.Env = append(os.Environ(), env...)
	tok, err := tokenCmd.Output()
	if err != nil {
		t.Fatalf("token member: %v", err)
	}
	if st, v := call(t, "GET", base+"/v1/members/"+id, strings.TrimSpace(string(tok)), nil); st != 200 || v["balance"].(map[string]any)["available"].(float64) != 25 {
		t.Fatalf("member with own token: %d %v", st, v)
	}
	oldKey := p.keys["pos"]
	p.stop(t)

	// A second start reuses the state: the member, their points and their workflow are still there.
	p = startDev(t, env)
	if st, _ := call(t, "GET", base+"/v1/members/"+id, oldKey, nil); st != 401 {
		t.Fatalf("previous run's key still accepted: %d", st)
	}
	accrue("E2E-2", 1_000)
	st, v := call(t, "GET", base+"/v1/members/"+id, p.keys["support"], nil)
	if st != 200 || v["balance"].(map[string]any)["available"].(float64) != 35 {
		t.Fatalf("after restart: %d %v", st, v)
	}
	p.stop(t)
}

var devSignInLink = regexp.MustCompile(`link[=":]+(http://[^\s"]+/app/link\?token=ml_[A-Za-z0-9_-]+)`)
var devCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// devMemberAppSignIn asks the member app for a sign-in link as a member would, finds it in perkflow dev's log (no
// email provider is configured) and signs in with it: the newcomer's way into the member app.
func devMemberAppSignIn(t *testing.T, p *devProcess, base, email string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) (int, string) {
		res, err := hc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	post := func(u string, form url.Values) *http.Response {
		res, err := hc.PostForm(u, form)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	_, page := get(base + "/app/sign-in")
	csrf := devCSRF.FindStringSubmatch(page)
	if csrf == nil {
		t.Fatalf("member app sign-in page: %s", page)
	}
	if res := post(base+"/app/sign-in", url.Values{"csrf": {csrf[1]}, "email": {email}}); res.StatusCode != 200 {
		t.Fatalf("ask a sign-in link: %d", res.StatusCode)
	}
	var link []string
	for deadline := time.Now().Add(20 * time.Second); link == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		link = devSignInLink.FindStringSubmatch(p.out.String())
	}
	if link == nil {
		t.Fatalf("perkflow dev did not print the sign-in link:\n%s", p.out)
	}
	status, page := get(link[1])
	csrf = devCSRF.FindStringSubmatch(page)
	if status != 200 || csrf == nil {
		t.Fatalf("the sign-in link: %d", status)
	}
	u, _ := url.Parse(link[1])
	if res := post(base+"/app/link", url.Values{"csrf": {csrf[1]}, "token": {u.Query().Get("token")}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in with the link: %d", res.StatusCode)
	}
	if status, page := get(base + "/app/"); status != 200 || !strings.Contains(page, `id="available"`) {
		t.Fatalf("member app home: %d", status)
	}
}
