package console_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/perkflow/perkflow/internal/testkit/itest"
)

// The console in a real browser: Debian's Chromium, headless, driven from Go over the DevTools protocol, against
// the real stack (Postgres, in-process Temporal, the worker, the API with the console beside it). Screenshots of the
// dashboard, the campaign builder and the member page, and the journeys' timings, are written to screenshotDir.

// screenshotDir is where the browser tests leave what a reviewer looks at (git-ignored).
const screenshotDir = "testdata/screenshots"

// axeFile is axe-core's axe.min.js, when .ci/run (or a developer: npm pack axe-core) put it there; the pages are
// then checked for accessibility violations.
const axeFile = "testdata/axe/package/axe.min.js"

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("PERKFLOW_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium at /usr/bin/chromium: .ci/run installs Debian's chromium")
	}
	t.Skip("no Chromium at /usr/bin/chromium (apt-get install chromium): the browser tests are skipped")
	return ""
}

// startBrowser starts one headless Chromium for the test, with a fresh profile.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return browser
}

// tab opens a tab in a browser context of its own (its own cookies: a person of their own).
func tab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel() })
	return ctx
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// open navigates and returns the answer's status, checking that every page carries the CSP and X-Frame-Options.
func open(t *testing.T, ctx context.Context, url string) int64 {
	t.Helper()
	res, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	h := map[string]string{}
	for k, v := range res.Headers {
		h[strings.ToLower(k)] = fmt.Sprint(v)
	}
	if !strings.HasPrefix(h["content-security-policy"], wantCSP) || h["x-frame-options"] != "DENY" {
		t.Errorf("%s: CSP %q, X-Frame-Options %q", url, h["content-security-policy"], h["x-frame-options"])
	}
	return res.Status
}

func signInBrowser(t *testing.T, ctx context.Context, base, key string) {
	t.Helper()
	open(t, ctx, base+"/console/sign-in")
	do(t, ctx, "sign in", chromedp.SendKeys(chromedp.CSS(`#api_key`), key), chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`header nav`)))
}

func screenshot(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(screenshotDir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	t.Logf("screenshot %s", abs)
	return abs
}

// checkAccessibility runs axe-core on the page, when it is at hand, and fails on any WCAG 2 A or AA violation.
func checkAccessibility(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	src, err := os.ReadFile(axeFile)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("axe-core not found at console/%s: .ci/run fetches it, and CI checks every page for accessibility", axeFile)
		}
		t.Logf("axe-core not found at console/%s (npm pack axe-core): %s not checked for accessibility", axeFile, page)
		return
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](string(src)+";true")); err != nil {
		t.Fatalf("inject axe-core: %v", err)
	}
	type violation struct {
		ID, Help string
		Nodes    []struct {
			Target []string `json:"target"`
		} `json:"nodes"`
	}
	type result struct {
		Violations []violation `json:"violations"`
		Passes     int         `json:"passes"`
	}
	res, err := chromedp.Run(ctx, chromedp.Evaluate[result](
		`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa"]}}).then(r => ({violations: r.violations, passes: r.passes.length}))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("run axe-core on %s: %v", page, err)
	}
	t.Logf("axe-core on %s: %d rules pass, %d violated", page, res.Passes, len(res.Violations))
	for _, v := range res.Violations {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, strings.Join(n.Target, " "))
		}
		t.Errorf("%s: accessibility violation %s (%s) at %s", page, v.ID, v.Help, strings.Join(where, "; "))
	}
}

type timing struct {
	name string
	took time.Duration
}

// TestConsoleInABrowser runs the journeys of the console in one Chromium, each person in a browser context of
// their own, against one stack.
func TestConsoleInABrowser(t *testing.T) {
	browser := startBrowser(t)
	cs := newConsoleStack(t, itest.Options{})
	var timings []timing
	journey := func(name string, f func(t *testing.T)) {
		start := time.Now()
		ok := t.Run(name, f)
		timings = append(timings, timing{name, time.Since(start)})
		if !ok {
			t.FailNow()
		}
	}
	grace := registerMember(t, cs, "grace@example.com")
	ada := registerMember(t, cs, "ada@example.net")
	adjust(t, cs, ada, 40) // ada has earned points, grace none: segments can tell them apart

	journey("marketer builds a multiplier campaign and a purchase earns it", func(t *testing.T) {
		marketerJourney(t, cs, tab(t, browser), grace)
	})
	journey("support finds a member by email and adjusts", func(t *testing.T) {
		supportJourney(t, cs, tab(t, browser), grace)
	})
	journey("admin makes and revokes an API key", func(t *testing.T) {
		adminJourney(t, cs, tab(t, browser))
	})
	journey("roles: marketer kept from admin pages, support from rules", func(t *testing.T) {
		rolesJourney(t, cs, tab(t, browser))
	})
	var b strings.Builder
	for _, tm := range timings {
		fmt.Fprintf(&b, "%-60s %s\n", tm.name, tm.took.Round(10*time.Millisecond))
	}
	t.Logf("journeys:\n%s", b.String())
	if err := os.WriteFile(filepath.Join(screenshotDir, "timings.txt"), []byte(b.String()), 0o644); err != nil {
		t.Error(err)
	}
}

func adjust(t *testing.T, cs *consoleStack, member string, points int64) {
	t.Helper()
	res := cs.Do("POST", "/v1/members/"+member+"/adjustments", cs.Keys["support"], map[string]any{
		"adjustment_id": "SEED-" + member, "points": points, "reason": "seed"}, "Prefer", "wait=20")
	if res.Status != http.StatusCreated {
		t.Fatalf("adjust: %d %s", res.Status, res.Body)
	}
}
