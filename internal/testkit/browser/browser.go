// Package browser drives Debian's Chromium, headless, from the browser tests of the console and the member app:
// one browser per test with a fresh profile, a tab per person (its own cookies), pages opened with their security
// headers checked, screenshots for a reviewer, and axe-core's WCAG 2 A/AA audit of a page.
package browser

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// AxeFile is axe-core's axe.min.js, put there by .ci/run (or a developer: npm pack axe-core; git-ignored).
var AxeFile = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata", "axe", "package", "axe.min.js")
}()

// ChromiumPath finds Chromium (PERKFLOW_CHROMIUM, else Debian's); without one the test is skipped, except on CI.
func ChromiumPath(t *testing.T) string {
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

// Start starts one headless Chromium for the test, with a fresh profile and a window of width×height; extra adds
// flags (a language, say). Nothing outside is reachable, so background networking is off.
func Start(t *testing.T, width, height int, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath(t)), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(width, height),
	}, extra...)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return browser
}

// Tab opens a tab in a browser context of its own (its own cookies: a person of their own), for three minutes at
// most.
func Tab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel() })
	return ctx
}

// Do runs steps, failing the test with what on an error.
func Do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Text is the trimmed text of the first element sel matches.
func Text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// Open navigates and returns the answer's status, checking that the page carries a Content-Security-Policy that
// starts with wantCSP and X-Frame-Options DENY.
func Open(t *testing.T, ctx context.Context, url, wantCSP string) int64 {
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

// Screenshot writes the whole page as dir/name.png and returns its absolute path.
func Screenshot(t *testing.T, ctx context.Context, dir, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	t.Logf("screenshot %s", abs)
	return abs
}

// CheckAccessibility runs axe-core on the page and fails on any WCAG 2 A or AA violation. Without axe-core at
// AxeFile the page is not checked, except on CI, where that fails the test.
func CheckAccessibility(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	src, err := os.ReadFile(AxeFile)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("axe-core not found at %s: .ci/run fetches it, and CI checks every page for accessibility", AxeFile)
		}
		t.Logf("axe-core not found at %s (npm pack axe-core): %s not checked for accessibility", AxeFile, page)
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
